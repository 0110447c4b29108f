/**
 * The simulator's invariants of batchSoak and progressDeadline, as in
 * docs/rollouts.md § Per-set timing, judged from outside the engine: the checker keeps its own record of when the set's
 * health changed (the fleet each pass saw) and of when each rollout resumed.
 * - A batch never starts before the set was unchanged for the soak's min after the previous
 *   batch ended; a soak fails (SoakNotStable) only once its max has passed.
 * - A rollout is stopped by progressDeadline only when nothing counted upgraded for that long,
 *   and never runs on past it without progress.
 */
import { verdict } from '../../src/core/health/verdict.js'
import { PROGRESS_DEADLINE_EXCEEDED } from '../../src/core/rollout/progress-deadline.js'
import { SOAK_NOT_STABLE, soaks } from '../../src/core/rollout/soak.js'
import type { InstanceObservation, Rollout } from '../../src/core/rollout/types.js'

export class TimingInvariants {
  /** Times at which the checker saw the set's health change. */
  private readonly changes: number[] = []
  private lastPicture: string | null = null
  /**
   * Instances on either side of a maxSurge pair: the engine leaves them out of the soak's
   * picture, so the checker ignores them too (it may then see fewer changes, never more).
   */
  private readonly surged = new Set<string>()
  private readonly resumedAt = new Map<string, number>()
  /** When a pass last failed: a rollout may run on past its deadline until the retry. */
  passFailedAtMs: number | null = null

  constructor(private readonly fail: (message: string) => void) {}

  check(
    at: string,
    nowMs: number,
    r: Rollout,
    prev: Rollout | undefined,
    before: readonly InstanceObservation[],
  ): void {
    if (prev?.pausedAtMs != null && r.pausedAtMs == null) this.resumedAt.set(r.id, nowMs)
    // A maintenance window opened: the progressDeadline restarts, as at a resume.
    if (prev?.windowWait != null && r.windowWait == null) this.resumedAt.set(r.id, nowMs)
    if (!prev) return
    if (r.batchSoak && soaks(r)) this.checkSoak(at, nowMs, r, prev, before)
    if (r.progressDeadlineMs) this.checkProgress(at, nowMs, r, prev)
  }

  /** After every rollout was checked: this pass's picture of the set, for later passes. */
  noteHealth(nowMs: number, before: readonly InstanceObservation[], rollouts: readonly Rollout[]) {
    const picture = this.pictureOf(before)
    if (this.lastPicture !== null && picture !== this.lastPicture) this.changes.push(nowMs)
    this.lastPicture = picture
    for (const r of rollouts)
      for (const a of r.attempts) {
        if (a.method !== 'surge') continue
        this.surged.add(a.instanceId)
        if (a.surgeInstanceId !== null) this.surged.add(a.surgeInstanceId)
      }
  }

  private checkSoak(
    at: string,
    nowMs: number,
    r: Rollout,
    prev: Rollout,
    before: readonly InstanceObservation[],
  ): void {
    const cfg = r.batchSoak as NonNullable<Rollout['batchSoak']>
    if (r.batchCount > prev.batchCount && prev.batchCount >= 1) {
      const endedAtMs = batchEnd(r, prev.batchCount)
      const changes = this.changesSince(endedAtMs, nowMs, before)
      const points = [endedAtMs, ...changes]
      const settled = points.some((p, i) => (changes[i] ?? nowMs) - p >= cfg.minMs)
      if (!settled)
        this.fail(
          `${at} rollout ${r.id}: batch ${r.batchCount} started before the set was unchanged for the soak's ${cfg.minMs} ms since batch ${prev.batchCount} ended at ${endedAtMs} ms (changes at ${changes.join(', ') || 'none'})`,
        )
    }
    if (r.error?.code === SOAK_NOT_STABLE && prev.status === 'RollingForward') {
      const endedAtMs = batchEnd(r, r.batchCount)
      if (nowMs - endedAtMs < cfg.maxMs)
        this.fail(
          `${at} rollout ${r.id}: SoakNotStable ${nowMs - endedAtMs} ms after batch ${r.batchCount} ended, before the soak's max of ${cfg.maxMs} ms`,
        )
    }
  }

  private checkProgress(at: string, nowMs: number, r: Rollout, prev: Rollout): void {
    const deadline = r.progressDeadlineMs as number
    const sinceMs = this.progressSince(r)
    const stoppedNow =
      isProgressStop(r) && !isProgressStop(prev) && prev.status === 'RollingForward'
    if (stoppedNow && nowMs - sinceMs < deadline)
      this.fail(
        `${at} rollout ${r.id}: stopped by its progressDeadline of ${deadline} ms only ${nowMs - sinceMs} ms after the last progress (${sinceMs} ms)`,
      )
    const running =
      r.status === 'RollingForward' &&
      r.ending === null &&
      r.pausedAtMs == null &&
      r.windowWait == null
    if (running && nowMs - sinceMs >= deadline && this.passFailedAtMs !== nowMs)
      this.fail(
        `${at} rollout ${r.id}: still running ${nowMs - sinceMs} ms after its last progress (${sinceMs} ms), past its progressDeadline of ${deadline} ms`,
      )
  }

  /** The rollout's start, its last resume (as the checker saw it), or the last instance counted. */
  private progressSince(r: Rollout): number {
    let since = Math.max(r.startedAtMs, this.resumedAt.get(r.id) ?? 0)
    for (const a of r.attempts)
      if (a.state === 'Succeeded' && a.endedAtMs !== null) since = Math.max(since, a.endedAtMs)
    return since
  }

  /** Changes after `fromMs` up to now, this pass's own included. */
  private changesSince(
    fromMs: number,
    nowMs: number,
    before: readonly InstanceObservation[],
  ): number[] {
    const out = this.changes.filter((t) => t > fromMs)
    const picture = this.pictureOf(before)
    if (this.lastPicture !== null && picture !== this.lastPicture && nowMs > fromMs) out.push(nowMs)
    return out
  }

  private pictureOf(instances: readonly InstanceObservation[]): string {
    return instances
      .filter((i) => !this.surged.has(i.instanceId))
      .map((i) => `${i.instanceId}:${verdict(i)}`)
      .sort()
      .join(',')
  }
}

function batchEnd(r: Rollout, batch: number): number {
  return Math.max(...r.attempts.filter((a) => a.batch === batch).map((a) => a.endedAtMs ?? 0))
}

function isProgressStop(r: Rollout): boolean {
  return (
    r.error?.code === PROGRESS_DEADLINE_EXCEEDED ||
    r.ending?.error?.code === PROGRESS_DEADLINE_EXCEEDED
  )
}
