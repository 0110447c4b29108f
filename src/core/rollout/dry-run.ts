/**
 * The dry-run plan of a rollout (issue 20 §1, docs/rollouts.md § The dry-run plan): the batches
 * a rollout would run if it started now and nothing changed, computed by running the real engine
 * (`startRollout`, then `planStep` pass after pass) against an imagined fleet in which every
 * action succeeds. Run twice: once with every effect instant (the batches, the budgets), once
 * with every instance taking as long as the health deadlines allow and still succeeding (the
 * worst-case duration). Pure: no clock, no I/O; the caller gives `nowMs` and the fleet.
 */
import { verdict } from '../health/verdict.js'
import type { ScaleSetSpec } from '../scale-set/spec.js'
import { findCandidates } from './batch.js'
import { formatDurationMs } from '../duration.js'
import { planStep } from './plan.js'
import { PROGRESS_DEADLINE_EXCEEDED } from './progress-deadline.js'
import { slowestPassingSoak, soaks } from './soak.js'
import { startRollout } from './start.js'
import type { StartRequest } from './start.js'
import { unhealthyBeforeBatch } from './messages.js'
import { applyAction } from './dry-run-fleet.js'
import type { Due } from './dry-run-fleet.js'
import { excusedUnhealthy } from './roll-forward.js'
import { exceedsPercent, wholePercent } from './thresholds.js'
import type { WindowState } from './window.js'
import type { Attempt, BatchSoak, InstanceObservation, Rollout, RolloutError } from './types.js'

export type DryRunInput = Readonly<{
  spec: ScaleSetSpec
  instances: readonly InstanceObservation[]
  request: StartRequest
  healthDeadlineMs: number
  minHealthyTimeMs?: number
  batchSoak?: BatchSoak | null
  progressDeadlineMs?: number | null
  /** Roll forward: the set's quarantined versions (roll-forward.ts). */
  rollForwardFrom?: readonly string[]
  /** The set's adaptive ramp (docs/rollouts.md § Adaptive ramp). */
  adaptiveRamp?: boolean
  nextInstanceId: number
  nowMs: number
  /**
   * The set's maintenance windows as a pure function of the instant (docs/rollouts.md
   * § Maintenance windows; the runtime's calendar), absent without windows: batches wait for
   * them in the plan as in the rollout.
   */
  windowAt?: (atMs: number) => WindowState
}>

export type PlannedInstance = Readonly<{
  instanceId: string
  zone: string | null
  updateDomain: number
  method: Attempt['method']
  fromVersion: string
  /** The replacement's id (maxSurge), else null. */
  surgeInstanceId: string | null
  /** Why it is in this batch, in the order the batch rules apply. */
  why: readonly string[]
}>

export type PlannedBatch = Readonly<{
  batch: number
  instances: readonly PlannedInstance[]
  /** Before the batch: the set's size, its unhealthy instances, and how many more may be. */
  unhealthyBudget: Readonly<{
    instanceCount: number
    unhealthyCount: number
    thresholdPercent: number
    moreAllowed: number
  }>
  /** After the batch: how many of the instances upgraded so far may fail or be unhealthy. */
  upgradedFailuresAllowed: number
  /** With the adaptive ramp: the most instances this batch could take; null without it. */
  rampSize: number | null
  /**
   * With maintenance windows only: when the batch starts at the latest (the worst case) and the
   * window it starts in.
   */
  window?: Readonly<{ estimatedStartAtMs: number; openedAtMs: number; closesAtMs: number }>
}>

