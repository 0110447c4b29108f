/**
 * Waves across scale sets on the real runtime, deterministically (docs/rollouts.md § Waves across
 * scale sets). The whole-system simulator (harness.ts) drives one scale set per world, so this
 * file has its own small harness for several: five sets on the sim fabric, the memory store and
 * plans, a ManualClock, the real set reconciler and effect runner, and the real plan
 * reconciler, stepped one second at a time. After every step it checks the runtime's invariants
 * — the wave decision's own, no set rolls to a version before its stage released it, nothing
 * after a failed stage ever rolls to the failed version — and each canonical scenario writes a
 * golden transcript (`golden/<name>.log`): `waves-three-stages` (mid-rollout the runtime crashes,
 * its memory and effects in flight dropped, and restarts from the store), `waves-hook-skip` (W5:
 * a pre-reimage hook skips every instance of the canary) and `waves-bake-gate` (W4: the canary's
 * gate fails when asked again after the bake).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { fabricModel, scaleSetState, spec } from '../../test-support/builders.js'
import { ManualClock } from '../../test-support/manual-clock.js'
import { MemoryStore } from '../../src/store/memory/memory-store.js'
import { MemoryPlans } from '../../src/store/memory/memory-plans.js'
import { MemoryCatalog } from '../../src/runtime/catalog.js'
import { MemorySimState } from '../../src/fabrics/sim/sim-state.js'
import { SimFabric } from '../../src/fabrics/sim/sim-fabric.js'
import { EffectRunner } from '../../src/runtime/effect-runner.js'
import { reconcile } from '../../src/runtime/reconciler.js'
import type { ReconcilerDeps } from '../../src/runtime/reconciler.js'
import { planGateFor, reconcilePlan } from '../../src/runtime/wave-reconciler.js'
import type { WaveReconcilerDeps } from '../../src/runtime/wave-reconciler.js'
import { checkWaveInvariants, EMPTY_WAVE_STATE } from '../../src/core/waves/wave.js'
import type { WavePlanSpec } from '../../src/core/waves/wave.js'
import type { StoredPlan } from '../../src/store/plan-store.js'
import { compareVersions } from '../../src/core/image/version.js'
import type { ScaleSetState } from '../../src/store/store.js'
import type { HealthGate } from '../../src/core/gates/gates.js'
import { NO_DELAY } from './scenario.js'
import { simHookCaller } from './sim-hooks.js'
import type { SimHooks } from './sim-hooks.js'
import { SimBakeGates, SimGates } from './sim-gates.js'
import type { SimGatePlan } from './sim-gates.js'

const S = 1000
const SUB = '/subscriptions/00000000-0000-0000-0000-000000000001'
const setKey = (n: string) =>
  `${SUB}/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/${n}`
const PLAN_KEY = `${SUB}/providers/osroll.upgrades/rolloutplans/fleet`
const IMAGE = spec().image
const silent = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} } as never

const INSTALL = {
  name: 'install',
  publisher: 'Microsoft.Azure.Extensions',
  type: 'CustomScript',
  typeHandlerVersion: '2.1',
  settings: {},
  protectedSettings: {},
  provisionAfterExtensions: [],
  suppressFailures: false,
}

type Fault = { atMs: number; version: string; uri: string }

/** A canonical scenario of waves: the plan, what happens when, and what its sets carry. */
type WaveScenario = Readonly<{
  name: string
  plan: WavePlanSpec
  faults: readonly Fault[]
  steps: number
  /** The runtime crashes and restarts from the store at this instant. */
  crashAtMs?: number
  scaleOut?: { atMs: number; set: string; capacity: number }
  /** What a set's stored state carries beyond the defaults, by set name. */
  sets?: Readonly<Record<string, Partial<ScaleSetState>>>
  /** The lifecycle hooks' answers (sets with `lifecycleHooks` call them). */
  hooks?: SimHooks
  /** The health gates' verdicts during the sets' rollouts (docs/controls.md § Health gates). */
  gates?: SimGatePlan
  /** The verdicts of the gates asked again after a stage's bake (W4, gates included). */
  bakeGates?: Omit<SimGatePlan, 'instance' | 'cohort'>
}>

