/**
 * batchSoak and progressDeadline (docs/rollouts.md § Per-set timing) over the pure `planStep`:
 * the soak holds the next batch until the set's health has been unchanged for min, restarts on a
 * change and fails the rollout at max; progressDeadline stops a rollout in which nothing counted.
 */
import { describe, expect, it } from 'vitest'
import { fleet, spec } from '../../../test-support/builders.js'
import { dryRun } from './dry-run.js'
import { planStep } from './plan.js'
import type { Step } from './plan.js'
import { startRollout } from './start.js'
import type { StartRequest } from './start.js'
import type { InstanceObservation, Rollout } from './types.js'

const S = 1000
const OS: StartRequest = {
  kind: 'OSImage',
  startedBy: 'Platform',
  target: { imageVersion: '1.1.0', modelGeneration: 1 },
  pace: 'batched',
  scope: null,
}
const SOAK = { minMs: 30 * S, maxMs: 120 * S }

function begin(o: { soak?: typeof SOAK; progressDeadlineMs?: number } = {}): Rollout {
  return startRollout({
    id: 'r1',
    spec: spec(),
    request: OS,
    healthDeadlineMs: 300 * S,
    ...(o.soak ? { batchSoak: o.soak } : {}),
    ...(o.progressDeadlineMs ? { progressDeadlineMs: o.progressDeadlineMs } : {}),
    nowMs: 0,
  })
}

function plan(r: Rollout, instances: readonly InstanceObservation[], nowMs: number): Step {
  return planStep(
    {
      spec: spec(),
      instances,
      rollout: r,
      cancelRequestedAtMs: null,
      failures: [],
      nextInstanceId: 100,
    },
    nowMs,
  )
}

/** The fleet with the plan's reimages landed and healthy. */
function landed(instances: readonly InstanceObservation[], step: Step): InstanceObservation[] {
  const ids = new Set(step.actions.flatMap((a) => (a.type === 'reimage' ? a.instanceIds : [])))
  return instances.map((i) =>
    ids.has(i.instanceId)
      ? {
          ...i,
          osImageVersion: '1.1.0',
          previousOsImageVersion: i.osImageVersion,
          health: 'healthy',
        }
      : i,
  )
}

const sick = (f: readonly InstanceObservation[], id: string, health: 'healthy' | 'unhealthy') =>
  f.map((i) => (i.instanceId === id ? { ...i, health } : i))

/** Batch 1 started at 0, landed and counted at 10 s: the soak starts then. */
function soakingAt10s(o: { progressDeadlineMs?: number } = {}) {
  const f0 = fleet(10)
  const s1 = plan(begin({ soak: SOAK, ...o }), f0, 0)
  const f1 = landed(f0, s1)
  const s2 = plan(s1.rollout, f1, 10 * S)
  return { f1, s2 }
}

describe('batchSoak', () => {
  it('holds the next batch until the set was unchanged for min, and records it', () => {
    const { f1, s2 } = soakingAt10s()
    expect(s2.rollout.attempts.map((a) => a.state)).toEqual(['Succeeded', 'Succeeded'])
    expect(s2.rollout.soak).toMatchObject({ batch: 1, startedAtMs: 10 * S, stableSinceMs: 10 * S })
    expect(s2.events.at(-1)).toMatchObject({
      from: 'RollingForward',
      to: 'Soaking',
      reason: 'Batch1Soak',
    })
    expect(s2.wakeAtMs).toBe(40 * S) // 10 s + min 30 s
    const early = plan(s2.rollout, f1, 39 * S)
    expect(early.rollout.batchCount).toBe(1)
    const s3 = plan(early.rollout, f1, 40 * S)
    expect(s3.rollout.batchCount).toBe(2)
    expect(s3.rollout.soak).toBeNull()
    expect(s3.events[0]).toMatchObject({
      from: 'Soaking',
      to: 'RollingForward',
      reason: 'SoakPassed',
    })
  })

  it('restarts on any change of health, naming the instance', () => {
    const { f1, s2 } = soakingAt10s()
    // instance 3 (not in the batch) flaps at 20 s and 25 s: stable since 25 s, passes at 55 s
    const s3 = plan(s2.rollout, sick(f1, '3', 'unhealthy'), 20 * S)
    expect(s3.events).toEqual([
      expect.objectContaining({
        instanceId: '3',
        from: 'healthy',
        to: 'unhealthy',
        reason: 'SoakRestarted',
      }),
    ])
    const s4 = plan(s3.rollout, f1, 25 * S)
    expect(s4.wakeAtMs).toBe(55 * S)
    expect(plan(s4.rollout, f1, 54 * S).rollout.batchCount).toBe(1)
    expect(plan(s4.rollout, f1, 55 * S).rollout.batchCount).toBe(2)
  })

  it('fails the rollout SoakNotStable when the set never settles before max', () => {
    const { f1, s2 } = soakingAt10s()
    let r = s2.rollout
    for (let t = 20; t < 130; t += 20)
      r = plan(r, sick(f1, '3', t % 40 ? 'unhealthy' : 'healthy'), t * S).rollout
    expect(r.status).toBe('RollingForward')
    const end = plan(r, sick(f1, '3', 'unhealthy'), 130 * S) // max: 10 s + 120 s
    expect(end.rollout.status).toBe('Faulted')
    expect(end.rollout.batchCount).toBe(1)
    expect(end.rollout.error?.code).toBe('SoakNotStable')
    expect(end.rollout.error?.message).toMatch(
      /minimum of PT30S within its maximum of PT2M after batch 1 .* instance 3 went from healthy to unhealthy at 1970-01-01T00:02:10.000Z/,
    )
    expect(end.events.at(-1)).toMatchObject({
      from: 'Soaking',
      to: 'Faulted',
      reason: 'SoakNotStable',
    })
  })

  it('combines with pauseTimeBetweenBatches: both must pass', () => {
    const f0 = fleet(10)
    const policy = { ...spec().rolling, pauseBetweenBatchesMs: 60 * S }
    const r0 = { ...begin({ soak: SOAK }), policy }
    const s1 = plan(r0, f0, 0)
    const f1 = landed(f0, s1)
    const s2 = plan(s1.rollout, f1, 10 * S)
    expect(s2.wakeAtMs).toBe(40 * S) // the soak's min first
    const s3 = plan(s2.rollout, f1, 40 * S)
    expect([s3.rollout.batchCount, s3.rollout.soak, s3.wakeAtMs]).toEqual([1, null, 70 * S])
    expect(plan(s3.rollout, f1, 70 * S).rollout.batchCount).toBe(2)
  })

  it("the dry-run plan's worst case counts each soak at its max, and says so", () => {
    const input = {
      spec: spec(),
      instances: fleet(10),
      request: OS,
      healthDeadlineMs: 300 * S,
      nextInstanceId: 100,
      nowMs: 0,
    }
    const plain = dryRun(input)
    const soaked = dryRun({ ...input, batchSoak: SOAK })
    expect(soaked.batches).toEqual(plain.batches)
    // 5 batches, each soak 120 s where none was
    expect(soaked.worstCaseDurationMs - plain.worstCaseDurationMs).toBe(5 * 120 * S)
    expect(soaked.worstCaseAssumes).toContain(
      "each batch's soak at its maximum of PT2M (the set settles only PT30S before it)",
    )
  })
})

