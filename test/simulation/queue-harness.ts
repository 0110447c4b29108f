/**
 * The simulator's queue mode: the scenario's world driven through the *real* orchestrator — its
 * keyed queue, de-duplication, wake-ups, active poll, resync and failure backoff — on the
 * ManualClock, instead of the step loop of `harness.ts` that calls `reconcile` itself (whose
 * golden transcripts stay as they are). Time moves only when the orchestrator is idle and every
 * effect has finished or waits on the clock, to the next sleeper or fault: no other instant
 * exists, so a lost wake-up shows as a stuck rollout or a queue violation (`queue-watch.ts`).
 */
import type { EffectRunner } from '../../src/runtime/effect-runner.js'
import { Orchestrator } from '../../src/runtime/orchestrator.js'
import type { OrchestratorOptions } from '../../src/runtime/orchestrator.js'
import { reconcile } from '../../src/runtime/reconciler.js'
import type { PassResult, ReconcilerDeps } from '../../src/runtime/reconciler.js'
import type { ScaleSetState } from '../../src/store/store.js'
import { AppError } from '../../src/errors.js'
import type { SimResult } from './harness.js'
import { applyFault, simDeps, simWorld } from './harness.js'
import { GateInvariant } from './gate-invariant.js'
import { Invariants } from './invariants.js'
import { TimelineInvariant } from './timeline-invariant.js'
import { HookInvariants } from './hook-invariants.js'
import { QueueWatch } from './queue-watch.js'
import type { Fault, Scenario } from './scenario.js'
import { Transcript } from './transcript.js'
import { timedFaults } from './scenario.js'

export type QueueResult = SimResult &
  Readonly<{
    /** Passes the orchestrator ran, those that failed, and those that answered several requests. */
    passes: number
    failedPasses: number
    collapsed: number
  }>

/** The orchestrator, with every enqueue (from outside or from itself) shown to the watch. */
class WatchedOrchestrator extends Orchestrator {
  constructor(
    readonly runtime: ReconcilerDeps,
    o: OrchestratorOptions,
    private readonly watch: QueueWatch,
  ) {
    super(runtime, o)
  }

  override enqueue(key: string, atMs: number = this.runtime.clock.nowMs()): void {
    this.watch.requested(key, atMs)
    super.enqueue(key, atMs)
  }
}

/** API writes wake the set at once (the API's notify); fabric-side changes wake nothing. */
const WAKES: ReadonlySet<Fault['kind']> = new Set([
  'publish',
  'cancel',
  'pause',
  'resume',
  'manualStart',
  'manualUpgrade',
  'scale',
  'approve',
  'protect',
  'disableAuto',
  'modelChange',
  'fixExtension',
])

const ACTIVE_POLL_MS = 1000

