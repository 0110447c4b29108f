/**
 * osroll's maintenance windows (docs/rollouts.md § Maintenance windows), an ARM extension
 * resource: `{scale set}/providers/Osroll.Upgrades/maintenanceWindows/default` (GET, PUT, PATCH,
 * DELETE). Kept on the set's orchestrator state and read by every pass of the reconciler: a
 * change applies to the running rollout at its next batch.
 */
import { Errors } from '../errors.js'
import { formatDurationMs, parseDurationMs } from '../core/duration.js'
import type { MaintenanceWindow, MaintenanceWindows } from '../core/rollout/window.js'
import {
  knownTimeZone,
  openings,
  patternProblem,
  windowStateAt,
} from '../runtime/maintenance-window.js'
import { iso } from './rollout-history.js'
import { extensionService } from './set-extension.js'

export const WINDOWS_TYPE = 'Osroll.Upgrades/maintenanceWindows'
const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE
/** A window is open from one second (a six-field cron's resolution) to seven days. */
const DURATION = { minMs: 1_000, maxMs: 7 * DAY }
const MAX_WINDOWS = 20
/**
 * Overlaps are looked for over the year ahead (every DST change in it), at most this many
 * openings per window: an every-minute cron is checked over its first 2,000 openings.
 */
const OVERLAP_HORIZON_MS = 366 * DAY
const OVERLAP_OPENINGS = 2_000
const TOP = ['timeZone', 'windows']

const service = extensionService({
  field: 'maintenanceWindows',
  none: (name) => `The scale set '${name}' has no maintenanceWindows: batches start at any time.`,
  parse,
  next: (given: Given, base, nowMs) => {
    const timeZone = given.timeZone ?? base?.timeZone
    const windows = given.windows ?? base?.windows
    if (timeZone === undefined)
      throw Errors.InvalidParameter(
        'timeZone is required: an IANA time zone such as Europe/Berlin or UTC.',
        'properties.timeZone',
      )
    if (windows === undefined)
      throw Errors.InvalidParameter(
        'windows is required: a list of cron or weekly windows.',
        'properties.windows',
      )
    const next = { timeZone, windows }
    check(next, nowMs) // throws before anything is written
    return next
  },
  view: (resource, windows, { nowMs }) => view(resource.id, windows, nowMs),
  notify: true,
})

export const getMaintenanceWindows = service.get
/** PUT replaces, PATCH merges (`timeZone` and `windows` each; `windows` is replaced whole). */
export const putMaintenanceWindows = service.put
export const deleteMaintenanceWindows = service.delete

type Given = { timeZone?: string; windows?: MaintenanceWindow[] }

function parse(body: unknown): Given {
  const props =
    body && typeof body === 'object' ? (body as { properties?: unknown }).properties : undefined
  if (props === undefined || props === null || typeof props !== 'object' || Array.isArray(props))
    throw Errors.InvalidRequestContent('properties must be an object.', 'properties')
  const out: Given = {}
  for (const [name, value] of Object.entries(props)) {
    if (name === 'status') continue // read-only, as a GET shows it
    if (!TOP.includes(name))
      throw Errors.InvalidParameter(
        `Unknown maintenanceWindows member '${name}'; the members are ${TOP.join(', ')}.`,
        `properties.${name}`,
      )
    if (name === 'timeZone') out.timeZone = timeZoneOf(value)
    else out.windows = windowsOf(value)
  }
  return out
}

function timeZoneOf(value: unknown): string {
  if (typeof value !== 'string' || !knownTimeZone(value))
    throw Errors.InvalidParameter(
      `timeZone must be an IANA time zone such as Europe/Berlin, America/New_York or UTC, not ${JSON.stringify(value)}.`,
      'properties.timeZone',
    )
  return value
}

function windowsOf(value: unknown): MaintenanceWindow[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_WINDOWS)
    throw Errors.InvalidParameter(
      `windows must be a list of 1 to ${MAX_WINDOWS} windows (to have none, delete the resource), not ${JSON.stringify(value)}.`,
      'properties.windows',
    )
  return value.map((w, i) => windowOf(w, `properties.windows[${i}]`))
}

