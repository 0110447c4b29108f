/**
 * Progress counts and rollback info of a rollout (docs/rollouts.md R9), derived from its attempts
 * so that
 * they always add up: successful + failed + inProgress + pending = the rollout's candidates.
 */
import type { Attempt, FailureReason, Progress, RollbackInfo, Rollout } from './types.js'
import { TERMINAL_ATTEMPT_STATES } from './types.js'

/**
 * @example 10 candidates, batch 1 = {i0 Succeeded, i5 WaitingHealth}, 8 pending →
 *   { successful: 1, failed: 0, inProgress: 1, pending: 8 }
 */
export function progressOf(r: Pick<Rollout, 'attempts' | 'pendingIds'>): Progress {
  let successful = 0
  let failed = 0
  let inProgress = 0
  for (const a of r.attempts) {
    // Removed and Skipped (a pre-reimage hook's skip) count as neither done nor failed.
    if (a.state === 'Removed' || a.state === 'Skipped') continue
    if (a.state === 'Succeeded') successful++
    else if (isFailedState(a)) failed++
    else inProgress++
  }
  return {
    successfulInstanceCount: successful,
    failedInstanceCount: failed,
    inProgressInstanceCount: inProgress,
    pendingInstanceCount: r.pendingIds.length,
  }
}

/** @example one instance restored, one whose restore failed → { 1, 1, rollbackError: '…' } */
export function rollbackInfoOf(r: Pick<Rollout, 'attempts'>): RollbackInfo {
  let ok = 0
  let failed = 0
  let error: string | null = null
  for (const a of r.attempts) {
    if (a.state === 'RolledBack') ok++
    if (a.state === 'RollbackFailed') {
      failed++
      error ??= a.rollbackError
    }
  }
  return {
    successfullyRolledbackInstanceCount: ok,
    failedRolledbackInstanceCount: failed,
    rollbackError: error,
  }
}

export function isFailedState(a: Pick<Attempt, 'state'>): boolean {
  return a.state === 'Failed' || a.state === 'RolledBack' || a.state === 'RollbackFailed'
}

export function isTerminal(a: Pick<Attempt, 'state'>): boolean {
  return TERMINAL_ATTEMPT_STATES.has(a.state)
}

/**
 * The most common failure reason among failed attempts (ties: the earliest), with the first
 * failed instance id, for Azure's "most impactful error" message.
 */
export function mostImpactfulFailure(
  attempts: readonly Attempt[],
): { reason: FailureReason; message: string; firstInstanceId: string } | null {
  const failed = attempts.filter((a) => a.failure !== null)
  if (failed.length === 0) return null
  const counts = new Map<FailureReason, number>()
  for (const a of failed) {
    const reason = (a.failure as NonNullable<Attempt['failure']>).reason
    counts.set(reason, (counts.get(reason) ?? 0) + 1)
  }
  let best = (failed[0] as Attempt).failure as NonNullable<Attempt['failure']>
  for (const a of failed) {
    const f = a.failure as NonNullable<Attempt['failure']>
    if ((counts.get(f.reason) ?? 0) > (counts.get(best.reason) ?? 0)) best = f
  }
  return { ...best, firstInstanceId: (failed[0] as Attempt).instanceId }
}
