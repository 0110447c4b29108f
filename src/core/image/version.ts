/**
 * Image versions: `Major.Minor.Build`, each part a non-negative integer that may exceed 32 bits
 * (platform images use dates such as 2024.0101.123456789012). Compared numerically, part by part,
 * never as strings: 1.10.0 > 1.9.0.
 */

// Leading zeros are allowed: Canonical publishes versions such as 18.04.202401161.
const VERSION_PATTERN = /^(\d{1,30})\.(\d{1,30})\.(\d{1,30})$/

/**
 * True when `text` is an exact `Major.Minor.Build` version (not `latest`).
 * @example isVersion('1.10.0') === true; isVersion('1.2') === false; isVersion('latest') === false
 */
export function isVersion(text: string): boolean {
  return VERSION_PATTERN.test(text)
}

/**
 * Numeric, part-by-part comparison; negative when a < b, 0 when equal, positive when a > b.
 * Throws on malformed input: callers validate first.
 * @example compareVersions('1.10.0', '1.9.0') > 0; compareVersions('2.0.0', '10.0.0') < 0
 */
export function compareVersions(a: string, b: string): number {
  if (a === b && VERSION_PATTERN.test(a)) return 0
  const pa = parseParts(a)
  const pb = parseParts(b)
  for (let i = 0; i < 3; i++) {
    const c = compareDigits(pa[i] as string, pb[i] as string)
    if (c !== 0) return c
  }
  return 0
}

/**
 * The highest version of a list, or undefined when it is empty.
 * @example maxVersion(['1.9.0', '1.10.0', '1.2.0']) === '1.10.0'
 */
export function maxVersion(versions: Iterable<string>): string | undefined {
  let best: string | undefined
  for (const v of versions) if (best === undefined || compareVersions(v, best) > 0) best = v
  return best
}

/** Sorts a copy ascending, numerically. @example sortVersions(['1.10.0','1.9.0']) → ['1.9.0','1.10.0'] */
export function sortVersions(versions: readonly string[]): string[] {
  return [...versions].sort(compareVersions)
}

function parseParts(text: string): string[] {
  const m = VERSION_PATTERN.exec(text)
  if (!m) throw new TypeError(`not a Major.Minor.Build version: ${JSON.stringify(text)}`)
  return [m[1] as string, m[2] as string, m[3] as string]
}

/** Compares non-negative integers written in decimal, of any length, without parsing them. */
function compareDigits(x: string, y: string): number {
  const a = x.replace(/^0+(?=\d)/, '')
  const b = y.replace(/^0+(?=\d)/, '')
  if (a.length !== b.length) return a.length < b.length ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}
