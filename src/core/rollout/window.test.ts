/**
 * docs/rollouts.md § Maintenance windows over the pure `planStep`: the decision takes the
 * window's state as input (the runtime computes it), so every rule is a table of instants.
 */
import { describe, expect, it } from 'vitest'
import { fleet, spec } from '../../../test-support/builders.js'
import { planStep } from './plan.js'
import type { Snapshot, Step } from './plan.js'
import { startRollout } from './start.js'
import type { InstanceObservation, Rollout } from './types.js'
import type { WindowState } from './window.js'
import { waitingMessage } from './window.js'

const MIN = 60_000
const CLOSED_UNTIL = (ms: number): WindowState => ({ open: false, nextOpenAtMs: ms })
const OPEN_UNTIL = (ms: number): WindowState => ({ open: true, openedAtMs: 0, closesAtMs: ms })

function begin(o: { progressDeadlineMs?: number } = {}): Rollout {
  return startRollout({
    id: 'r1',
    spec: spec(),
    request: {
      kind: 'OSImage',
      startedBy: 'Platform',
      target: { imageVersion: '1.1.0', modelGeneration: 1 },
      pace: 'batched',
      scope: null,
    },
    healthDeadlineMs: 5 * MIN,
    ...(o.progressDeadlineMs ? { progressDeadlineMs: o.progressDeadlineMs } : {}),
    nowMs: 0,
  })
}

function plan(
  r: Rollout,
  instances: readonly InstanceObservation[],
  nowMs: number,
  window: WindowState | null,
  o: Partial<Snapshot> = {},
): Step {
  return planStep(
    {
      spec: spec(),
      instances,
      rollout: r,
      cancelRequestedAtMs: null,
      failures: [],
      nextInstanceId: 100,
      window,
      ...o,
    },
    nowMs,
  )
}

/** The fleet once the step's reimages landed and the instances are healthy. */
function upgraded(instances: readonly InstanceObservation[], step: Step, atMs: number) {
  const ids = new Set(step.actions.flatMap((a) => (a.type === 'reimage' ? a.instanceIds : [])))
  return instances.map((i) =>
    ids.has(i.instanceId)
      ? { ...i, osImageVersion: '1.1.0', previousOsImageVersion: '1.0.0', bootedAtMs: atMs }
      : i,
  )
}

describe('maintenance windows in planStep', () => {
  it('rule 1–2: closed → the first batch waits, recorded once, woken when it opens', () => {
    const f = fleet(10)
    const wait = plan(begin(), f, 1_000, CLOSED_UNTIL(30 * MIN))
    expect(wait.rollout.batchCount).toBe(0)
    expect(wait.actions).toEqual([])
    expect(wait.wakeAtMs).toBe(30 * MIN)
    expect(wait.rollout.windowWait).toEqual({ sinceMs: 1_000, untilMs: 30 * MIN })
    expect(wait.events).toEqual([
      expect.objectContaining({
        from: 'RollingForward',
        to: 'WaitingForWindow',
        reason: 'MaintenanceWindowClosed',
        untilMs: 30 * MIN,
      }),
    ])
    // A second pass while closed records nothing new and changes nothing.
    const again = plan(wait.rollout, f, 2_000, CLOSED_UNTIL(30 * MIN))
    expect([again.events, again.rollout.revision]).toEqual([[], wait.rollout.revision])
    // Open: the wait ends and batch 1 starts in the same decision.
    const open = plan(again.rollout, f, 30 * MIN, OPEN_UNTIL(40 * MIN))
    expect(open.rollout.windowWait).toBeNull()
    expect(open.rollout.batchCount).toBe(1)
    expect(open.events[0]).toMatchObject({
      from: 'WaitingForWindow',
      to: 'RollingForward',
      reason: 'MaintenanceWindowOpened',
    })
  })

  it('rule 3: a batch in flight when the window closes goes on; the next one waits', () => {
    const f = fleet(10)
    const first = plan(begin(), f, 0, OPEN_UNTIL(MIN))
    expect(first.rollout.batchCount).toBe(1)
    // Closed now, batch 1 still booting: nothing is stopped, nothing waits yet.
    const during = plan(first.rollout, f, 2 * MIN, CLOSED_UNTIL(60 * MIN))
    expect(during.rollout.windowWait ?? null).toBeNull()
    expect(during.rollout.attempts.every((a) => a.state === 'Reimaging')).toBe(true)
    // It completes outside the window; batch 2 waits for the next one.
    const after = plan(during.rollout, upgraded(f, first, 2 * MIN), 3 * MIN, CLOSED_UNTIL(60 * MIN))
    expect(after.rollout.attempts.map((a) => a.state)).toEqual(['Succeeded', 'Succeeded'])
    expect(after.rollout.batchCount).toBe(1)
    expect(after.rollout.windowWait).toEqual({ sinceMs: 3 * MIN, untilMs: 60 * MIN })
  })

  it('rule 7: no windows (null) or open: batches start as before, nothing recorded', () => {
    const f = fleet(10)
    const none = plan(begin(), f, 0, null)
    const open = plan(begin(), f, 0, OPEN_UNTIL(MIN))
    expect(none.rollout.batchCount).toBe(1)
    expect(open).toEqual(none)
    expect('windowWait' in none.rollout).toBe(false)
  })

  it('rule 6: the progressDeadline stands still while waiting, and restarts when it opens', () => {
    const f = fleet(10)
    const wait = plan(begin({ progressDeadlineMs: 10 * MIN }), f, 0, CLOSED_UNTIL(6 * 60 * MIN))
    // Hours later, still closed: not stopped, no wake-up for the deadline.
    const later = plan(wait.rollout, f, 5 * 60 * MIN, CLOSED_UNTIL(6 * 60 * MIN))
    expect(later.rollout.status).toBe('RollingForward')
    expect(later.wakeAtMs).toBe(6 * 60 * MIN)
    const open = plan(later.rollout, f, 6 * 60 * MIN, OPEN_UNTIL(7 * 60 * MIN))
    expect(open.rollout).toMatchObject({ batchCount: 1, resumedAtMs: 6 * 60 * MIN })
  })

  it('rule 6: a pause holds first; a cancel ends a waiting rollout at once', () => {
    const f = fleet(10)
    const wait = plan(begin(), f, 0, CLOSED_UNTIL(MIN))
    const paused = plan(wait.rollout, f, MIN, OPEN_UNTIL(2 * MIN), { pauseRequestedAtMs: 500 })
    expect(paused.rollout).toMatchObject({ batchCount: 0, pausedAtMs: MIN })
    const cancelled = plan(wait.rollout, f, 2_000, CLOSED_UNTIL(MIN), {
      cancelRequestedAtMs: 1_500,
    })
    expect(cancelled.rollout).toMatchObject({ status: 'Cancelled', windowWait: null })
  })

  it('says until when', () => {
    expect(waitingMessage(Date.parse('2026-03-28T01:00:00Z'))).toBe(
      'waiting for maintenance window until 2026-03-28T01:00:00.000Z',
    )
    expect(waitingMessage(null)).toBe('waiting for maintenance window (none opens again)')
  })
})
