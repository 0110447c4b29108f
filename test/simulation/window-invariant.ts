/**
 * The simulator's invariants of maintenance windows (docs/rollouts.md § Maintenance windows),
 * checked after every step against the set's windows on the calendar (runtime/maintenance-window.ts,
 * whose DST behaviour its own tests pin down):
 * - no batch starts outside a window (each batch's start instant is inside one);
 * - a rollout waits only while no window is open, and until the next one opens;
 * - it stops waiting only inside a window (it resumes in the next window, not before);
 * - a batch in flight is never stopped by a window's end: its instances reach an outcome.
 */
import { windowStateAt } from '../../src/runtime/maintenance-window.js'
import type { Rollout } from '../../src/core/rollout/types.js'
import type { MaintenanceWindows } from '../../src/core/rollout/window.js'

export class WindowInvariant {
  /** When a pass last failed (an injected store failure): the retry ends the wait. */
  passFailedAtMs: number | null = null

  constructor(private readonly fail: (message: string) => void) {}

  check(
    at: string,
    nowMs: number,
    r: Rollout,
    prev: Rollout | undefined,
    windows: MaintenanceWindows | null | undefined,
  ): void {
    if (!windows) {
      if (r.windowWait != null) this.fail(`${at} rollout ${r.id}: waits for a window, none is set`)
      return
    }
    for (let b = (prev?.batchCount ?? 0) + 1; b <= r.batchCount; b++) {
      const startMs = Math.min(...r.attempts.filter((a) => a.batch === b).map((a) => a.startedAtMs))
      if (!windowStateAt(windows, startMs).open)
        this.fail(
          `${at} rollout ${r.id}: batch ${b} started at ${new Date(startMs).toISOString()}, outside every maintenance window`,
        )
    }
    const now = windowStateAt(windows, nowMs)
    const wait = r.windowWait ?? null
    // A paused rollout holds for its pause first (docs/rollouts.md § Pause and resume).
    const held = r.pausedAtMs != null || this.passFailedAtMs === nowMs
    if (wait !== null && r.status === 'RollingForward' && !held) {
      if (now.open)
        this.fail(
          `${at} rollout ${r.id}: still waiting while a window is open (since ${now.openedAtMs})`,
        )
      else if (wait.untilMs !== now.nextOpenAtMs)
        this.fail(
          `${at} rollout ${r.id}: waits until ${wait.untilMs}, the next window opens at ${now.nextOpenAtMs}`,
        )
    }
    if (prev?.windowWait != null && wait === null && r.status === 'RollingForward' && !now.open)
      this.fail(`${at} rollout ${r.id}: stopped waiting outside a window`)
    if (wait !== null && r.status !== 'RollingForward')
      this.fail(`${at} rollout ${r.id}: ${r.status} and still waiting for a window`)
  }
}
