/**
 * Waves across scale sets on the real runtime, deterministically (docs/rollouts.md § Waves across
 * scale sets). The whole-system simulator (harness.ts) drives one scale set per world, so this
 * file has its own small harness for several: five sets on the sim fabric, the memory store and
 * plans, a ManualClock, the real set reconciler and effect runner, and the real plan
 * reconciler, stepped one second at a time. After every step it checks the runtime's invariants
 * — the wave decision's own, no set rolls to a version before its stage released it, nothing
 * after a failed stage ever rolls to the failed version — and the run writes a golden
 * transcript (`golden/waves-three-stages.log`). Mid-rollout the runtime crashes (its memory
 * and effects in flight dropped) and restarts from the store.
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
import { NO_DELAY } from './scenario.js'

const S = 1000
const SUB = '/subscriptions/00000000-0000-0000-0000-000000000001'
const setKey = (n: string) =>
  `${SUB}/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/${n}`
const PLAN_KEY = `${SUB}/providers/osroll.upgrades/rolloutplans/fleet`
const IMAGE = spec().image
const GOLDEN = new URL('./golden/waves-three-stages.log', import.meta.url)
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

/** Stage 1: a; stage 2: b, c (c runs the extension 1.2.0 fails); stage 3: d, e. */
const PLAN: WavePlanSpec = {
  image: IMAGE,
  stages: [
    { name: 'canary', scaleSets: [setKey('a')], bakeMs: 5 * S },
    { name: 'early', scaleSets: [setKey('b'), setKey('c')], bakeMs: 3 * S },
    { name: 'late', scaleSets: [setKey('d'), setKey('e')], bakeMs: 0 },
  ],
}
const FAULTS: readonly { atMs: number; version: string; uri: string }[] = [
  { atMs: 10 * S, version: '1.1.0', uri: 'sim:?boot=1' },
  { atMs: 80 * S, version: '1.2.0', uri: 'sim:?boot=1&extfail=install' },
  { atMs: 150 * S, version: '1.3.0', uri: 'sim:?boot=1' },
]
/** Mid-rollout: stage 2's sets of 1.3.0 started their rollouts at 157 s. */
const CRASH_AT_MS = 158 * S
/** Set d (stage 3, released 1.1.0) scales out while 1.3.0 is in stage 1: its new instance is 1.1.0. */
const SCALE_OUT = { atMs: 152 * S, set: 'd', capacity: 3 }

describe('waves on the runtime (own deterministic harness: the simulator is single-set)', () => {
  it('three stages over five sets: ordered, a stage-2 fault stops it, a newer version goes through', async () => {
    const run = await runWaves()
    expect(run.violations).toEqual([])
    const text = run.lines.join('\n') + '\n'
    if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(GOLDEN, text)
    expect(existsSync(GOLDEN), 'golden/waves-three-stages.log is missing (UPDATE_GOLDEN=1)').toBe(
      true,
    )
    expect(text).toBe(readFileSync(GOLDEN, 'utf8'))
    const plan = run.plan
    expect(plan.state.wave).toMatchObject({ version: '1.3.0', phase: 'Succeeded' })
    expect(plan.state.history[0]).toMatchObject({
      version: '1.2.0',
      phase: 'Failed',
      reason: { code: 'ScaleSetRolloutFaulted', scaleSet: setKey('c'), stage: 1 },
    })
    for (const n of ['d', 'e']) expect(run.targets.get(setKey(n))).not.toContain('1.2.0')
  }, 60_000)
})

type Run = {
  violations: string[]
  lines: string[]
  plan: StoredPlan
  targets: Map<string, string[]>
}

async function runWaves(): Promise<Run> {
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
    const model = fabricModel({
      scaleSetKey: key,
      ...(name === 'c' ? { extensions: [INSTALL] } : {}),
    })
    await store.putScaleSet(scaleSetState(s, { fabricModel: model }), null)
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
  const makeDeps = (): { set: ReconcilerDeps; wave: WaveReconcilerDeps } => {
    const effects = new EffectRunner({
      fabric,
      store,
      catalog,
      clock,
      log: silent,
      onSettled: () => {},
      retries: 2,
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
      },
      wave: { plans, store, fabric, catalog, clock, log: silent, notify: () => {} },
    }
  }
  let deps = makeDeps()
  const violations: string[] = []
  const lines: string[] = []
  const targets = new Map<string, string[]>(keys.map((k) => [k, []]))
  const seenRollouts = new Set<string>()
  const failed = new Map<string, number>() // version → failed stage
  let lastEventCount = 0
  const faults = [...FAULTS]
  for (let step = 0; step < 260; step++) {
    const nowMs = clock.nowMs()
    while (faults.length > 0 && (faults[0]?.atMs ?? Infinity) <= nowMs) {
      const f = faults.shift() as (typeof FAULTS)[number]
      catalog.publish(IMAGE, f.version, f.uri, 'westus', nowMs)
      lines.push(`t=${nowMs / S}s ! publish ${f.version} ${f.uri}`)
    }
    if (nowMs === SCALE_OUT.atMs) {
      const st = (await store.getScaleSet(setKey(SCALE_OUT.set)))!
      await store.putScaleSet(
        { ...st, spec: { ...st.spec, capacity: SCALE_OUT.capacity } },
        st.revision,
      )
      lines.push(`t=${nowMs / S}s ! scale ${SCALE_OUT.set} out to ${SCALE_OUT.capacity}`)
    }
    if (nowMs === CRASH_AT_MS) {
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
  for (const key of keys) {
    const versions = (await fabric.listInstances(key)).map((i) => i.osImageVersion)
    lines.push(
      `end ${key.split('/').pop()}: ${[...new Set(versions)].join(',')} (${versions.length})`,
    )
  }
  return { violations, lines, plan: (await plans.getPlan(PLAN_KEY)) as StoredPlan, targets }
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
