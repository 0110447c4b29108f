/**
 * Per-instance timelines of a rollout (docs/rollouts.md § Per-instance timeline): its recorded
 * events turned into each instance's steps in time order, the phases between them (the bars of a
 * Gantt chart) and the batches with their start and end. Derived only from the rollout and its
 * events, so it is there for as long as the history keeps the rollout.
 */
import type { Attempt, AttemptState, HookRecord, Rollout, RolloutEvent } from './types.js'
import { TERMINAL_ATTEMPT_STATES } from './types.js'

export type TimelineStepName =
  | 'upgradePending' // deferral: tagged Platform.PendingOSUpgrade (a scheduled event)
  | 'approved' // deferral: the pending upgrade approved (API, the guest, or NotBefore)
  | 'requested' // the batch started: reimage, in-place update or surge asked for
  | 'diskSwapped' // the fabric's reimage returned: the new OS disk is in place
  | 'modelApplied' // the fabric's in-place update returned
  | 'booted' // running on the new disk (the fabric's boot time)
  | 'firstHealthy' // first healthy answer on the new disk
  | 'succeeded' // counted upgraded (after minHealthyTime, if the rollout has one)
  | 'failed' // with its reason (HealthDeadlineExceeded, UnstableHealth, …)
  | 'rollbackRequested' // the previous OS disk is being restored
  | 'previousDiskSwapped' // the fabric's restore returned
  | 'rolledBack'
  | 'rollbackFailed'
  | 'released' // the kept previous OS disk released
  | 'removed' // the instance was deleted while in the batch
  | 'hookAnswered' // a lifecycle hook answered (or its default applied): `hook` says which, how
  | 'skipped' // the pre-reimage hook said skip (or a cancel came first): left on its version

export type TimelineStep = Readonly<{
  step: TimelineStepName
  atMs: number
  /** The event's reason code, e.g. `Batch2`, `HealthDeadlineExceeded`, `ApprovedByGuest`. */
  reason: string
  /**
   * `hookAnswered` and `approved`: the hook's answer (docs/rollouts.md § Lifecycle hooks). A
   * deferral's approval is the pre-reimage hook answered by the guest, a request or NotBefore.
   */
  hook?: HookRecord
}>

/** A bar between two steps; `endMs` null while it lasts. */
export type TimelinePhase = Readonly<{
  phase:
    'preReimageHook' | 'applying' | 'booting' | 'waitingHealth' | 'minHealthyTime' | 'rollingBack'
  startMs: number
  endMs: number | null
}>

export type InstanceTimeline = Readonly<{
  instanceId: string
  batch: number
  zone: string | null
  updateDomain: number | null
  method: Attempt['method']
  /** The attempt's state now; `outcome` is the same once it is terminal, else null. */
  state: AttemptState
  outcome: AttemptState | null
  steps: readonly TimelineStep[]
  phases: readonly TimelinePhase[]
  /** From `requested` to each step, null where it was not reached. */
  durationsMs: Readonly<{
    toDiskSwapped: number | null
    toBooted: number | null
    toHealthy: number | null
    toOutcome: number | null
  }>
}>

export type BatchTimeline = Readonly<{
  batch: number
  instanceIds: readonly string[]
  startedAtMs: number
  /** When its last attempt ended; null while one is open. */
  endedAtMs: number | null
}>

export type RolloutTimeline = Readonly<{
  rolloutId: string
  status: Rollout['status']
  startedAtMs: number
  endedAtMs: number | null
  batches: readonly BatchTimeline[]
  instances: readonly InstanceTimeline[]
  /** The rollout's own steps: paused, resumed, ended (from, to, reason). */
  rolloutSteps: readonly Readonly<{ atMs: number; from: string; to: string; reason: string }>[]
}>

/** Where an instance sits in the set, when known (the fabric or the plan says). */
export type Placement = Readonly<{ zone: string | null; updateDomain: number }>

/**
 * Builds the timelines of `r` from its events (in the order the store gave them).
 * @example events Pending→Reimaging (Batch1) at 0, Reimaging→Reimaging DiskSwapped at 1 000,
 *   Reimaging→WaitingHealth bootedAtMs 4 000 at 5 000, WaitingHealth→Succeeded at 9 000 →
 *   steps requested 0, diskSwapped 1 000, booted 4 000, firstHealthy 9 000, succeeded 9 000;
 *   durationsMs { toDiskSwapped 1 000, toBooted 4 000, toHealthy 9 000, toOutcome 9 000 }
 */
export function rolloutTimeline(
  r: Rollout,
  events: readonly RolloutEvent[],
  placement: (instanceId: string) => Placement | undefined = () => undefined,
): RolloutTimeline {
  const byInstance = new Map<string, RolloutEvent[]>()
  const rolloutSteps: RolloutTimeline['rolloutSteps'][number][] = []
  for (const e of events) {
    if (e.rolloutId !== r.id) continue
    if (e.instanceId === null) {
      rolloutSteps.push({ atMs: e.atMs, from: e.from, to: e.to, reason: e.reason })
      continue
    }
    const list = byInstance.get(e.instanceId) ?? []
    list.push(e)
    byInstance.set(e.instanceId, list)
  }
  const instances = r.attempts.map((a) =>
    instanceTimeline(a, byInstance.get(a.instanceId) ?? [], placement(a.instanceId)),
  )
  return {
    rolloutId: r.id,
    status: r.status,
    startedAtMs: r.startedAtMs,
    endedAtMs: r.endedAtMs,
    batches: batchesOf(r.attempts),
    instances,
    rolloutSteps,
  }
}