export type DryRunPlan = Readonly<{
  target: Rollout['target']
  policy: Rollout['policy']
  rollback: boolean
  /** Whether batch sizes follow the adaptive ramp (docs/rollouts.md § Adaptive ramp). */
  adaptiveRamp: boolean
  /** The fleet pre-check (docs/rollouts.md R3) on the fleet as it is now. */
  precheck: Readonly<{ passes: boolean; error: RolloutError | null }>
  batches: readonly PlannedBatch[]
  /** Instances that wait for approval (deferral): the plan cannot know when they move. */
  awaitingApproval: readonly string[]
  /** Upgrade mode Manual: instances behind the model, left for `manualupgrade` (R1.7). */
  awaitingManualUpgrade: readonly string[]
  /** How the imagined rollout ends: Completed, or Faulted by the pre-check. */
  outcome: Readonly<{ status: Rollout['status']; error: RolloutError | null }>
  /** Start to end if every instance takes as long as its deadlines allow, and succeeds. */
  worstCaseDurationMs: number
  /** What the worst case assumes, in words (the deadlines, pauses and soaks it counts). */
  worstCaseAssumes: readonly string[]
}>

/**
 * @example 10 healthy instances on 1.0.0, target 1.1.0, default policy →
 *   5 batches of 2 (['0','5'], ['1','6'], …), each allowing 2 more unhealthy
 */
export function dryRun(input: DryRunInput): DryRunPlan {
  const fast = imagine(input, 'instant')
  const slow = imagine(input, 'slowest')
  const r = fast.rollout
  const precheck = precheckNow(input, r)
  return {
    target: r.target,
    policy: r.policy,
    rollback: r.rollback,
    adaptiveRamp: r.adaptiveRamp === true,
    precheck,
    batches: withWindows(batchesOf(r, input, fast.budgets, fast.ramps), slow.rollout, input),
    awaitingApproval: fast.stuck ? r.pendingIds : [],
    awaitingManualUpgrade: findCandidates({ ...r, attempts: [] }, input.instances).behindModel.map(
      (i) => i.instanceId,
    ),
    outcome: { status: fast.stuck ? 'RollingForward' : r.status, error: r.error },
    worstCaseDurationMs: (slow.rollout.endedAtMs ?? slow.nowMs) - input.nowMs,
    worstCaseAssumes: assumptions(slow.rollout, input.windowAt !== undefined),
  }
}

/** The worst case's assumptions, from the rollout the slow run imagined. */
function assumptions(r: Rollout, windows: boolean): string[] {
  const d = formatDurationMs
  const out = [
    `each instance becomes healthy just inside its health deadline of ${d(r.healthDeadlineMs)}`,
    `pauseTimeBetweenBatches of ${d(r.policy.pauseBetweenBatchesMs)} after each batch`,
  ]
  if (r.minHealthyTimeMs) out.push(`minHealthyTime of ${d(r.minHealthyTimeMs)} for each instance`)
  if (r.batchSoak && soaks(r))
    out.push(
      `each batch's soak at its maximum of ${d(r.batchSoak.maxMs)} (the set settles only ${d(r.batchSoak.minMs)} before it)`,
    )
  if (windows)
    out.push('each batch starts only inside a maintenance window, else waits for the next one')
  if (r.error?.code === PROGRESS_DEADLINE_EXCEEDED)
    out.push(
      `the progressDeadline of ${d(r.progressDeadlineMs ?? 0)} stops a rollout this slow first (Faulted, ${PROGRESS_DEADLINE_EXCEEDED})`,
    )
  return out
}

type Budget = PlannedBatch['unhealthyBudget']

type Imagined = {
  rollout: Rollout
  nowMs: number
  /** The rollout waits for something the plan cannot foresee (approvals). */
  stuck: boolean
  budgets: Map<number, Budget>
  /** Each batch's ramp size, when the rollout ramps. */
  ramps: Map<number, number>
}

/**
 * Runs the engine on an imagined fleet. `instant`: every action takes effect at once and every
 * instance is healthy as soon as it boots. `slowest`: a reimage lands just inside its provisional
 * deadline, and health comes just inside the deadline after boot.
 */
