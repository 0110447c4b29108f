/**
 * Maintenance windows on the calendar (docs/rollouts.md § Maintenance windows): whether a set's
 * windows are open at an instant, when they close, when the next opens. Every date computation
 * is croner's (cron patterns in an IANA time zone, DST included); nothing here reads the clock:
 * each function takes the instant it answers for, so the simulator's virtual clock and the dry-run
 * plan's imagined times work as the wall clock does.
 */
import { Cron } from 'croner'
import type { MaintenanceWindow, MaintenanceWindows, WindowState } from '../core/rollout/window.js'

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const
const WEEKLY_TIME = /^([A-Za-z]{3})\s+([01]\d|2[0-3]):([0-5]\d)$/

/** One window's openings as croner patterns: its start, and its end (or a fixed duration). */
type Compiled = Readonly<{ start: Cron; end: Cron | null; durationMs: number }>

/** One opening of a window, [openedAtMs, closesAtMs). */
export type Opening = Readonly<{ window: number; openedAtMs: number; closesAtMs: number }>

/**
 * The windows' state at `atMs`: open (since, until) or closed (next opening).
 * @example windowStateAt({ timeZone: 'Europe/Berlin', windows: [{ weekly: { start: 'Sat 02:00',
 *   end: 'Sun 06:00' } }] }, Date.parse('2026-03-28T12:00:00Z')) →
 *   { open: true, openedAtMs: Date.parse('2026-03-28T01:00:00Z'),
 *     closesAtMs: Date.parse('2026-03-29T04:00:00Z') } (06:00 CEST: the clocks moved that night)
 */
export function windowStateAt(w: MaintenanceWindows, atMs: number): WindowState {
  const compiled = compile(w)
  let nextOpenAtMs: number | null = null
  for (const c of compiled) {
    const opening = openingAt(c, atMs)
    if (opening !== null) return { open: true, ...opening }
    const next = c.start.nextRun(new Date(atMs))?.getTime() ?? null
    if (next !== null && (nextOpenAtMs === null || next < nextOpenAtMs)) nextOpenAtMs = next
  }
  return { open: false, nextOpenAtMs }
}

/**
 * The openings that start in [fromMs, toMs), at most `perWindow` per window, in time order.
 * @example openings({ timeZone: 'UTC', windows: [{ cron: '0 2 * * *', durationMs: 3_600_000 }] },
 *   Date.parse('2026-01-01T00:00:00Z'), Date.parse('2026-01-03T00:00:00Z'), 10) →
 *   [{ window: 0, openedAtMs: …01T02:00Z, closesAtMs: …01T03:00Z }, { …02T02:00Z … }]
 */
export function openings(
  w: MaintenanceWindows,
  fromMs: number,
  toMs: number,
  perWindow: number,
): Opening[] {
  const out: Opening[] = []
  compile(w).forEach((c, window) => {
    // One before the range too: an opening still open at fromMs overlaps what follows.
    let at = c.start.previousRuns(1, new Date(fromMs))[0] ?? c.start.nextRun(new Date(fromMs))
    for (let n = 0; at && at.getTime() < toMs && n < perWindow; n++) {
      out.push({ window, openedAtMs: at.getTime(), closesAtMs: closeOf(c, at.getTime()) })
      at = c.start.nextRun(at)
    }
  })
  return out.sort((a, b) => a.openedAtMs - b.openedAtMs || a.window - b.window)
}

/**
 * Reads one window into croner patterns, or says what is wrong with it (a message for the
 * API's 400). `Sat 02:00` is the cron `0 2 * * 6`: a weekly range is two crons, so both its ends
 * follow the time zone's clock (a range over a DST change is an hour shorter or longer).
 * @example patternProblem({ cron: '0 2 30 2 *', durationMs: 3_600_000 }, 'UTC') → null (it parses;
 *   that it never fires is found by asking for its next run)
 */
export function patternProblem(window: MaintenanceWindow, timeZone: string): string | null {
  try {
    compileOne(window, timeZone)
    return null
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
}

/** Whether `timeZone` is an IANA time zone name that this Node knows (`Europe/Berlin`). */
export function knownTimeZone(timeZone: string): boolean {
  if (!/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(timeZone)) return false
  try {
    new Intl.DateTimeFormat('en-US', { timeZone })
    return true
  } catch {
    return false
  }
}

function openingAt(c: Compiled, atMs: number): Omit<Opening, 'window'> | null {
  // previousRuns is strict; the +1 ms makes it "the last run at or before atMs" (runs fall on
  // whole seconds).
  const last = c.start.previousRuns(1, new Date(atMs + 1))[0]
  if (!last) return null
  const closesAtMs = closeOf(c, last.getTime())
  return closesAtMs > atMs ? { openedAtMs: last.getTime(), closesAtMs } : null
}

function closeOf(c: Compiled, openedAtMs: number): number {
  if (c.end === null) return openedAtMs + c.durationMs
  return (c.end.nextRun(new Date(openedAtMs)) as Date).getTime()
}

const cache = new Map<string, readonly Compiled[]>()
const CACHE_MAX = 1_000

function compile(w: MaintenanceWindows): readonly Compiled[] {
  const key = JSON.stringify(w)
  const hit = cache.get(key)
  if (hit) return hit
  const compiled = w.windows.map((x) => compileOne(x, w.timeZone))
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string)
  cache.set(key, compiled)
  return compiled
}

function compileOne(window: MaintenanceWindow, timeZone: string): Compiled {
  const options = { timezone: timeZone, paused: true }
  if ('cron' in window) {
    const fields = window.cron.trim().split(/\s+/).length
    if (fields !== 5 && fields !== 6)
      throw new Error(
        `a cron has five fields (minute hour day-of-month month day-of-week), or six with seconds first, not '${window.cron}'`,
      )
    return { start: new Cron(window.cron, options), end: null, durationMs: window.durationMs }
  }
  return {
    start: new Cron(weeklyCron(window.weekly.start), options),
    end: new Cron(weeklyCron(window.weekly.end), options),
    durationMs: 0,
  }
}

/** `Sat 02:00` → `0 2 * * 6`. */
function weeklyCron(time: string): string {
  const m = WEEKLY_TIME.exec(time.trim())
  const day = m ? DAYS.indexOf((m[1] as string).toLowerCase() as (typeof DAYS)[number]) : -1
  if (!m || day < 0)
    throw new Error(`a weekly time is a day and a 24-hour time such as 'Sat 02:00', not '${time}'`)
  return `${Number(m[3])} ${Number(m[2])} * * ${day}`
}