/** One instance's steps, phases and durations from its events. */
export function instanceTimeline(
  a: Attempt,
  events: readonly RolloutEvent[],
  where?: Placement,
): InstanceTimeline {
  const steps: TimelineStep[] = []
  for (const e of events) steps.push(...stepsOf(e, steps))
  causal(steps)
  // Stable: steps recorded at one instant keep their recorded (causal) order.
  steps.sort((x, y) => x.atMs - y.atMs)
  const first = (name: TimelineStepName) => steps.find((s) => s.step === name)?.atMs ?? null
  const requested = first('requested')
  const since = (t: number | null) => (t === null || requested === null ? null : t - requested)
  const outcome = TERMINAL_ATTEMPT_STATES.has(a.state) ? a.state : null
  const outcomeAt = outcome === null ? null : (lastOutcomeStep(steps)?.atMs ?? null)
  return {
    instanceId: a.instanceId,
    batch: a.batch,
    zone: where?.zone ?? null,
    updateDomain: where?.updateDomain ?? null,
    method: a.method,
    state: a.state,
    outcome,
    steps,
    phases: phasesOf(steps),
    durationsMs: {
      toDiskSwapped: since(first('diskSwapped') ?? first('modelApplied')),
      toBooted: since(first('booted')),
      toHealthy: since(first('firstHealthy')),
      toOutcome: since(outcomeAt),
    },
  }
}

/** The step an attempt's outcome state is recorded as. */
export const OUTCOME_STEPS: Readonly<Record<string, TimelineStepName>> = {
  Succeeded: 'succeeded',
  Failed: 'failed',
  RolledBack: 'rolledBack',
  RollbackFailed: 'rollbackFailed',
  Removed: 'removed',
  Skipped: 'skipped',
}

/** The last step that records an outcome (what a terminal attempt's timeline ends with). */
export function lastOutcomeStep(steps: readonly TimelineStep[]): TimelineStep | undefined {
  const outcomes = new Set(Object.values(OUTCOME_STEPS))
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i] as TimelineStep
    if (outcomes.has(s.step)) return s
  }
  return undefined
}

/**
 * The steps one event records: a state change may be two (a health deadline that fails a
 * reimaged instance under rollback is `failed` and `rollbackRequested` at once).
 */
function stepsOf(e: RolloutEvent, before: readonly TimelineStep[]): TimelineStep[] {
  const at = (step: TimelineStepName, atMs = e.atMs): TimelineStep => ({
    step,
    atMs,
    reason: e.reason,
  })
  const answered: TimelineStep[] = e.hook ? [{ ...at('hookAnswered'), hook: e.hook }] : []
  if (e.from === e.to) return [...answered, ...noteStep(e, at)]
  return [...answered, ...changeSteps(e, before, at)]
}

function changeSteps(
  e: RolloutEvent,
  before: readonly TimelineStep[],
  at: (step: TimelineStepName, atMs?: number) => TimelineStep,
): TimelineStep[] {
  switch (e.to) {
    case 'PreReimage':
      return [at('requested')]
    case 'PostHealthy':
      return before.some((s) => s.step === 'firstHealthy') ? [] : [at('firstHealthy')]
    case 'Skipped':
      return [at('skipped')]
    case 'Reimaging':
    case 'Updating':
    case 'Surging':
      // After the pre-reimage hook's continue, its hookAnswered step is the request.
      return e.from === 'PreReimage' ? [] : [at('requested')]
    case 'WaitingHealth':
      return [at('booted', Math.min(e.bootedAtMs ?? e.atMs, e.atMs))]
    case 'Succeeded': {
      // Without minHealthyTime (no FirstHealthy note) the first healthy answer is the success;
      // upgrade mode Automatic (Reimaging → Succeeded) counts an instance without asking.
      const asked = e.from === 'WaitingHealth' || e.from === 'Surging'
      const noted = before.some((s) => s.step === 'firstHealthy')
      return asked && !noted ? [at('firstHealthy'), at('succeeded')] : [at('succeeded')]
    }
    case 'RollingBack':
      return e.from === 'Failed'
        ? [at('rollbackRequested')]
        : [at('failed'), at('rollbackRequested')]
    case 'Failed':
      return [at('failed')]
    case 'RolledBack':
      // A surge replacement discarded on failure goes straight from Surging to RolledBack.
      return e.from === 'RollingBack' ? [at('rolledBack')] : [at('failed'), at('rolledBack')]
    case 'RollbackFailed':
      return [at('rollbackFailed')]
    case 'Removed':
      return [at('removed')]
    default:
      return []
  }
}