function imagine(input: DryRunInput, pace: 'instant' | 'slowest'): Imagined {
  let nowMs = input.nowMs
  let rollout = startRollout({ id: 'dry-run', ...input, nowMs })
  let nextInstanceId = input.nextInstanceId
  const fleet = new Map(input.instances.map((i) => [i.instanceId, i]))
  const due = new Map<string, Due[]>()
  const budgets = new Map<number, Budget>()
  const ramps = new Map<number, number>()
  const lag = pace === 'instant' ? 0 : Math.max(0, input.healthDeadlineMs - 1)
  const schedule = (id: string, d: Due) => due.set(id, [...(due.get(id) ?? []), d])
  for (let pass = 0; pass < 100_000; pass++) {
    for (const [id, list] of due) {
      const ready = list.filter((d) => d.atMs <= nowMs)
      if (ready.length === 0) continue
      const current = fleet.get(id)
      if (current)
        fleet.set(
          id,
          ready.reduce((i, d) => d.apply(i), current),
        )
      due.set(
        id,
        list.filter((d) => d.atMs > nowMs),
      )
    }
    const instances = [...fleet.values()]
    const before = rollout.batchCount
    const step = planStep(
      {
        spec: input.spec,
        instances,
        rollout,
        cancelRequestedAtMs: null,
        failures: [],
        nextInstanceId,
        window: input.windowAt ? input.windowAt(nowMs) : null,
      },
      nowMs,
    )
    if (step.rollout.batchCount > before) {
      budgets.set(step.rollout.batchCount, budgetOf(instances, rollout))
      if (step.rollout.rampSize !== undefined)
        ramps.set(step.rollout.batchCount, step.rollout.rampSize)
    }
    rollout = step.rollout
    // The slowest soak that still passes: the set settles only just before the soak's max.
    if (
      pace === 'slowest' &&
      rollout.soak &&
      rollout.batchSoak &&
      rollout.soak.startedAtMs === nowMs
    )
      rollout = { ...rollout, soak: slowestPassingSoak(rollout.soak, rollout.batchSoak) }
    nextInstanceId = step.nextInstanceId
    for (const a of step.actions) applyAction(a, { fleet, due, schedule, nowMs, lag, rollout })
    if (rollout.status !== 'RollingForward') return { rollout, nowMs, stuck: false, budgets, ramps }
    const next = nextInstant(nowMs, step.wakeAtMs, rollout.nextBatchAtMs, due)
    if (next === null) return { rollout, nowMs, stuck: true, budgets, ramps }
    nowMs = next
  }
  return { rollout, nowMs, stuck: true, budgets, ramps }
}

function nextInstant(
  nowMs: number,
  wakeAtMs: number | null,
  nextBatchAtMs: number,
  due: ReadonlyMap<string, readonly Due[]>,
): number | null {
  const times = [...due.values()].flat().map((d) => d.atMs)
  if (wakeAtMs !== null) times.push(wakeAtMs)
  if (nextBatchAtMs > nowMs) times.push(nextBatchAtMs)
  const future = times.filter((t) => t >= nowMs)
  return future.length === 0 ? null : Math.min(...future)
}

/** The unhealthy budget before a batch, from the fleet the engine chose it on. */
function budgetOf(instances: readonly InstanceObservation[], r: Rollout): Budget {
  const excused = excusedUnhealthy(r, instances)
  const unhealthyCount = instances.filter(
    (i) => verdict(i) === 'unhealthy' && !excused.has(i.instanceId),
  ).length
  const thresholdPercent = r.policy.unhealthyPercentMax
  const allowed = Math.floor((thresholdPercent * instances.length) / 100)
  return {
    instanceCount: instances.length,
    unhealthyCount,
    thresholdPercent,
    moreAllowed: Math.max(0, allowed - unhealthyCount),
  }
}

