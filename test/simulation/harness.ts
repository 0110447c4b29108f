/**
 * The whole-orchestrator simulator (STYLE R9): the *real* reconciler and effect runner on a
 * ManualClock, the sim fabric and the memory store. Each step applies the faults that are due,
 * runs one pass, lets its effects settle, checks every invariant, and moves time to the next
 * interesting instant. A run is a pure function of its scenario: same seed, same transcript.
 */
import { frozenTiming } from '../../src/core/rollout/timing.js'
import { quarantineList, releaseOnSet } from '../../src/core/rollout/quarantine.js'
import { ManualClock } from '../../test-support/manual-clock.js'
import { scaleSetState } from '../../test-support/builders.js'
import { MemoryStore } from '../../src/store/memory/memory-store.js'
import { MemoryCatalog } from '../../src/runtime/catalog.js'
import { SimFabric } from '../../src/fabrics/sim/sim-fabric.js'
import { MemorySimState } from '../../src/fabrics/sim/sim-state.js'
import { EffectRunner } from '../../src/runtime/effect-runner.js'
import { reconcile, observe } from '../../src/runtime/reconciler.js'
import type { ReconcilerDeps } from '../../src/runtime/reconciler.js'
import { silentLogger } from '../../src/runtime/logger.js'
import { modelTarget, startRollout } from '../../src/core/rollout/start.js'
import { releaseByModel } from '../../src/core/rollout/recovery.js'
import type { Rollout, RolloutEvent } from '../../src/core/rollout/types.js'
import type { InstanceView } from '../../src/fabrics/types/fabric.js'
import type { ScaleSetState } from '../../src/store/store.js'
import { AppError } from '../../src/errors.js'
import type { Fault, Scenario } from './scenario.js'
import { timedFaults } from './scenario.js'
import { Invariants } from './invariants.js'
import { TimelineInvariant } from './timeline-invariant.js'
import { Transcript } from './transcript.js'
import { SimGates } from './sim-gates.js'
import { GateInvariant } from './gate-invariant.js'
import { simHookCaller } from './sim-hooks.js'
import { HookInvariants } from './hook-invariants.js'

export type SimResult = Readonly<{
  scenario: Scenario
  violations: readonly string[]
  transcript: readonly string[]
  rollouts: readonly Rollout[]
  /** Every event of those rollouts, for the per-instance timelines. */
  events: readonly RolloutEvent[]
  steps: number
  /** Attempt state changes the engine made (the benchmark's "instance transitions"). */
  transitions: number
}>

/** The memory store, whose next rollout writes can be made to fail (`storeFailure`). */
export class FlakyStore extends MemoryStore {
  /** How many of the next rollout writes fail. */
  failSaves = 0
  override async saveRollout(
    rollout: Rollout,
    expectedRevision: number,
    events: readonly RolloutEvent[] = [],
  ): Promise<void> {
    this.failIfInjected()
    return super.saveRollout(rollout, expectedRevision, events)
  }

  override async createRollout(rollout: Rollout, events: readonly RolloutEvent[] = []) {
    this.failIfInjected()
    return super.createRollout(rollout, events)
  }

  private failIfInjected(): void {
    if (this.failSaves === 0) return
    this.failSaves--
    throw new AppError('StoreUnavailable', 503, true, 'injected store write failure')
  }

  /** A user's rollout, as the API creates it: not one of the engine's writes that faults hit. */
  createUserRollout(rollout: Rollout): Promise<void> {
    return super.createRollout(rollout)
  }
}

/** What a pass saw, before it ran: for tests that compare the engine with a prediction. */
export type PassView = Readonly<{
  nowMs: number
  instances: readonly InstanceView[]
  records: Awaited<ReturnType<MemoryStore['listInstanceRecords']>>
  state: ScaleSetState
  active: Rollout | undefined
}>