/** Steps inside a state (from = to): the runtime's effects done, deferral, first healthy. */
function noteStep(e: RolloutEvent, at: (step: TimelineStepName) => TimelineStep): TimelineStep[] {
  switch (e.reason) {
    case 'OSUpgradePending':
      return [at('upgradePending')]
    case 'ApprovedByRequest':
      return [{ ...at('approved'), hook: approval('request') }]
    case 'ApprovedByGuest':
      return [{ ...at('approved'), hook: approval('guest') }]
    case 'NotBeforeReached':
      return [{ ...at('approved'), hook: { ...approval('default'), cause: 'notBefore' } }]
    case 'DiskSwapped':
      return [at('diskSwapped')]
    case 'ModelApplied':
      return [at('modelApplied')]
    case 'FirstHealthy':
      return [at('firstHealthy')]
    case 'PreviousDiskSwapped':
      return [at('previousDiskSwapped')]
    case 'PreviousDiskReleased':
      return [at('released')]
    default:
      return []
  }
}

/**
 * Deferral (docs/rollouts.md R6) is the pre-reimage hook of Azure's own kind: its approval is a
 * continue answered by the guest (qemu's StartRequests), by approveRollingUpgrade, or by default
 * once the scheduled event's NotBefore passed.
 */
function approval(source: HookRecord['source']): HookRecord {
  return { hook: 'preReimage', answer: 'continue', source }
}

/**
 * A fabric call noted when it returned may be noted after what it caused was seen: a sim or local
 * reimage returns once the instance started on the new disk, and the pass may see the restored
 * disk before the restore's note is written. The disk was in place by then, so the note moves back
 * to it: diskSwapped ≤ booted, previousDiskSwapped ≤ rolledBack or rollbackFailed.
 */
function causal(steps: TimelineStep[]): void {
  const pairs: [TimelineStepName, readonly TimelineStepName[]][] = [
    ['diskSwapped', ['booted']],
    ['modelApplied', ['booted']],
    ['previousDiskSwapped', ['rolledBack', 'rollbackFailed']],
  ]
  for (const [early, late] of pairs) {
    const i = steps.findIndex((s) => s.step === early)
    const then = steps.find((s) => late.includes(s.step))
    const s = steps[i]
    if (s && then && s.atMs > then.atMs) steps[i] = { ...s, atMs: then.atMs }
  }
}

/** Bars between steps: applying → booting → waiting for health → minHealthyTime; rolling back. */
function phasesOf(steps: readonly TimelineStep[]): TimelinePhase[] {
  const first = (...names: TimelineStepName[]) =>
    steps.find((s) => names.includes(s.step))?.atMs ?? null
  const asked = first('requested')
  if (asked === null) return []
  // With a pre-reimage hook, applying starts at its continue (or never, when it said skip).
  const pre = steps.find(
    (s) => s.step === 'hookAnswered' && s.hook?.hook === 'preReimage' && s.hook.answer !== 'defer',
  )
  const hooked = steps.some((s) => s.step === 'hookAnswered' && s.hook?.hook === 'preReimage')
  const phases: TimelinePhase[] = []
  if (hooked)
    phases.push({ phase: 'preReimageHook', startMs: asked, endMs: pre?.atMs ?? first('skipped') })
  if (hooked && (pre === undefined || pre.hook?.answer === 'skip')) return phases
  const requested = pre?.atMs ?? asked
  const applied = first('diskSwapped', 'modelApplied')
  const booted = first('booted')
  const healthy = first('firstHealthy')
  const done = first('succeeded', 'failed', 'removed')
  const bar = (phase: TimelinePhase['phase'], startMs: number, ...ends: (number | null)[]) => {
    const endMs = ends.find((t) => t !== null) ?? null
    phases.push({ phase, startMs, endMs })
  }
  bar('applying', requested, applied, booted, done)
  if (applied !== null && (booted !== null || done === null)) bar('booting', applied, booted, done)
  if (booted !== null) bar('waitingHealth', booted, healthy, done)
  if (healthy !== null && done !== null && done > healthy) bar('minHealthyTime', healthy, done)
  else if (healthy !== null && done === null) bar('minHealthyTime', healthy, null)
  const rollback = first('rollbackRequested')
  if (rollback !== null) bar('rollingBack', rollback, first('rolledBack', 'rollbackFailed'))
  return phases
}

/** Each batch's instances, start (its first attempt's) and end (its last attempt's, when all ended). */
function batchesOf(attempts: readonly Attempt[]): BatchTimeline[] {
  const byBatch = new Map<number, Attempt[]>()
  for (const a of attempts) byBatch.set(a.batch, [...(byBatch.get(a.batch) ?? []), a])
  return [...byBatch.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([batch, list]) => {
      const open = list.some((a) => a.endedAtMs === null)
      return {
        batch,
        instanceIds: list.map((a) => a.instanceId),
        startedAtMs: Math.min(...list.map((a) => a.startedAtMs)),
        endedAtMs: open ? null : Math.max(...list.map((a) => a.endedAtMs as number)),
      }
    })
}
