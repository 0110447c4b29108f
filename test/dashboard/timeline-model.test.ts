/** The rollout Gantt's model (dashboard/src/timeline-model.ts), without a browser. */
import { describe, expect, it } from 'vitest'
import {
  buildGantt,
  formatMs,
  gateAndHookAnswers,
  parseIsoDuration,
} from '../../dashboard/src/timeline-model.js'
import type { TimelineInstance, TimelineProps } from '../../dashboard/src/timeline-model.js'

const T0 = Date.parse('2026-12-04T10:00:00.000Z')
const at = (s: number) => new Date(T0 + s * 1000).toISOString()

/** An instance that went requested → booted → healthy → succeeded, `slow` s late. */
function succeeded(id: string, batch: number, start: number, slow = 0): TimelineInstance {
  return {
    instanceId: id,
    batch,
    zone: null,
    updateDomain: Number(id) % 5,
    state: 'Succeeded',
    outcome: 'Succeeded',
    steps: [
      { step: 'requested', time: at(start), reason: `Batch${batch}` },
      { step: 'diskSwapped', time: at(start + 2), reason: 'DiskSwapped' },
      { step: 'booted', time: at(start + 5 + slow), reason: 'Booted' },
      { step: 'firstHealthy', time: at(start + 8 + slow), reason: 'FirstHealthy' },
      { step: 'succeeded', time: at(start + 10 + slow), reason: 'Healthy' },
    ],
  }
}

function rolledBack(id: string, batch: number, start: number): TimelineInstance {
  return {
    instanceId: id,
    batch,
    zone: '1',
    updateDomain: 0,
    state: 'RolledBack',
    outcome: 'RolledBack',
    steps: [
      { step: 'requested', time: at(start), reason: `Batch${batch}` },
      { step: 'booted', time: at(start + 4), reason: 'Booted' },
      { step: 'failed', time: at(start + 30), reason: 'HealthDeadlineExceeded' },
      { step: 'rollbackRequested', time: at(start + 30), reason: 'HealthDeadlineExceeded' },
      { step: 'rolledBack', time: at(start + 40), reason: 'PreviousDiskRestored' },
    ],
  }
}

function timeline(instances: TimelineInstance[], end: number | null): TimelineProps {
  const batches = [...new Set(instances.map((i) => i.batch))].map((b) => {
    const list = instances.filter((i) => i.batch === b)
    const last = Math.max(...list.map((i) => Date.parse(i.steps.at(-1)?.time ?? at(0))))
    return {
      batch: b,
      instanceIds: list.map((i) => i.instanceId),
      startTime: list[0]?.steps[0]?.time ?? at(0),
      endTime: end === null ? null : new Date(last).toISOString(),
    }
  })
  return {
    rolloutId: 'r1',
    runningStatus: {
      code: end === null ? 'RollingForward' : 'Completed',
      startTime: at(0),
      endTime: end === null ? null : at(end),
    },
    batches,
    instances,
    rolloutSteps: [
      { time: at(12), from: 'RollingForward', to: 'Paused', reason: 'PauseRequested' },
      { time: at(20), from: 'Paused', to: 'RollingForward', reason: 'ResumeRequested' },
    ],
  }
}

