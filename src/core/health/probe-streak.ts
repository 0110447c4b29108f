/**
 * How probe results become a health state (docs/rollouts.md R5), shared by the host's prober
 * (`health/prober.ts`) and the results a guest agent reports from inside a VM
 * (docs/qemu.md § The guest agent): a load-balancer probe flips after `threshold` consecutive
 * results of the other kind; the Application Health extension 2.x (rich) stays Initializing
 * until `threshold` identical results or the grace period ends.
 */
import type { HealthState } from './verdict.js'

export type ProbeResult = 'healthy' | 'unhealthy' | 'unknown'

/** What one target's results so far come to. */
export type ProbeStreak = Readonly<{
  state: HealthState
  last: ProbeResult | null
  streak: number
  /** When probing of this target began: the start of the grace period and of settling. */
  registeredAtMs: number
}>

/** The parts of a probe's definition the rule reads. */
export type StreakRule = Readonly<{
  protocol: 'tcp' | 'http' | 'https'
  mode: 'binary' | 'rich'
  threshold: number
  intervalMs: number
  gracePeriodMs: number
}>

/**
 * The streak after one more result.
 * @example recordProbe({ state: 'initializing', last: null, streak: 0, registeredAtMs: 0 },
 *   { protocol: 'http', mode: 'rich', threshold: 2, intervalMs: 5000, gracePeriodMs: 60000 },
 *   'healthy', 1000) → { state: 'initializing', last: 'healthy', streak: 1, … } (one of two)
 */
export function recordProbe(
  s: ProbeStreak,
  t: StreakRule,
  result: ProbeResult,
  nowMs: number,
): ProbeStreak {
  const streak = result === s.last ? s.streak + 1 : 1
  const next = { ...s, last: result, streak }
  if (t.mode === 'binary') {
    const verdict = result === 'healthy' ? 'healthy' : 'unhealthy'
    // Before a first verdict, failures count only once they have lasted a full
    // interval × threshold: the fast early probes must not fail an app still binding its port.
    const settling =
      s.state === 'initializing' &&
      verdict === 'unhealthy' &&
      nowMs - s.registeredAtMs < t.intervalMs * t.threshold
    return streak >= t.threshold && !settling ? { ...next, state: verdict } : next
  }
  // Rich: Initializing until `threshold` identical results, or until the grace period ends
  // (then http(s) ⇒ Unknown, tcp ⇒ Unhealthy, unless a verdict came first).
  if (s.state === 'initializing') {
    if (streak >= t.threshold) return { ...next, state: result }
    if (nowMs - s.registeredAtMs >= t.gracePeriodMs)
      return { ...next, state: t.protocol === 'tcp' ? 'unhealthy' : 'unknown' }
    return next
  }
  return streak >= t.threshold ? { ...next, state: result } : next
}
