/**
 * osroll's Kubernetes-style conditions of a rollout, shown beside Azure's status fields
 * (docs/rollouts.md § Reason catalogue): `Progressing` and `Degraded`, each with a reason code of
 * the one catalogue and the signal behind it in its message (which instance, which answer,
 * which deadline). `Paused` is the pause's own (services/rollout-controls.ts).
 */
import { isFailedState } from './progress.js'
import { REASONS, failureCode } from './reasons.js'
import type { ReasonCode } from './reasons.js'
import type { Attempt, Rollout } from './types.js'

export type Condition = Readonly<{
  type: 'Progressing' | 'Degraded'
  status: 'True' | 'False'
  reason: ReasonCode
  message: string
  /** When the condition last changed, as far as the rollout records it (ms). */
  atMs: number
}>

/**
 * @example a rollout in its second batch with instance 3 rolled back after its health deadline →
 *   [{ type: 'Progressing', status: 'True', reason: 'Batch', message: 'Batch 2 of …' },
 *    { type: 'Degraded', status: 'True', reason: 'HealthDeadlineExceeded',
 *      message: "1 instance failed; the last, 3: …" }]
 */
export function rolloutConditions(r: Rollout): Condition[] {
  return [progressing(r), degraded(r)]
}

function progressing(r: Rollout): Condition {
  if (r.status !== 'RollingForward') {
    const reason = endReason(r)
    return {
      type: 'Progressing',
      status: 'False',
      reason,
      message: r.error?.message ?? REASONS[reason].summary,
      atMs: r.endedAtMs ?? r.startedAtMs,
    }
  }
  if (r.pausedAtMs != null)
    return {
      type: 'Progressing',
      status: 'False',
      reason: 'PauseRequested',
      message: `Paused after batch ${r.batchCount}: no new batch starts until it is resumed.`,
      atMs: r.pausedAtMs,
    }
  if (r.soak)
    return {
      type: 'Progressing',
      status: 'True',
      reason: 'BatchSoak',
      message: `Batch ${r.soak.batch} is soaking: the set's health must stay stable.`,
      atMs: r.soak.startedAtMs,
    }
  const batch = r.attempts.filter((a) => a.batch === r.batchCount)
  return {
    type: 'Progressing',
    status: 'True',
    reason: 'Batch',
    message:
      r.batchCount === 0
        ? 'No batch has started yet.'
        : `Batch ${r.batchCount} is under way (${batch.length} instance${batch.length === 1 ? '' : 's'}).`,
    atMs: batch.length > 0 ? Math.max(...batch.map((a) => a.startedAtMs)) : r.startedAtMs,
  }
}

function endReason(r: Rollout): ReasonCode {
  if (r.status === 'Completed') return 'Completed'
  if (r.status === 'Cancelled')
    return r.supersededBy != null ? 'RolloutSuperseded' : 'CancelRequested'
  const code = r.error?.code
  return code !== undefined && Object.hasOwn(REASONS, code) ? (code as ReasonCode) : 'Cancelled'
}

function degraded(r: Rollout): Condition {
  const failed = r.attempts.filter((a) => isFailedState(a) && a.failure !== null)
  const last = failed.reduce<Attempt | null>(
    (x, a) =>
      x === null || (a.endedAtMs ?? a.startedAtMs) > (x.endedAtMs ?? x.startedAtMs) ? a : x,
    null,
  )
  if (last === null || last.failure === null)
    return {
      type: 'Degraded',
      status: 'False',
      reason: 'NoFailedInstances',
      message: REASONS.NoFailedInstances.summary,
      atMs: r.startedAtMs,
    }
  const count = `${failed.length} instance${failed.length === 1 ? '' : 's'} failed`
  return {
    type: 'Degraded',
    status: 'True',
    reason: failureCode(last.failure.reason),
    message: `${count}; the last, ${last.instanceId}: ${last.failure.message}`,
    atMs: last.endedAtMs ?? last.startedAtMs,
  }
}