/** Stage 1: a; stage 2: b, c (c runs the extension 1.2.0 fails); stage 3: d, e. */
const THREE_STAGES: WaveScenario = {
  name: 'waves-three-stages',
  plan: {
    image: IMAGE,
    stages: [
      { name: 'canary', scaleSets: [setKey('a')], bakeMs: 5 * S },
      { name: 'early', scaleSets: [setKey('b'), setKey('c')], bakeMs: 3 * S },
      { name: 'late', scaleSets: [setKey('d'), setKey('e')], bakeMs: 0 },
    ],
  },
  faults: [
    { atMs: 10 * S, version: '1.1.0', uri: 'sim:?boot=1' },
    { atMs: 80 * S, version: '1.2.0', uri: 'sim:?boot=1&extfail=install' },
    { atMs: 150 * S, version: '1.3.0', uri: 'sim:?boot=1' },
  ],
  steps: 260,
  /** Mid-rollout: stage 2's sets of 1.3.0 started their rollouts at 157 s. */
  crashAtMs: 158 * S,
  /** Set d (stage 3, released 1.1.0) scales out while 1.3.0 is in stage 1: its new instance is 1.1.0. */
  scaleOut: { atMs: 152 * S, set: 'd', capacity: 3 },
  sets: { c: { fabricModel: fabricModel({ scaleSetKey: setKey('c'), extensions: [INSTALL] }) } },
}

/** Two stages: canary a, then b; 1.1.0 comes at 10 s. */
const TWO_STAGES: WavePlanSpec = {
  image: IMAGE,
  stages: [
    { name: 'canary', scaleSets: [setKey('a')], bakeMs: 5 * S },
    { name: 'rest', scaleSets: [setKey('b')], bakeMs: 0 },
  ],
}
const PUBLISH_1_1: readonly Fault[] = [{ atMs: 10 * S, version: '1.1.0', uri: 'sim:?boot=1' }]

/** W5: a's pre-reimage hook answers skip for every instance; its rollout ends with both behind. */
const HOOK_SKIP: WaveScenario = {
  name: 'waves-hook-skip',
  plan: TWO_STAGES,
  faults: PUBLISH_1_1,
  steps: 60,
  sets: {
    a: {
      lifecycleHooks: {
        preReimage: { url: 'http://hooks.sim/pre', timeoutMs: 5 * S, defaultAction: 'continue' },
      },
    },
  },
  hooks: { spec: {}, weights: { skip: 1 }, seed: 1 },
}

/** A per-instance gate of set a (the simulator's gate sources answer in its place). */
const LATENCY: HealthGate = {
  name: 'latency',
  kind: 'prometheus',
  serverUrl: 'http://prometheus.sim',
  query: 'latency{instance="{{instance}}"}',
  comparison: '<=',
  threshold: 0.25,
  timeoutMs: 30 * S,
  intervalMs: 2 * S,
}

/** W4: a's gate passes during its rollout of 1.1.0, then fails when asked after the bake. */
const BAKE_GATE: WaveScenario = {
  name: 'waves-bake-gate',
  plan: TWO_STAGES,
  faults: PUBLISH_1_1,
  steps: 60,
  sets: { a: { healthGates: [LATENCY] } },
  gates: { instance: true, cohort: false, intervalMs: 2 * S, timeoutMs: 30 * S, outcomes: {} },
  bakeGates: { intervalMs: 2 * S, timeoutMs: 30 * S, outcomes: { '1.1.0': 'fail' } },
}