/** What a simulation runs on: one scale set on the sim fabric, the memory store, a ManualClock. */
export type SimWorld = Readonly<{
  s: Scenario
  key: string
  clock: ManualClock
  store: FlakyStore
  catalog: MemoryCatalog
  simState: MemorySimState
  fabric: SimFabric
  /** The Service Fabric cluster the set names, if any: its node type's durability now. */
  cluster: { durability: string | null }
  /** Rollout ids, shared by the engine and the user's rollouts: `r1`, `r2`, … */
  nextId: () => string
  /** The health gates' source, when the scenario has gates (docs/controls.md § Health gates). */
  gates: SimGates | null
}>

/** The scenario's world at t=0: the initial image published and the scale set stored. */
export async function simWorld(s: Scenario): Promise<SimWorld> {
  const clock = new ManualClock(s.epochMs ?? 0)
  const store = new FlakyStore()
  const catalog = new MemoryCatalog()
  const simState = new MemorySimState()
  const fabric = new SimFabric({ nowMs: () => clock.nowMs(), state: simState, seed: s.seed })
  catalog.publish(s.spec.image, s.initial.version, s.initial.uri, s.spec.location, clock.nowMs())
  await store.putScaleSet(
    scaleSetState(s.spec, {
      fabricModel: s.model,
      ...(s.settings ? { upgradeSettings: s.settings } : {}),
      ...(s.hooks ? { lifecycleHooks: s.hooks.spec } : {}),
      ...(s.windows ? { maintenanceWindows: s.windows } : {}),
    }),
    null,
  )
  const cluster = { durability: s.spec.serviceFabricNodeType?.durability ?? null }
  let ids = 0
  const nextId = () => `r${++ids}`
  const gates = s.gates ? new SimGates(s.gates, () => clock.nowMs()) : null
  return { s, key: s.spec.key, clock, store, catalog, simState, fabric, cluster, nextId, gates }
}

/** The runtime's dependencies on the world, with an effect runner that calls `onSettled`. */
export function simDeps(w: SimWorld, onSettled: () => void): ReconcilerDeps {
  const { store, fabric, catalog, clock, s, cluster } = w
  return {
    store,
    fabric,
    catalog,
    clock,
    effects: new EffectRunner({
      fabric,
      store,
      catalog,
      clock,
      log: silentLogger,
      onSettled,
      retries: 2,
      ...(s.hooks ? { hooks: simHookCaller(s.hooks) } : {}),
    }),
    log: silentLogger,
    ids: w.nextId,
    timing: s.timing,
    healthDeadlineMs: s.healthDeadlineMs,
    ...(cluster.durability !== null
      ? { clusters: { durability: async () => cluster.durability } }
      : {}),
    ...(w.gates ? { gates: w.gates } : {}),
  }
}

