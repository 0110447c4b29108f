import { describe, expect, it } from 'vitest'
import { openings, patternProblem, windowStateAt, knownTimeZone } from './maintenance-window.js'
import type { MaintenanceWindows } from '../core/rollout/window.js'

const t = (iso: string) => Date.parse(iso)
const H = 3_600_000

describe('windowStateAt', () => {
  const berlinWeekend: MaintenanceWindows = {
    timeZone: 'Europe/Berlin',
    windows: [{ weekly: { start: 'Sat 02:00', end: 'Sun 06:00' } }],
  }
  it.each([
    // 2026-03-28 is the Saturday before Berlin's clocks go forward (Sun 29 March, 02:00 → 03:00)
    [
      'just before it opens',
      '2026-03-28T00:59:59Z',
      { open: false, nextOpenAtMs: t('2026-03-28T01:00:00Z') },
    ],
    [
      'as it opens (CET, +1)',
      '2026-03-28T01:00:00Z',
      { open: true, openedAtMs: t('2026-03-28T01:00:00Z'), closesAtMs: t('2026-03-29T04:00:00Z') },
    ],
    [
      'Sunday 05:59 CEST',
      '2026-03-29T03:59:00Z',
      { open: true, openedAtMs: t('2026-03-28T01:00:00Z'), closesAtMs: t('2026-03-29T04:00:00Z') },
    ],
    [
      'as it closes (CEST, +2): 27 hours, not 28',
      '2026-03-29T04:00:00Z',
      { open: false, nextOpenAtMs: t('2026-04-04T00:00:00Z') },
    ],
    // 2026-10-25: clocks go back (03:00 → 02:00), the range is 29 hours long
    [
      'the October weekend',
      '2026-10-24T12:00:00Z',
      { open: true, openedAtMs: t('2026-10-24T00:00:00Z'), closesAtMs: t('2026-10-25T05:00:00Z') },
    ],
  ])('weekly Sat 02:00–Sun 06:00 in Berlin: %s', (_what, at, want) => {
    expect(windowStateAt(berlinWeekend, t(at))).toEqual(want)
  })

  it('cron + duration in New York across the November change (EDT → EST)', () => {
    const w: MaintenanceWindows = {
      timeZone: 'America/New_York',
      windows: [{ cron: '0 1 * * 0', durationMs: 2 * H }],
    }
    // Sun 1 Nov 2026 01:00 EDT is 05:00Z; the next Sunday 01:00 EST is 06:00Z
    expect(windowStateAt(w, t('2026-11-01T06:59:59Z'))).toEqual({
      open: true,
      openedAtMs: t('2026-11-01T05:00:00Z'),
      closesAtMs: t('2026-11-01T07:00:00Z'),
    })
    expect(windowStateAt(w, t('2026-11-01T07:00:00Z'))).toEqual({
      open: false,
      nextOpenAtMs: t('2026-11-08T06:00:00Z'),
    })
  })

  it('several windows: open in any; closed until the earliest next opening', () => {
    const w: MaintenanceWindows = {
      timeZone: 'UTC',
      windows: [
        { cron: '0 22 * * *', durationMs: H },
        { cron: '0 3 * * *', durationMs: H },
      ],
    }
    expect(windowStateAt(w, t('2026-01-01T12:00:00Z'))).toEqual({
      open: false,
      nextOpenAtMs: t('2026-01-01T22:00:00Z'),
    })
    expect(windowStateAt(w, t('2026-01-02T03:30:00Z'))).toMatchObject({ open: true })
  })

  it('a cron that never fires is never open and never opens', () => {
    const w: MaintenanceWindows = {
      timeZone: 'UTC',
      windows: [{ cron: '0 0 30 2 *', durationMs: H }],
    }
    expect(windowStateAt(w, t('2026-01-01T00:00:00Z'))).toEqual({ open: false, nextOpenAtMs: null })
  })

  it('six fields: seconds first', () => {
    const w: MaintenanceWindows = {
      timeZone: 'UTC',
      windows: [{ cron: '*/20 * * * * *', durationMs: 5_000 }],
    }
    expect(windowStateAt(w, t('2026-01-01T00:00:04.999Z'))).toMatchObject({ open: true })
    expect(windowStateAt(w, t('2026-01-01T00:00:05Z'))).toEqual({
      open: false,
      nextOpenAtMs: t('2026-01-01T00:00:20Z'),
    })
  })
})

describe('openings', () => {
  it('lists openings in time order, one before the range included', () => {
    const w: MaintenanceWindows = {
      timeZone: 'UTC',
      windows: [{ cron: '0 2 * * *', durationMs: H }],
    }
    const o = openings(w, t('2026-01-01T12:00:00Z'), t('2026-01-03T00:00:00Z'), 10)
    expect(o.map((x) => new Date(x.openedAtMs).toISOString())).toEqual([
      '2026-01-01T02:00:00.000Z',
      '2026-01-02T02:00:00.000Z',
    ])
  })
})

describe('patternProblem and knownTimeZone', () => {
  it.each([
    [{ cron: 'every night', durationMs: H }, /five fields/],
    [{ cron: '0 25 * * *', durationMs: H }, /./],
    [{ weekly: { start: 'Caturday 02:00', end: 'Sun 06:00' } }, /Sat 02:00/],
    [{ weekly: { start: 'Sat 24:00', end: 'Sun 06:00' } }, /Sat 02:00/],
  ])('%j is refused', (w, message) => {
    expect(patternProblem(w, 'UTC')).toMatch(message)
  })
  it('accepts good ones', () => {
    expect(patternProblem({ cron: '0 2 * * 6', durationMs: H }, 'Europe/Berlin')).toBeNull()
    expect(
      patternProblem({ weekly: { start: 'sat 02:00', end: 'Sun 6:00'.replace('6', '06') } }, 'UTC'),
    ).toBeNull()
  })
  it.each([
    ['Europe/Berlin', true],
    ['America/New_York', true],
    ['UTC', true],
    ['Mars/Olympus_Mons', false],
    ['+01:00', false],
    ['', false],
  ])('%s known: %s', (tz, known) => {
    expect(knownTimeZone(tz)).toBe(known)
  })
})
