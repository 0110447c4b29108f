/**
 * ISO-8601 durations as ARM uses them (`PT0S`, `PT5M`, `PT1H30M`, `P1D`), parsed to whole
 * milliseconds at the edge so the rest of osroll works in integers.
 */

const DURATION_PATTERN = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/

/**
 * Milliseconds of an ISO-8601 duration, or undefined when malformed. Years, months and weeks are
 * refused because their length is ambiguous.
 * @example parseDurationMs('PT1H30M') === 5_400_000; parseDurationMs('PT0S') === 0
 */
export function parseDurationMs(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text)
  if (!m || text === 'P' || text.endsWith('T')) return undefined
  const [days, hours, minutes, seconds] = [m[1], m[2], m[3], m[4]].map((x) => Number(x ?? 0))
  const ms = (((days ?? 0) * 24 + (hours ?? 0)) * 60 + (minutes ?? 0)) * 60_000
  return ms + Math.round((seconds ?? 0) * 1000)
}

/**
 * Formats milliseconds as the shortest ISO-8601 duration.
 * @example formatDurationMs(5_400_000) === 'PT1H30M'; formatDurationMs(0) === 'PT0S'
 */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return 'PT0S'
  let rest = ms
  const days = Math.floor(rest / 86_400_000)
  rest -= days * 86_400_000
  const hours = Math.floor(rest / 3_600_000)
  rest -= hours * 3_600_000
  const minutes = Math.floor(rest / 60_000)
  rest -= minutes * 60_000
  const seconds = rest / 1000
  let out = 'P' + (days ? `${days}D` : '')
  if (hours || minutes || seconds) {
    out += 'T' + (hours ? `${hours}H` : '') + (minutes ? `${minutes}M` : '')
    out += seconds ? `${seconds}S` : ''
  }
  return out
}
