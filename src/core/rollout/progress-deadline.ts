/**
 * progressDeadline (docs/rollouts.md § Per-set timing): a rollout in which no instance has
 * counted as upgraded for this long stops, Faulted with `ProgressDeadlineExceeded`. The clock
 * starts at the rollout's start, restarts at each instance counted upgraded and at each resume
 * from a pause hold or a wait for a maintenance window, and stands still while either holds it.
 */
import { formatDurationMs } from '../duration.js'
import type { Rollout, RolloutError } from './types.js'

export const PROGRESS_DEADLINE_EXCEEDED = 'ProgressDeadlineExceeded'

type Clocked = Pick<Rollout, 'startedAtMs' | 'attempts'> & Partial<Pick<Rollout, 'resumedAtMs'>>

/**
 * Since when the rollout has made no progress, and what it last was.
 * @example started at 0, instance 0 counted at 40 s, resumed at 90 s → { atMs: 90_000, what: 'resumed' }
 */
export function lastProgress(r: Clocked): Readonly<{ atMs: number; what: string }> {
  let best = { atMs: r.startedAtMs, what: 'the rollout started' }
  for (const a of r.attempts) {
    if (a.state === 'Succeeded' && a.endedAtMs !== null && a.endedAtMs > best.atMs)
      best = { atMs: a.endedAtMs, what: `instance ${a.instanceId} counted as upgraded` }
  }
  const resumed = r.resumedAtMs ?? null
  if (resumed !== null && resumed > best.atMs) best = { atMs: resumed, what: 'it resumed' }
  return best
}

/**
 * When the deadline passes; null when none applies: none set, the rollout ended or is already
 * ending, or a pause or a closed maintenance window holds it (the clock stands still until the
 * resume).
 * @example progressDeadlineMs 600_000, nothing counted since the start at 0 → 600_000
 */
export function progressDueAtMs(r: Rollout): number | null {
  const deadline = r.progressDeadlineMs ?? 0
  if (deadline <= 0 || r.status !== 'RollingForward' || r.ending !== null) return null
  if (r.pausedAtMs != null || r.windowWait != null) return null
  return lastProgress(r).atMs + deadline
}

/**
 * The rollout's error, naming the deadline and since when nothing progressed.
 * @example progressDeadlineError(r, 600_000).message starts with
 *   'No instance counted as upgraded for the progressDeadline of PT10M'
 */
export function progressDeadlineError(r: Rollout): RolloutError {
  const since = lastProgress(r)
  const deadline = formatDurationMs(r.progressDeadlineMs ?? 0)
  return {
    code: PROGRESS_DEADLINE_EXCEEDED,
    message: `No instance counted as upgraded for the progressDeadline of ${deadline}: nothing progressed since ${new Date(since.atMs).toISOString()}, when ${since.what}. No further batch was started.`,
  }
}
