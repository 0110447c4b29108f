import { describe, expect, it } from 'vitest'
import { formatDurationMs, parseDurationMs } from './duration.js'

describe('ISO-8601 durations', () => {
  it.each([
    ['PT0S', 0],
    ['PT5M', 300_000],
    ['PT1H30M', 5_400_000],
    ['P1D', 86_400_000],
    ['PT1.5S', 1500],
    ['P1DT2H', 93_600_000],
  ])('%s = %i ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms)
    expect(parseDurationMs(formatDurationMs(ms))).toBe(ms)
  })

  it.each(['', 'P', 'PT', '5M', 'P1M', 'P1Y', 'PT-5S', 'pt5m', 'PT5M ', 'P1W'])(
    'refuses %j',
    (text) => {
      expect(parseDurationMs(text)).toBeUndefined()
    },
  )

  it('formats the shortest form', () => {
    expect(formatDurationMs(0)).toBe('PT0S')
    expect(formatDurationMs(300_000)).toBe('PT5M')
    expect(formatDurationMs(5_400_000)).toBe('PT1H30M')
  })
})