export async function runScenario(
  s: Scenario,
  o: { beforePass?: (v: PassView) => void } = {},
): Promise<SimResult> {
  const world = await simWorld(s)
  const { clock, store, simState, fabric, key, cluster } = world

  let dirty = true
  const makeDeps = (live: boolean): ReconcilerDeps => {
    const deps = simDeps(world, () => {
      dirty = true
    })
    if (!live) deps.effects.close() // the process dies right after persisting its decision
    return deps
  }
  let deps = makeDeps(true)
  const inv = new Invariants(s)
  const timelines = new TimelineInvariant(inv.violations)
  const gateInv =
    s.gates && world.gates
      ? new GateInvariant(s.gates, world.gates, (m) => inv.violations.push(m))
      : null
  const hookChecks = new HookInvariants(inv.violations)
  const transcript = new Transcript(s)
  const pending = timedFaults(s)
  let steps = 0
  let crashNext: boolean | null = null
  let idleSteps = 0

  for (; steps < s.maxSteps; steps++) {
    const now = clock.nowMs()
    while (pending.length > 0 && (pending[0] as (typeof pending)[number]).atMs <= now) {
      const f = (pending.shift() as (typeof pending)[number]).fault
      transcript.fault(now, f)
      const outcome = await applyFault(world, f)
      if (outcome === 'crash') crashNext = f.kind === 'crash' && f.afterPersist
      dirty = true
    }
    // The set as this step found it, before any pass (a crash below may run one): what the
    // invariants judge this step's new rollouts and the pause against.
    const stepStart = (await store.getScaleSet(key)) as ScaleSetState
    inv.notePause(stepStart.pauseRequest ?? null)
    if (crashNext !== null) {
      // A crash: the old runtime is gone with its memory (in-flight effects, failures); a new
      // one starts on the same store. `afterPersist`: it died right after its next save.
      deps.effects.close()
      if (crashNext) await passOnce(makeDeps(false))
      deps = makeDeps(true)
      crashNext = null
    }
    const before = await fabric.listInstances(key)
    const records = await store.listInstanceRecords(key)
    const stateBefore = (await store.getScaleSet(key)) as ScaleSetState
    await inv.observeBefore(before, records, simState, cluster.durability, stepStart)
    if (o.beforePass) {
      const active = await store.getActiveRollout(key)
      o.beforePass({ nowMs: clock.nowMs(), instances: before, records, state: stateBefore, active })
    }
    const result = await passOnce(deps)
    await settle(deps)
    const after = await fabric.listInstances(key)
    const rollouts = await store.listRollouts(key, { limit: 1000 })
    const state = (await store.getScaleSet(key)) as ScaleSetState
    await inv.check(clock.nowMs(), after, rollouts, state, simState)
    await timelines.check(clock.nowMs(), rollouts, (id) => store.listEvents(id))
    gateInv?.check(`t=${clock.nowMs()}ms`, rollouts)
    await hookChecks.check(clock.nowMs(), after, rollouts, (id) => store.listEvents(id))
    transcript.step(clock.nowMs(), after, rollouts)
    if (inv.violations.length > 0) break

    const active = rollouts.some((r) => r.status === 'RollingForward')
    const settled = !dirty
    dirty = false
    if (!settled) continue // effects changed the world at this instant: look again before moving
    if (!active && pending.length === 0) break // quiet: later platform retries are not this run's
    const next = nextInstant(
      clock.nowMs(),
      result?.wakeAtMs ?? null,
      pending[0]?.atMs ?? null,
      after,
      clock.nextSleeperAtMs(),
      world.gates?.nextAtMs(clock.nowMs()) ?? null,
    )
    if (next === null) {
      if (!active && pending.length === 0) break
      idleSteps++
      if (idleSteps > 3) break
      clock.advanceBy(1000)
      continue
    }
    idleSteps = 0
    clock.advanceTo(next)
  }

  const rollouts = await store.listRollouts(key, { limit: 1000 })
  inv.finish(rollouts, pending.length, steps >= s.maxSteps, clock.nowMs())
  const events = (await Promise.all(rollouts.map((r) => store.listEvents(r.id)))).flat()
  return {
    scenario: s,
    violations: inv.violations,
    transcript: transcript.lines,
    rollouts,
    events,
    steps,
    transitions: inv.transitions,
  }

  /** Lets effects run until each has finished or sleeps on the clock (a retry backoff). */
  async function settle(d: ReconcilerDeps): Promise<void> {
    for (let turn = 0; turn < 10_000; turn++) {
      const busy = d.effects.busy(key)
      if (busy === 0 || clock.sleeperCount() >= busy) return
      await new Promise((resolve) => setImmediate(resolve))
    }
    throw new Error('effects did not settle')
  }

  async function passOnce(d: ReconcilerDeps): Promise<{ wakeAtMs: number | null } | null> {
    try {
      return await reconcile(key, d)
    } catch (err) {
      if (err instanceof AppError && err.retryable) {
        transcript.note(clock.nowMs(), `pass failed: ${err.message}`)
        inv.notePassFailed(clock.nowMs())
        return { wakeAtMs: clock.nowMs() + 1000 } // the orchestrator requeues a failed pass
      }
      throw err
    }
  }
}

