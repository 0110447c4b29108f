/**
 * Roll forward (docs/rollouts.md § Quarantine and roll forward): a newer version supersedes a
 * rollout that is stuck or failing, and the rollout to it does not let the instances the bad
 * version broke block it: those unhealthy on a quarantined (or superseded) version are left out
 * of the fleet pre-check's count, and are upgraded first.
 */
import { verdict } from '../health/verdict.js'
import { compareVersions } from '../image/version.js'
import { findCandidates } from './batch.js'
import { isFailedState, isTerminal } from './progress.js'
import type { InstanceObservation, Rollout } from './types.js'

/** The reason of the event of a superseded rollout's end (it ends Cancelled, as a cancel does). */
export const SUPERSEDED_CODE = 'RolloutSuperseded'

/**
 * The bad versions a new rollout to `target` rolls forward from, frozen into it: the set's
 * quarantined versions and the version of a rollout it supersedes, those older than the target.
 * @example rollForwardFrom('1.3.0', ['1.2.0', '1.4.0'], '1.1.0') → ['1.1.0', '1.2.0']
 */
export function rollForwardFrom(
  target: string | null,
  quarantined: readonly string[],
  superseded: string | null,
): string[] {
  if (target === null) return []
  const all = new Set([...quarantined, ...(superseded === null ? [] : [superseded])])
  return [...all]
    .filter((v) => compareVersions(v, target) < 0)
    .sort((a, b) => compareVersions(a, b))
}

/**
 * The instances the pre-check excuses (R3.4 with roll forward): unhealthy, on a version the
 * rollout rolls forward from. The budget is recomputed without them: P% of N as before, counting
 * only the other unhealthy instances.
 * @example 10 instances, 4 unhealthy on quarantined 1.2.0 and 1 on 1.0.0, limit 20% →
 *   4 excused; 1 counted, 1 × 100 ≤ 20 × 10: the pre-check passes
 */
export function excusedUnhealthy(
  r: Pick<Rollout, 'rollForwardFrom'>,
  instances: readonly InstanceObservation[],
): Set<string> {
  const from = new Set(r.rollForwardFrom ?? [])
  const out = new Set<string>()
  if (from.size === 0) return out
  for (const i of instances)
    if (from.has(i.osImageVersion) && verdict(i) === 'unhealthy') out.add(i.instanceId)
  return out
}

/**
 * Whether a running OS rollout is stuck or failing, so that a newer version supersedes it: an
 * instance of it failed (a health wait that ran out counts), it is paused, or all it has left
 * waits for approval (deferral). A rollout going well is not superseded: the newer version waits
 * for it to end (R1.1).
 * @example a rollout with one RolledBack attempt → true; one with its first batch booting → false
 */
export function stuckOrFailing(
  r: Rollout,
  instances: readonly InstanceObservation[],
  pauseRequested: boolean,
): boolean {
  if (r.kind !== 'OSImage' || r.status !== 'RollingForward') return false
  if (pauseRequested || r.pausedAtMs != null) return true
  if (r.attempts.some(isFailedState)) return true
  if (!r.deferral || r.attempts.some((a) => !isTerminal(a))) return false
  const { eligible, deferred } = findCandidates(r, instances)
  return eligible.length === 0 && deferred.length > 0
}

/**
 * Whether `latest` (eligible, not quarantined, due to start) supersedes the running rollout.
 * @example running 1.2.0 with a failed instance, latest 1.3.0 → true; latest 1.2.0 → false
 */
export function supersedes(
  r: Rollout,
  latest: string,
  instances: readonly InstanceObservation[],
  pauseRequested: boolean,
): boolean {
  const target = r.target.imageVersion
  if (target === null || compareVersions(latest, target) <= 0) return false
  return stuckOrFailing(r, instances, pauseRequested)
}
