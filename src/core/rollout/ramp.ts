/**
 * The adaptive ramp (osroll's own, docs/rollouts.md § Adaptive ramp): an opt-in batch size that
 * starts at one instance, doubles after each clean batch up to the policy's batch size (R3.1) and
 * falls back to one after a batch with a failed instance. Pure; `plan.ts` asks it for the size
 * of the next batch and records the answer on the rollout (`rampSize`).
 */
import { isFailedState } from './progress.js'
import type { Rollout } from './types.js'

/**
 * The most instances the next batch may take: R3.1's `policySize` without a ramp; with one, 1 for
 * the first batch and after a batch with a failed instance, else double the last batch's ramp
 * size, never more than `policySize`. The zone and update-domain rules (R3.3) may pick fewer.
 * 20 instances at 20% (policy size 4): 1, 2, 4, 4, …; a failure in the batch of 4 → 1, 2, 4.
 * @example rampSizeOf({ adaptiveRamp: true, rampSize: 2, batchCount: 2, attempts: [] }, 4) === 4
 */
export function rampSizeOf(
  r: Pick<Rollout, 'adaptiveRamp' | 'rampSize' | 'batchCount' | 'attempts'>,
  policySize: number,
): number {
  if (r.adaptiveRamp !== true) return policySize
  if (r.batchCount === 0) return 1
  if (lastBatchFailed(r)) return 1
  return Math.min(policySize, 2 * (r.rampSize ?? 1))
}

/**
 * Whether the latest batch started had a failed instance (failed, rolled back, or whose restore
 * failed); an instance scaled in while in the batch is not a failure.
 * @example attempts of batch 3: [Succeeded, RolledBack] → true
 */
export function lastBatchFailed(r: Pick<Rollout, 'batchCount' | 'attempts'>): boolean {
  return r.attempts.some((a) => a.batch === r.batchCount && isFailedState(a))
}