/**
 * Applies one fault to the world as the API, the fabric or the platform would; says 'crash' for
 * a crash of the runtime, which the caller carries out.
 */
export async function applyFault(w: SimWorld, f: Fault): Promise<'crash' | void> {
  const { s, key, clock, store, catalog, fabric } = w
  const state = (await store.getScaleSet(key)) as ScaleSetState
  switch (f.kind) {
    case 'publish':
      catalog.publish(s.spec.image, f.version, f.uri, s.spec.location, clock.nowMs())
      return
    case 'unhealthy':
    case 'healthy':
      for (const id of f.ids)
        await fabric.setHealthOverride(key, id, f.kind === 'unhealthy' ? 'unhealthy' : null)
      return
    case 'stop':
    case 'start':
      for (const id of f.ids) await fabric.setStopped(key, id, f.kind === 'stop')
      return
    case 'cancel':
      if (await store.getActiveRollout(key)) {
        await store.putScaleSet({ ...state, cancelRequestedAtMs: clock.nowMs() }, state.revision)
      }
      return
    case 'pause': {
      const active = await store.getActiveRollout(key)
      if (active) {
        const pauseRequest = { rolloutId: active.id, atMs: clock.nowMs() }
        await store.putScaleSet({ ...state, pauseRequest }, state.revision)
      }
      return
    }
    case 'resume':
      if (state.pauseRequest)
        await store.putScaleSet({ ...state, pauseRequest: null }, state.revision)
      return
    case 'release': {
      const version = f.version ?? quarantineList(state)[0]?.version
      const released = version === undefined ? null : releaseOnSet(state, version)
      if (released) await store.putScaleSet(released, state.revision)
      return
    }
    case 'manualStart':
      return manualStart(w, state, f.rollback)
    case 'manualUpgrade':
      return manualUpgrade(w, state, f.ids)
    case 'scale':
      await store.putScaleSet(
        { ...state, spec: { ...state.spec, capacity: f.capacity } },
        state.revision,
      )
      return
    case 'approve':
    case 'protect': {
      const records = observe(await fabric.listInstances(key), await store.listInstanceRecords(key))
      const chosen = f.ids === null ? records : records.filter((r) => f.ids!.includes(r.instanceId))
      await store.putInstanceRecords(
        key,
        chosen
          .filter((r) => f.kind === 'protect' || r.osUpgradePending || f.ids !== null)
          .map((r) => ({
            instanceId: r.instanceId,
            protectFromScaleIn: r.protectFromScaleIn,
            protectFromScaleSetActions: f.kind === 'protect' ? true : r.protectFromScaleSetActions,
            osUpgradePending: r.osUpgradePending,
            osUpgradeApproved: f.kind === 'approve' ? true : r.osUpgradeApproved,
          })),
      )
      return
    }
    case 'disableAuto':
      await store.putScaleSet(
        {
          ...state,
          spec: { ...state.spec, automaticOS: { ...state.spec.automaticOS, enabled: false } },
        },
        state.revision,
      )
      return
    case 'modelChange':
    case 'fixExtension':
      await store.putScaleSet(
        changedModel(state, f.kind === 'fixExtension' ? f.name : null),
        state.revision,
      )
      return
    case 'crash':
      return 'crash'
    case 'storeFailure':
      store.failSaves = 1
      return
    case 'fabricFailure':
      fabric.failNext(f.verb, 1, `injected ${f.verb} failure`, f.retryable)
      return
    case 'clusterDurability':
      w.cluster.durability = f.level
      return
  }
}

