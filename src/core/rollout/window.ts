/**
 * Maintenance windows as the engine sees them (docs/rollouts.md § Maintenance windows): a batch
 * starts only while a window is open. The core never computes a schedule (that needs a calendar,
 * a time zone and a clock); the runtime does (runtime/maintenance-window.ts) and hands the core a
 * plain `WindowState` for the moment of the decision.
 */

/**
 * A set's windows, as stored (`ScaleSetState.maintenanceWindows`): recurring, in one IANA time
 * zone. A cron window opens at each run of its five-field cron and stays open `durationMs`; a
 * weekly range opens at `start` and closes at `end` (`Sat 02:00`, `Sun 06:00`), wall-clock times.
 */
export type MaintenanceWindows = Readonly<{
  timeZone: string
  windows: readonly MaintenanceWindow[]
}>

export type MaintenanceWindow = Readonly<
  { cron: string; durationMs: number } | { weekly: Readonly<{ start: string; end: string }> }
>

/**
 * Whether a window is open at one instant. Open: since when and until when. Closed: when the
 * next one opens (null: none does).
 */
export type WindowState = Readonly<
  | { open: true; openedAtMs: number; closesAtMs: number }
  | { open: false; nextOpenAtMs: number | null }
>

/** The reason of the events and condition of a rollout waiting for its window. */
export const WINDOW_CLOSED = 'MaintenanceWindowClosed'
export const WINDOW_OPENED = 'MaintenanceWindowOpened'
/** The state a waiting rollout's events name (its Azure status stays RollingForward). */
export const WAITING_FOR_WINDOW = 'WaitingForWindow'

/**
 * What a rollout's status says while it waits.
 * @example waitingMessage(Date.parse('2026-03-28T01:00:00Z')) →
 *   'waiting for maintenance window until 2026-03-28T01:00:00.000Z'
 */
export function waitingMessage(untilMs: number | null): string {
  return untilMs === null
    ? 'waiting for maintenance window (none opens again)'
    : `waiting for maintenance window until ${new Date(untilMs).toISOString()}`
}