/** The transcript checked against `golden/<name>.log` (written only with UPDATE_GOLDEN=1). */
function expectGolden(name: string, run: Run): void {
  const golden = new URL(`./golden/${name}.log`, import.meta.url)
  const text = run.lines.join('\n') + '\n'
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(golden, text)
  expect(existsSync(golden), `golden/${name}.log is missing (UPDATE_GOLDEN=1)`).toBe(true)
  expect(text).toBe(readFileSync(golden, 'utf8'))
}

describe('waves on the runtime (own deterministic harness: the simulator is single-set)', () => {
  it('three stages over five sets: ordered, a stage-2 fault stops it, a newer version goes through', async () => {
    const run = await runWaves(THREE_STAGES)
    expect(run.violations).toEqual([])
    expectGolden(THREE_STAGES.name, run)
    const plan = run.plan
    expect(plan.state.wave).toMatchObject({ version: '1.3.0', phase: 'Succeeded' })
    expect(plan.state.history[0]).toMatchObject({
      version: '1.2.0',
      phase: 'Failed',
      reason: { code: 'ScaleSetRolloutFaulted', scaleSet: setKey('c'), stage: 1 },
    })
    for (const n of ['d', 'e']) expect(run.targets.get(setKey(n))).not.toContain('1.2.0')
  }, 60_000)

  it('W5: a canary whose pre-reimage hook skips every instance fails the wave; stage 2 never starts', async () => {
    const run = await runWaves(HOOK_SKIP)
    expect(run.violations).toEqual([])
    expectGolden(HOOK_SKIP.name, run)
    expect(run.plan.state.wave).toMatchObject({
      version: '1.1.0',
      phase: 'Failed',
      reason: { code: 'ScaleSetInstancesSkipped', scaleSet: setKey('a'), stage: 0 },
    })
    expect(run.plan.state.wave?.stages[1]?.phase).toBe('Pending')
    expect(run.targets.get(setKey('a'))).toEqual(['1.1.0'])
    expect(run.targets.get(setKey('b'))).toEqual([])
    expect(run.versions.get(setKey('a'))).toEqual(['1.0.0', '1.0.0'])
  }, 60_000)

  it('W4: a canary whose gate fails when asked after the bake fails the wave; stage 2 never starts', async () => {
    const run = await runWaves(BAKE_GATE)
    expect(run.violations).toEqual([])
    expectGolden(BAKE_GATE.name, run)
    expect(run.plan.state.wave).toMatchObject({
      version: '1.1.0',
      phase: 'Failed',
      reason: { code: 'ScaleSetGateFailed', scaleSet: setKey('a'), stage: 0 },
    })
    expect(run.plan.state.wave?.stages[1]?.phase).toBe('Pending')
    expect(run.targets.get(setKey('b'))).toEqual([])
    // Its rollout passed (its gate passed during it); the failure came once the bake had passed.
    expect(run.lastStatus.get(setKey('a'))).toBe('Completed')
    expect(run.versions.get(setKey('a'))).toEqual(['1.1.0', '1.1.0'])
    const canary = run.plan.state.wave?.stages[0]
    const failedAt = run.plan.state.wave?.endedAtMs ?? 0
    expect(failedAt).toBeGreaterThanOrEqual((canary?.bakeStartedAtMs ?? Infinity) + 5 * S)
  }, 60_000)
})

type Run = {
  violations: string[]
  lines: string[]
  plan: StoredPlan
  targets: Map<string, string[]>
  /** Each set's instances' versions at the end. */
  versions: Map<string, string[]>
  /** Each set's last rollout's status at the end (null: none). */
  lastStatus: Map<string, string | null>
}