export async function runQueueScenario(s: Scenario): Promise<QueueResult> {
  const w = await simWorld(s)
  const { clock, store, fabric, simState, key } = w
  // Two slots where one set would only use one: a second pass of it would be a violation.
  const watch = new QueueWatch({ concurrency: 2, activePollMs: ACTIVE_POLL_MS })
  const inv = new Invariants(s)
  const timelines = new TimelineInvariant(inv.violations)
  const gateInv =
    s.gates && w.gates ? new GateInvariant(s.gates, w.gates, (m) => inv.violations.push(m)) : null
  const hookChecks = new HookInvariants(inv.violations)
  const transcript = new Transcript(s)
  const pending = timedFaults(s)

  // Passes wait for the faults of their instant to be applied (the orchestrator wakes in the
  // same turn as the clock moves), as the step loop applies them before its pass.
  let gate = openGate()
  let orchestrator = start()
  let steps = 0
  const maxSteps = s.maxSteps * 2
  const worstBatchMs = s.healthDeadlineMs + s.spec.rolling.pauseBetweenBatchesMs + 120_000
  let lastRevision = ''
  let changedAtMs = 0
  await applyDueFaults()
  for (; steps < maxSteps; steps++) {
    await quiet()
    if (inv.violations.length + watch.violations.length > 0) break
    const [latest] = await store.listRollouts(key, { limit: 1 })
    const active = latest?.status === 'RollingForward'
    if (!active && pending.length === 0) break // quiet: later platform retries are not this run's
    // A rollout unchanged for longer than a batch can take, with no fault to come, has stopped
    // (waiting for an approval, or stuck: `finish` tells which).
    const revision = `${latest?.id} ${latest?.revision}`
    if (revision !== lastRevision) [lastRevision, changedAtMs] = [revision, clock.nowMs()]
    // (One waiting for its maintenance window has not stopped: it wakes when the window opens.)
    const waiting = latest?.windowWait != null && latest.windowWait.untilMs !== null
    if (pending.length === 0 && clock.nowMs() - changedAtMs > worstBatchMs && !waiting) break
    const next = Math.min(clock.nextSleeperAtMs() ?? Infinity, pending[0]?.atMs ?? Infinity)
    if (next === Infinity) break // the resync always sleeps: this is a bug the watch reports
    gate = openGate()
    clock.advanceTo(next)
    await applyDueFaults()
  }
  await orchestrator.stop()

  const rollouts = await store.listRollouts(key, { limit: 1000 })
  inv.finish(rollouts, pending.length, steps >= maxSteps, clock.nowMs())
  const events = (await Promise.all(rollouts.map((r) => store.listEvents(r.id)))).flat()
  return {
    scenario: s,
    violations: [...inv.violations, ...watch.violations],
    transcript: transcript.lines,
    rollouts,
    events,
    steps,
    transitions: inv.transitions,
    passes: watch.passes,
    failedPasses: watch.failedPasses,
    collapsed: watch.collapsed,
  }

  /**
   * The faults due now, as the API, the fabric or the platform applies them; a crash last, once
   * the instant's faults are in (a running pass waits for them, and a crash waits for the pass).
   */
  async function applyDueFaults(): Promise<void> {
    let crashed: Extract<Fault, { kind: 'crash' }> | null = null
    while (pending.length > 0 && (pending[0] as (typeof pending)[number]).atMs <= clock.nowMs()) {
      const f = (pending.shift() as (typeof pending)[number]).fault
      transcript.fault(clock.nowMs(), f)
      if ((await applyFault(w, f)) === 'crash' && f.kind === 'crash') crashed = f
      else if (WAKES.has(f.kind)) orchestrator.enqueue(key)
      // Several failures in a row (1–7, from the seed): the backoff grows up to its cap.
      if (f.kind === 'storeFailure') store.failSaves = 1 + (s.seed % 7)
    }
    gate.open()
    if (crashed) orchestrator = await crash(crashed.afterPersist)
  }

  /** A runtime on the world: effects that wake its own orchestrator, passes that are checked. */
  function start(): WatchedOrchestrator {
    let self: WatchedOrchestrator | null = null
    const deps = simDeps(w, () => self?.enqueue(key))
    self = new WatchedOrchestrator(
      deps,
      {
        concurrency: 2,
        activePollMs: ACTIVE_POLL_MS,
        resyncMs: 30_000,
        listKeys: () => store.listScaleSetKeys(),
        pass: checkedPass,
      },
      watch,
    )
    self.start()
    return self
  }

  /**
   * One pass as the orchestrator runs it, with the simulator's checks around it: the set's
   * effects settle first (so the fleet the invariants saw is the one the pass sees) and after
   * (so the next pass and the invariants see their outcome), at the same virtual instant.
   */
  async function checkedPass(k: string, d: ReconcilerDeps): Promise<PassResult> {
    watch.started(k, clock.nowMs())
    await gate.applied
    let result: PassResult
    try {
      await settle(d.effects)
      const stateBefore = (await store.getScaleSet(k)) as ScaleSetState
      inv.notePause(stateBefore.pauseRequest ?? null)
      await inv.observeBefore(
        await fabric.listInstances(k),
        await store.listInstanceRecords(k),
        simState,
        w.cluster.durability,
        stateBefore,
      )
      result = await reconcile(k, d)
    } catch (err) {
      watch.failed(k, clock.nowMs())
      if (!(err instanceof AppError && err.retryable))
        inv.violations.push(`pass threw: ${String(err)}`)
      transcript.note(clock.nowMs(), `pass failed: ${(err as Error).message}`)
      throw err
    }
    await settle(d.effects)
    const after = await fabric.listInstances(k)
    const rollouts = await store.listRollouts(k, { limit: 1000 })
    await inv.check(
      clock.nowMs(),
      after,
      rollouts,
      (await store.getScaleSet(k)) as ScaleSetState,
      simState,
    )
    await timelines.check(clock.nowMs(), rollouts, (id) => store.listEvents(id))
    gateInv?.check(`t=${clock.nowMs()}ms`, rollouts)
    await hookChecks.check(clock.nowMs(), after, rollouts, (id) => store.listEvents(id))
    transcript.step(clock.nowMs(), after, rollouts)
    watch.succeeded(k, clock.nowMs(), result)
    return result
  }

  /** Lets the set's effects run until each has finished or waits on the clock (a backoff). */
  async function settle(effects: EffectRunner): Promise<void> {
    // The sim fabric and the memory store answer within one turn of the event loop: effects
    // still busy after a turn in which none finished are asleep on the clock.
    for (let turn = 0, busy = -1; turn < 1000; turn++) {
      const now = effects.busy(key)
      if (now === 0 || now === busy) return
      busy = now
      await new Promise((resolve) => setImmediate(resolve))
    }
    throw new Error('effects did not settle')
  }

  /** Runs the queue until nothing is due at this instant, effects included. */
  async function quiet(): Promise<void> {
    for (let round = 0; round < 1000; round++) {
      await orchestrator.idle()
      watch.idleAt(clock.nowMs())
      await settle(orchestrator.runtime.effects)
      if (!watch.dueBy(clock.nowMs())) return // no effect settled and asked for a pass
    }
    throw new Error('the orchestrator never went idle')
  }

  /**
   * The runtime dies with its memory (queue, in-flight effects, failures) and a new one starts
   * on the same store; `afterPersist`: it died right after its next save.
   */
  async function crash(afterPersist: boolean): Promise<WatchedOrchestrator> {
    await orchestrator.stop()
    watch.reset()
    if (afterPersist) {
      const dying = simDeps(w, () => undefined)
      dying.effects.close()
      await reconcile(key, dying).catch((err: unknown) => {
        if (!(err instanceof AppError && err.retryable)) throw err
      })
    }
    return start()
  }
}

/** What passes of an instant wait for: its faults applied. */
function openGate(): { applied: Promise<void>; open: () => void } {
  let open!: () => void
  const applied = new Promise<void>((resolve) => (open = resolve))
  return { applied, open }
}