describe('buildGantt', () => {
  const t = timeline(
    [succeeded('0', 1, 0), succeeded('1', 1, 0, 3), succeeded('2', 2, 20), rolledBack('3', 2, 20)],
    70,
  )
  it('has a row per instance with a segment per step, bands per batch, the slowest marked', () => {
    const g = buildGantt(t, T0 + 100_000)
    expect(g.aggregated).toBe(false)
    expect(g.rows.map((r) => r.key)).toEqual(['0', '1', '2', '3'])
    const r0 = g.rows[0]
    expect(r0?.segments.map((s) => s.kind)).toEqual([
      'applying',
      'booting',
      'initializing',
      'soak',
      'healthy',
    ])
    // Healthy lasts until its batch ended (instance 1, 3 s slower, ended it).
    expect(r0?.segments.at(-1)?.endMs).toBe(T0 + 13_000)
    expect(g.rows.filter((r) => r.critical).map((r) => r.key)).toEqual(['1', '3'])
    expect(g.bands.map((b) => [b.batch, b.rows])).toEqual([
      [1, [0, 1]],
      [2, [2, 3]],
    ])
    expect(g.counts).toEqual({ Succeeded: 3, RolledBack: 1 })
    expect(g.waits).toEqual([
      {
        startMs: T0 + 12_000,
        endMs: T0 + 20_000,
        state: 'Paused',
        reason: 'PauseRequested',
      },
    ])
  })
  it('marks a rollback with its typed reason', () => {
    const r3 = buildGantt(t, T0 + 100_000).rows[3]
    expect(r3?.segments.map((s) => s.kind)).toEqual([
      'applying',
      'initializing',
      'rollingBack',
      'rolledBack',
    ])
    expect(r3?.marks.map((m) => m.label)).toEqual([
      'failed: HealthDeadlineExceeded',
      'rollback requested: HealthDeadlineExceeded',
      'rolled back: PreviousDiskRestored',
    ])
    expect(r3?.summary).toBe('RolledBack (HealthDeadlineExceeded) · zone 1 · UD 0')
  })
  it('replays: only what had happened by the position is drawn', () => {
    const g = buildGantt(t, T0 + 25_000)
    expect(g.atMs).toBe(T0 + 25_000)
    expect(g.rows.map((r) => r.key)).toEqual(['0', '1', '2', '3'])
    const r3 = g.rows[3]
    expect(r3?.outcome).toBeNull()
    expect(r3?.marks).toEqual([])
    expect(r3?.segments.at(-1)).toMatchObject({ kind: 'initializing', endMs: T0 + 25_000 })
    expect(buildGantt(t, T0 + 5_000).rows.map((r) => r.key)).toEqual(['0', '1'])
  })
  it('aggregates 1,000 instances into a row per batch that says what happened', () => {
    const many: TimelineInstance[] = []
    for (let i = 0; i < 1000; i++) {
      const batch = 1 + Math.floor(i / 200)
      const start = (batch - 1) * 60
      if (i === 417) many.push(rolledBack(String(i), batch, start))
      else many.push(succeeded(String(i), batch, start, i % 200 === 7 ? 9 : i % 3))
    }
    const g = buildGantt(timeline(many, 300), T0 + 400_000)
    expect(g.aggregated).toBe(true)
    expect(g.rows).toHaveLength(5)
    expect(g.rows.map((r) => r.label)).toEqual([
      'Batch 1 (200)',
      'Batch 2 (200)',
      'Batch 3 (200)',
      'Batch 4 (200)',
      'Batch 5 (200)',
    ])
    expect(g.rows.every((r) => r.critical)).toBe(true)
    // Batch 3 holds the rolled-back one: its slowest instance and its failure, counted.
    expect(g.rows[2]?.summary).toBe('200 instances: 199 Succeeded, 1 RolledBack; slowest #417 40s')
    expect(g.rows[2]?.marks.map((m) => m.label)).toContain('failed: HealthDeadlineExceeded × 1')
    expect(g.rows[0]?.summary).toBe('200 instances: 200 Succeeded; slowest #7 19s')
    expect(g.counts).toEqual({ Succeeded: 999, RolledBack: 1 })
    expect(g.bands).toHaveLength(5)
  })
})

describe('durations', () => {
  it('formats and parses', () => {
    expect(formatMs(800)).toBe('0.8s')
    expect(formatMs(65_000)).toBe('1m 5s')
    expect(formatMs(3_720_000)).toBe('1h 2m')
    expect(parseIsoDuration('PT1H2M3.5S')).toBe(3_723_500)
    expect(parseIsoDuration('PT0S')).toBe(0)
    expect(parseIsoDuration('nope')).toBeNull()
  })
})

describe('gateAndHookAnswers', () => {
  it("lists the instance's gate and hook answers of its latest rollout, in order", () => {
    const i = succeeded('0', 1, 0)
    const hook = { hook: 'preReimage', answer: 'defer', source: 'webhook', reason: 'draining' }
    const steps = [
      { step: 'hook', time: at(0), reason: 'PreReimageDefer', hook },
      ...i.steps,
      { step: 'gate', time: at(11), reason: 'HealthyAndGatesPassed' },
    ]
    const t = { instances: [{ ...i, steps }] } as unknown as TimelineProps
    expect(gateAndHookAnswers(t)).toEqual([steps[0], steps[steps.length - 1]])
    expect(gateAndHookAnswers({ instances: [i] } as unknown as TimelineProps)).toEqual([])
  })
})