/** `{ "cron": "0 2 * * 6", "duration": "PT4H" }` or `{ "weekly": "Sat 02:00-Sun 06:00" }`. */
function windowOf(value: unknown, target: string): MaintenanceWindow {
  const example = `{"cron": "0 2 * * 6", "duration": "PT4H"} or {"weekly": "Sat 02:00-Sun 06:00"}`
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw Errors.InvalidParameter(`A window is ${example}, not ${JSON.stringify(value)}.`, target)
  const w = value as Record<string, unknown>
  const keys = Object.keys(w).sort().join(',')
  if (keys === 'cron,duration') {
    if (typeof w['cron'] !== 'string')
      throw Errors.InvalidParameter(`cron must be a string such as "0 2 * * 6".`, `${target}.cron`)
    const ms = typeof w['duration'] === 'string' ? parseDurationMs(w['duration']) : undefined
    if (ms === undefined || ms < DURATION.minMs || ms > DURATION.maxMs)
      throw Errors.InvalidParameter(
        `duration must be an ISO 8601 duration from ${formatDurationMs(DURATION.minMs)} to ${formatDurationMs(DURATION.maxMs)}, not ${JSON.stringify(w['duration'])}.`,
        `${target}.duration`,
      )
    return { cron: w['cron'].trim(), durationMs: ms }
  }
  if (keys === 'weekly') {
    const range = typeof w['weekly'] === 'string' ? w['weekly'].split(/\s*[-–]\s*/) : []
    if (range.length !== 2)
      throw Errors.InvalidParameter(
        `weekly must be a range such as "Sat 02:00-Sun 06:00", not ${JSON.stringify(w['weekly'])}.`,
        `${target}.weekly`,
      )
    const [start, end] = range as [string, string]
    return { weekly: { start, end } }
  }
  throw Errors.InvalidParameter(
    `A window is ${example}; this one has ${keys === '' ? 'no members' : keys}.`,
    target,
  )
}

/**
 * What the windows must be together: each parses in the time zone and fires, none opens while
 * another (or its own previous opening) is still open.
 */
function check(w: MaintenanceWindows, nowMs: number): void {
  w.windows.forEach((x, i) => {
    const target = `properties.windows[${i}]`
    const field = 'cron' in x ? `${target}.cron` : `${target}.weekly`
    const problem = patternProblem(x, w.timeZone)
    if (problem !== null) throw Errors.InvalidParameter(`Window ${i + 1}: ${problem}.`, field)
    if ('weekly' in x && sameTime(x.weekly.start, x.weekly.end))
      throw Errors.InvalidParameter(
        `Window ${i + 1}: a weekly range must end at another time than it starts ('${x.weekly.start}').`,
        field,
      )
    const alone = windowStateAt({ timeZone: w.timeZone, windows: [x] }, nowMs)
    if (!alone.open && alone.nextOpenAtMs === null)
      throw Errors.InvalidParameter(
        `Window ${i + 1}: the cron '${'cron' in x ? x.cron : ''}' never fires (no date matches it), so the window would never open.`,
        field,
      )
  })
  const all = openings(w, nowMs, nowMs + OVERLAP_HORIZON_MS, OVERLAP_OPENINGS)
  let open = all[0]
  for (const o of all.slice(1)) {
    if (open && o.openedAtMs < open.closesAtMs) {
      const a = open.window + 1
      const b = o.window + 1
      throw Errors.InvalidParameter(
        a === b
          ? `Window ${a} overlaps itself: it opens again at ${iso(o.openedAtMs)} while still open (until ${iso(open.closesAtMs)}); its duration must be shorter than the time between two runs of its cron.`
          : `Windows ${Math.min(a, b)} and ${Math.max(a, b)} overlap: window ${b} opens at ${iso(o.openedAtMs)} while window ${a} is open (${iso(open.openedAtMs)} to ${iso(open.closesAtMs)}).`,
        `properties.windows[${o.window}]`,
      )
    }
    if (!open || o.closesAtMs > open.closesAtMs) open = o
  }
}

function sameTime(a: string, b: string): boolean {
  return a.trim().toLowerCase().replace(/\s+/g, ' ') === b.trim().toLowerCase().replace(/\s+/g, ' ')
}

function view(setId: string, w: MaintenanceWindows, nowMs: number): Record<string, unknown> {
  const state = windowStateAt(w, nowMs)
  return {
    id: `${setId.replace(/\/$/, '')}/providers/${WINDOWS_TYPE}/default`,
    name: 'default',
    type: WINDOWS_TYPE,
    properties: {
      timeZone: w.timeZone,
      windows: w.windows.map((x) =>
        'cron' in x
          ? { cron: x.cron, duration: formatDurationMs(x.durationMs) }
          : { weekly: `${x.weekly.start}-${x.weekly.end}` },
      ),
      status: state.open
        ? { open: true, openedAt: iso(state.openedAtMs), closesAt: iso(state.closesAtMs) }
        : {
            open: false,
            nextOpenAt: state.nextOpenAtMs === null ? null : iso(state.nextOpenAtMs),
          },
    },
  }
}
