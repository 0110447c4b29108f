/**
 * Maintenance windows in the simulator (docs/rollouts.md § Maintenance windows): the canonical
 * scenario's rollout waits, resumes in the next window and lets a batch in flight finish after
 * its window closed; across Berlin's March DST change.
 */
import { describe, expect, it } from 'vitest'
import { CANONICAL } from './canonical.js'
import { runScenario } from './harness.js'

const iso = (ms: number) => new Date(ms).toISOString()

describe('maintenance windows (canonical scenario)', () => {
  it('waits, resumes in the next window, finishes the batch in flight', async () => {
    const r = await runScenario(CANONICAL.find((c) => c.name === 'maintenance-window')!)
    expect(r.violations).toEqual([])
    const [rollout] = r.rollouts
    expect(rollout).toMatchObject({ status: 'Completed', batchCount: 5 })
    const batch = (b: number) => rollout!.attempts.filter((a) => a.batch === b)
    const startOf = (b: number) => iso(Math.min(...batch(b).map((a) => a.startedAtMs)))
    const endOf = (b: number) => iso(Math.max(...batch(b).map((a) => a.endedAtMs ?? 0)))
    // Published at 01:41 CET; the first window after it opens at 03:00 CEST (01:00Z).
    expect(startOf(1)).toBe('2026-03-29T01:00:00.000Z')
    // Batch 2 started inside the window and ended after it closed at 01:10Z: it was finished.
    expect(startOf(2) < '2026-03-29T01:10:00.000Z').toBe(true)
    expect(endOf(2) > '2026-03-29T01:10:00.000Z').toBe(true)
    // Batch 3 waited for the next window, 04:00 CEST.
    expect(startOf(3)).toBe('2026-03-29T02:00:00.000Z')
    const waits = r.events.filter((e) => e.reason === 'MaintenanceWindowClosed')
    expect(waits.map((e) => [iso(e.atMs), iso(e.untilMs!)])).toEqual([
      ['2026-03-29T00:41:00.000Z', '2026-03-29T01:00:00.000Z'],
      ['2026-03-29T01:10:40.000Z', '2026-03-29T02:00:00.000Z'],
      ['2026-03-29T02:10:40.000Z', '2026-03-29T03:00:00.000Z'],
    ])
    expect(r.events.filter((e) => e.reason === 'MaintenanceWindowOpened')).toHaveLength(3)
  })
})