describe('progressDeadline', () => {
  it('stops a rollout in which nothing counted: the batch in flight fails and is restored', () => {
    const f0 = fleet(10)
    const s1 = plan(begin({ progressDeadlineMs: 120 * S }), f0, 0)
    expect(s1.wakeAtMs).toBe(120 * S)
    // reimaged, but never healthy (the health deadline of 300 s is later than the progress one)
    const f1 = landed(f0, s1).map((i) =>
      i.osImageVersion === '1.1.0' ? { ...i, health: 'unhealthy' as const } : i,
    )
    const s2 = plan(s1.rollout, f1, 60 * S)
    expect(s2.rollout.attempts.map((a) => a.state)).toEqual(['WaitingHealth', 'WaitingHealth'])
    const s3 = plan(s2.rollout, f1, 120 * S)
    expect(s3.rollout.attempts.map((a) => [a.state, a.failure?.reason])).toEqual([
      ['RollingBack', 'ProgressDeadlineExceeded'],
      ['RollingBack', 'ProgressDeadlineExceeded'],
    ])
    expect(s3.actions).toContainEqual({ type: 'restore', instanceIds: ['0'] })
    expect(s3.rollout.ending?.error).toMatchObject({ code: 'ProgressDeadlineExceeded' })
    expect(s3.rollout.ending?.error?.message).toBe(
      'No instance counted as upgraded for the progressDeadline of PT2M: nothing progressed since 1970-01-01T00:00:00.000Z, when the rollout started. No further batch was started.',
    )
    const back = f1.map((i) =>
      i.osImageVersion === '1.1.0'
        ? { ...i, osImageVersion: '1.0.0', health: 'healthy' as const }
        : i,
    )
    const s4 = plan(s3.rollout, back, 130 * S)
    expect([s4.rollout.status, s4.rollout.batchCount, s4.rollout.error?.code]).toEqual([
      'Faulted',
      1,
      'ProgressDeadlineExceeded',
    ])
  })

  it('restarts at each instance counted upgraded, and stops a soak that outlasts it', () => {
    // counted at 10 s; the soak never settles; the deadline (60 s after 10 s) comes before max
    const { f1, s2 } = soakingAt10s({ progressDeadlineMs: 60 * S })
    expect(s2.wakeAtMs).toBe(40 * S)
    const s3 = plan(s2.rollout, sick(f1, '3', 'unhealthy'), 35 * S)
    expect(s3.wakeAtMs).toBe(65 * S)
    const s4 = plan(s3.rollout, sick(f1, '3', 'healthy'), 60 * S)
    expect(s4.wakeAtMs).toBe(70 * S)
    const s5 = plan(s4.rollout, sick(f1, '3', 'healthy'), 70 * S)
    expect(s5.rollout.status).toBe('Faulted')
    expect(s5.rollout.error?.message).toMatch(
      /since 1970-01-01T00:00:10.000Z, when instance \d counted as upgraded/,
    )
  })

  it('stands still while a pause holds the rollout, and restarts at the resume', () => {
    const { f1, s2 } = soakingAt10s({ progressDeadlineMs: 60 * S })
    const snap = (r: Rollout, nowMs: number, paused: boolean) =>
      planStep(
        {
          spec: spec(),
          instances: f1,
          rollout: r,
          cancelRequestedAtMs: null,
          pauseRequestedAtMs: paused ? 1 : null,
          failures: [],
          nextInstanceId: 100,
        },
        nowMs,
      )
    const held = snap(s2.rollout, 40 * S, true)
    expect([held.rollout.pausedAtMs, held.wakeAtMs]).toEqual([40 * S, null])
    const later = snap(held.rollout, 500 * S, true)
    expect(later.rollout.status).toBe('RollingForward')
    const resumed = snap(later.rollout, 600 * S, false)
    expect([resumed.rollout.resumedAtMs, resumed.rollout.batchCount]).toEqual([600 * S, 2])
    expect(resumed.wakeAtMs).toBe(660 * S)
  })
})