async function manualStart(
  w: SimWorld,
  state: ScaleSetState,
  rollback: boolean | undefined,
): Promise<void> {
  const { s, key, clock, store, catalog } = w
  if (await store.getActiveRollout(key)) return // 409 OperationNotAllowed at the API
  const latest = await catalog.latestEligible(state.spec.image, state.spec.location)
  if (!latest) return
  const rollout = startRollout({
    id: w.nextId(),
    spec: state.spec,
    request: {
      kind: 'OSImage',
      startedBy: 'User',
      target: { imageVersion: latest.version, modelGeneration: state.spec.modelGeneration },
      pace: 'batched',
      scope: null,
      ...(rollback !== undefined ? { rollback } : {}),
    },
    // As the API freezes them (services/rollouts.ts): the set's upgrade settings over the default,
    // and its lifecycle hooks.
    ...frozenTiming(state.upgradeSettings, s.healthDeadlineMs),
    ...(state.lifecycleHooks ? { hooks: state.lifecycleHooks } : {}),
    rollForwardFrom: state.faultedVersions,
    nowMs: clock.nowMs(),
  })
  await store.createUserRollout(rollout)
}

/** POST manualupgrade of the named instances (null: all), as the API starts it (services/rollouts.ts). */
async function manualUpgrade(
  w: SimWorld,
  state: ScaleSetState,
  named: readonly string[] | null,
): Promise<void> {
  const { s, key, clock, store, fabric } = w
  if (await store.getActiveRollout(key)) return // 409 OperationNotAllowed at the API
  const all = (await fabric.listInstances(key)).map((v) => v.instanceId)
  const ids = named === null ? all : named.filter((id) => all.includes(id))
  if (ids.length === 0) return // 400 at the API: none of these instances exist
  const rollout = startRollout({
    id: w.nextId(),
    spec: state.spec,
    request: {
      kind: 'Model',
      startedBy: 'User',
      target: modelTarget(state.spec),
      pace: 'allAtOnce',
      scope: ids,
    },
    ...frozenTiming(state.upgradeSettings, s.healthDeadlineMs),
    nowMs: clock.nowMs(),
  })
  await store.createUserRollout(rollout)
}

/**
 * A model change as the API writes it: generation + 1, the named extension's settings changed
 * (if any), and the versions whose failed extension the new model changes released
 * (docs/rollouts.md R1.3).
 */
function changedModel(state: ScaleSetState, fixed: string | null): ScaleSetState {
  const generation = state.spec.modelGeneration + 1
  const extensions = state.fabricModel.extensions.map((e) =>
    e.name === fixed ? { ...e, settings: { ...e.settings, fix: generation } } : e,
  )
  return {
    ...state,
    ...releaseByModel(
      {
        faultedVersions: state.faultedVersions,
        lastPlatformRollout: state.lastPlatformRollout,
        faultCauses: state.faultCauses ?? [],
      },
      extensions,
    ),
    spec: { ...state.spec, modelGeneration: generation },
    fabricModel: { ...state.fabricModel, modelGeneration: generation, extensions },
  }
}

/**
 * The next instant worth a pass: a wake-up asked by the engine, a fault, a retry backoff, or an
 * instance finishing its boot (the only change the sim fabric makes by itself).
 */
function nextInstant(
  now: number,
  wakeAtMs: number | null,
  faultAtMs: number | null,
  views: readonly InstanceView[],
  sleeperAtMs: number | null,
  gateAtMs: number | null = null,
): number | null {
  const candidates: number[] = []
  if (gateAtMs !== null && gateAtMs > now) candidates.push(gateAtMs)
  if (wakeAtMs !== null && wakeAtMs > now) candidates.push(wakeAtMs)
  if (faultAtMs !== null && faultAtMs > now) candidates.push(faultAtMs)
  if (sleeperAtMs !== null && sleeperAtMs > now) candidates.push(sleeperAtMs)
  if (views.some((v) => v.power === 'starting')) candidates.push(now + 1000)
  return candidates.length === 0 ? null : Math.min(...candidates)
}