async function runWaves(sc: WaveScenario): Promise<Run> {
  const PLAN = sc.plan
  const clock = new ManualClock(0)
  const store = new MemoryStore()
  const plans = new MemoryPlans()
  const catalog = new MemoryCatalog()
  const simState = new MemorySimState()
  const fabric = new SimFabric({ nowMs: () => clock.nowMs(), state: simState, seed: 7 })
  catalog.publish(IMAGE, '1.0.0', 'sim:?boot=1', 'westus', 0)
  const keys = PLAN.stages.flatMap((s) => s.scaleSets)
  for (const key of keys) {
    const name = key.split('/').pop() as string
    const s = spec({ key, name, capacity: 2, mode: 'Automatic' })
    const model = fabricModel({ scaleSetKey: key })
    await store.putScaleSet(
      scaleSetState(s, { fabricModel: model, ...(sc.sets?.[name] ?? {}) }),
      null,
    )
  }
  await plans.putPlan(
    {
      key: PLAN_KEY,
      id: PLAN_KEY,
      name: 'fleet',
      subscriptionId: SUB.split('/')[2] as string,
      spec: PLAN,
      controls: { paused: false, cancelRequested: null },
      state: EMPTY_WAVE_STATE,
      createdAtMs: 0,
      updatedAtMs: 0,
      revision: 0,
    },
    null,
  )
  let ids = 0
  const gates = sc.gates ? new SimGates(sc.gates, () => clock.nowMs()) : null
  const bakeGates = sc.bakeGates ? new SimBakeGates(sc.bakeGates, () => clock.nowMs()) : null
  const makeDeps = (): { set: ReconcilerDeps; wave: WaveReconcilerDeps } => {
    const effects = new EffectRunner({
      fabric,
      store,
      catalog,
      clock,
      log: silent,
      onSettled: () => {},
      retries: 2,
      ...(sc.hooks ? { hooks: simHookCaller(sc.hooks) } : {}),
    })
    return {
      set: {
        store,
        fabric,
        catalog,
        clock,
        effects,
        log: silent,
        ids: () => `r${++ids}`,
        timing: NO_DELAY,
        healthDeadlineMs: 30 * S,
        plans: { gateFor: (k) => planGateFor(plans, k) },
        ...(gates ? { gates } : {}),
      },
      wave: {
        plans,
        store,
        fabric,
        catalog,
        clock,
        log: silent,
        notify: () => {},
        ...(bakeGates ? { gates: bakeGates } : {}),
      },
    }
  }
  let deps = makeDeps()
  const violations: string[] = []
  const lines: string[] = []
  const targets = new Map<string, string[]>(keys.map((k) => [k, []]))
  const seenRollouts = new Set<string>()
  const failed = new Map<string, number>() // version → failed stage
  let lastEventCount = 0
  const faults = [...sc.faults]
  const SCALE_OUT = sc.scaleOut
  for (let step = 0; step < sc.steps; step++) {
    const nowMs = clock.nowMs()
    while (faults.length > 0 && (faults[0]?.atMs ?? Infinity) <= nowMs) {
      const f = faults.shift() as Fault
      catalog.publish(IMAGE, f.version, f.uri, 'westus', nowMs)
      lines.push(`t=${nowMs / S}s ! publish ${f.version} ${f.uri}`)
    }
    if (SCALE_OUT && nowMs === SCALE_OUT.atMs) {
      const st = (await store.getScaleSet(setKey(SCALE_OUT.set)))!
      await store.putScaleSet(
        { ...st, spec: { ...st.spec, capacity: SCALE_OUT.capacity } },
        st.revision,
      )
      lines.push(`t=${nowMs / S}s ! scale ${SCALE_OUT.set} out to ${SCALE_OUT.capacity}`)
    }
    if (nowMs === sc.crashAtMs) {
      deps.set.effects.close() // the process dies: its memory and effects in flight are lost
      deps = makeDeps()
      lines.push(`t=${nowMs / S}s ! crash and restart`)
    }
    await reconcilePlan(PLAN_KEY, deps.wave)
    for (const key of keys) await reconcile(key, deps.set)
    await settle(deps.set, keys, clock)
    await reconcilePlan(PLAN_KEY, deps.wave)
    const plan = (await plans.getPlan(PLAN_KEY)) as StoredPlan
    try {
      checkWaveInvariants(plan.spec, plan.state)
    } catch (err) {
      violations.push(`t=${nowMs}: ${(err as Error).message}`)
    }
    if (plan.state.wave?.phase === 'Failed')
      failed.set(plan.state.wave.version, plan.state.wave.stage)
    // Wave notes, as the transcript's lines (new ones since the last step).
    const all = (
      await Promise.all(
        [
          ...new Set([...plan.state.history.map((h) => h.version), plan.state.wave?.version ?? '']),
        ].map((v) => store.listEvents(`${PLAN_KEY}/waves/${v}`)),
      )
    ).flat()
    if (all.length !== lastEventCount) {
      const fresh = all.sort((x, y) => x.atMs - y.atMs).slice(lastEventCount)
      for (const e of fresh)
        lines.push(
          `t=${e.atMs / S}s   ${e.rolloutId.split('/').pop()} ${e.from} ${e.to}: ${e.reason}`,
        )
      lastEventCount = all.length
    }
    // W3 for instances: no instance of a set runs a version above the one released to it (a
    // scale-out builds from the release, not from the latest); before any release, 1.0.0.
    for (const key of keys)
      for (const i of await fabric.listInstances(key)) {
        const cap = plan.state.released[key]?.version ?? '1.0.0'
        if (compareVersions(i.osImageVersion, cap) > 0)
          violations.push(
            `t=${nowMs}: ${key.split('/').pop()} instance ${i.instanceId} runs ${i.osImageVersion} above its release ${cap}`,
          )
      }
    // Runtime invariants: every rollout of a set targets a version released to it before it started.
    for (const [si, stage] of plan.spec.stages.entries())
      for (const key of stage.scaleSets)
        for (const r of await store.listRollouts(key, { limit: 100 })) {
          if (seenRollouts.has(r.id)) continue
          seenRollouts.add(r.id)
          const v = r.target.imageVersion as string
          ;(targets.get(key) as string[]).push(v)
          const name = key.split('/').pop()
          lines.push(
            `t=${r.startedAtMs / S}s   set ${name} (stage ${si}) starts ${r.kind} rollout ${r.id} to ${v}`,
          )
          if (r.kind !== 'OSImage') continue
          const wave = plan.state.wave?.version === v ? plan.state.wave : null
          const startedAt = wave?.stages[si]?.startedAtMs ?? null
          if (v !== '1.0.0' && (startedAt === null || r.startedAtMs < startedAt))
            violations.push(`t=${nowMs}: ${name} rolled to ${v} before stage ${si} released it`)
          const failedStage = failed.get(v)
          if (failedStage !== undefined && si > failedStage)
            violations.push(`t=${nowMs}: ${name} rolled to ${v} after stage ${failedStage} failed`)
        }
    clock.advanceTo(nowMs + S)
  }
  const versions = new Map<string, string[]>()
  const lastStatus = new Map<string, string | null>()
  for (const key of keys) {
    const [last] = await store.listRollouts(key, { limit: 1 })
    lastStatus.set(key, last?.status ?? null)
    const vs = (await fabric.listInstances(key)).map((i) => i.osImageVersion)
    versions.set(key, vs)
    lines.push(`end ${key.split('/').pop()}: ${[...new Set(vs)].join(',')} (${vs.length})`)
  }
  const plan = (await plans.getPlan(PLAN_KEY)) as StoredPlan
  return { violations, lines, plan, targets, versions, lastStatus }
}

/** Lets effects run until each has finished or sleeps on the clock (as harness.ts does). */
async function settle(
  d: ReconcilerDeps,
  keys: readonly string[],
  clock: ManualClock,
): Promise<void> {
  for (let turn = 0; turn < 10_000; turn++) {
    const busy = keys.reduce((n, k) => n + d.effects.busy(k), 0)
    if (busy === 0 || clock.sleeperCount() >= busy) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error('effects did not settle')
}