function precheckNow(input: DryRunInput, r: Rollout): DryRunPlan['precheck'] {
  if (r.pace !== 'batched') return { passes: true, error: null }
  const n = input.instances.length
  const excused = excusedUnhealthy(r, input.instances)
  const unhealthy = input.instances.filter(
    (i) => verdict(i) === 'unhealthy' && !excused.has(i.instanceId),
  ).length
  const threshold = r.policy.unhealthyPercentMax
  if (!exceedsPercent(unhealthy, n, threshold)) return { passes: true, error: null }
  return { passes: false, error: unhealthyBeforeBatch(true, wholePercent(unhealthy, n), threshold) }
}

/**
 * Maintenance windows: each batch's latest start (the slow run's) and the window it falls in.
 * The worst case's batches are the same as the plan's (the same engine on the same fleet), only
 * later; a batch the slow run did not reach (stopped by its progressDeadline) has none.
 */
function withWindows(batches: PlannedBatch[], slow: Rollout, input: DryRunInput): PlannedBatch[] {
  const windowAt = input.windowAt
  if (!windowAt) return batches
  return batches.map((b) => {
    const starts = slow.attempts.filter((a) => a.batch === b.batch).map((a) => a.startedAtMs)
    if (starts.length === 0) return b
    const estimatedStartAtMs = Math.min(...starts)
    const w = windowAt(estimatedStartAtMs)
    if (!w.open) return b // cannot be: the engine starts batches only in a window
    return {
      ...b,
      window: { estimatedStartAtMs, openedAtMs: w.openedAtMs, closesAtMs: w.closesAtMs },
    }
  })
}

function batchesOf(
  r: Rollout,
  input: DryRunInput,
  budgets: ReadonlyMap<number, Budget>,
  ramps: ReadonlyMap<number, number>,
): PlannedBatch[] {
  const start = new Map(input.instances.map((i) => [i.instanceId, i]))
  const out: PlannedBatch[] = []
  let upgraded = 0
  for (let b = 1; b <= r.batchCount; b++) {
    const attempts = r.attempts.filter((a) => a.batch === b)
    const rampSize = ramps.get(b) ?? null
    upgraded += attempts.length
    out.push({
      batch: b,
      instances: attempts.map((a) => planned(a, start.get(a.instanceId), input, r, rampSize)),
      unhealthyBudget: budgets.get(b) ?? budgetOf(input.instances, r),
      upgradedFailuresAllowed: Math.floor((r.policy.unhealthyUpgradedPercentMax * upgraded) / 100),
      rampSize,
    })
  }
  return out
}

function planned(
  a: Attempt,
  i: InstanceObservation | undefined,
  input: DryRunInput,
  r: Rollout,
  rampSize: number | null,
): PlannedInstance {
  const why: string[] = [`on ${a.fromVersion}, behind the target`]
  if (rampSize !== null) why.push(`adaptive ramp: at most ${rampSize} in this batch`)
  if (r.pace === 'allAtOnce') why.push('all at once (upgrade mode Automatic or manualupgrade)')
  if (i && r.policy.prioritizeUnhealthy && verdict(i) === 'unhealthy')
    why.push('unhealthy first (prioritizeUnhealthyInstances)')
  else if (i && excusedUnhealthy(r, [i]).size > 0)
    why.push(`unhealthy on ${i.osImageVersion}, rolled forward first`)
  if (i?.zone && input.spec.zones.length > 0 && !r.policy.crossZone)
    why.push(`zone ${i.zone}: one zone at a time`)
  if (i) {
    why.push(
      input.spec.serviceFabric
        ? `update domain ${i.updateDomain}: a whole update domain (Service Fabric)`
        : `update domain ${i.updateDomain}: never two update domains in one batch`,
    )
  }
  if (a.method === 'surge') why.push(`maxSurge: new instance ${a.surgeInstanceId} replaces it`)
  if (a.method === 'update') why.push('the new model applies in place')
  return {
    instanceId: a.instanceId,
    zone: i?.zone ?? null,
    updateDomain: i?.updateDomain ?? 0,
    method: a.method,
    fromVersion: a.fromVersion,
    surgeInstanceId: a.surgeInstanceId,
    why,
  }
}
