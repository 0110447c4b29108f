/**
 * The adaptive ramp (docs/rollouts.md § Adaptive ramp) over the pure engine: sizes start at one,
 * double after each clean batch up to R3.1's size, fall back to one after a failed instance, and
 * never override the update-domain rule; without the opt-in nothing changes.
 */
import { describe, expect, it } from 'vitest'
import { fleet, spec } from '../../../test-support/builders.js'
import type { ScaleSetSpec } from '../scale-set/spec.js'
import { dryRun } from './dry-run.js'
import { planStep } from './plan.js'
import { rampSizeOf } from './ramp.js'
import { startRollout } from './start.js'
import type { StartRequest } from './start.js'
import type { Attempt, InstanceObservation, Rollout } from './types.js'

const MIN = 60_000
const OS: StartRequest = {
  kind: 'OSImage',
  startedBy: 'Platform',
  target: { imageVersion: '1.1.0', modelGeneration: 1 },
  pace: 'batched',
  scope: null,
}
const noRollback = (o: Partial<ScaleSetSpec>) =>
  spec({ ...o, automaticOS: { ...spec().automaticOS, disableAutomaticRollback: true } })

/**
 * Runs a rollout pass after pass on a fleet where reimages land at once and the `bad` instances
 * never become healthy; returns each batch's instance ids and ramp size, and the end status.
 */
function run(s: ScaleSetSpec, instances: InstanceObservation[], bad: ReadonlySet<string>) {
  let r: Rollout = startRollout({
    id: 'r1',
    spec: s,
    request: OS,
    healthDeadlineMs: 5 * MIN,
    adaptiveRamp: true,
    nowMs: 0,
  })
  let f = instances
  let nowMs = 0
  const batches: { ids: string[]; rampSize: number | undefined }[] = []
  for (let pass = 0; pass < 500 && r.status === 'RollingForward'; pass++) {
    const step = planStep(
      {
        spec: s,
        instances: f,
        rollout: r,
        cancelRequestedAtMs: null,
        failures: [],
        nextInstanceId: 100,
      },
      nowMs,
    )
    if (step.rollout.batchCount > r.batchCount) {
      const ids = step.rollout.attempts
        .filter((a) => a.batch === step.rollout.batchCount)
        .map((a) => a.instanceId)
      batches.push({ ids, rampSize: step.rollout.rampSize })
    }
    r = step.rollout
    const reimaged = new Set(
      step.actions.flatMap((a) => (a.type === 'reimage' ? a.instanceIds : [])),
    )
    f = f.map((i) =>
      reimaged.has(i.instanceId)
        ? {
            ...i,
            osImageVersion: '1.1.0',
            previousOsImageVersion: i.osImageVersion,
            bootedAtMs: nowMs,
            health: bad.has(i.instanceId) ? 'unhealthy' : 'healthy',
          }
        : i,
    )
    nowMs = Math.max(nowMs + 1000, step.wakeAtMs ?? 0)
  }
  return { batches, status: r.status, rollout: r }
}

describe('adaptive ramp', () => {
  it('20 instances of one update domain at 20% (R3.1: 4): 1, 2, 4, 4, 4, 4, then 1', () => {
    const f = fleet(20).map((i) => ({ ...i, updateDomain: 0 }))
    const { batches, status } = run(spec({ capacity: 20 }), f, new Set())
    expect(batches.map((b) => b.ids.length)).toEqual([1, 2, 4, 4, 4, 4, 1])
    expect(batches.map((b) => b.rampSize)).toEqual([1, 2, 4, 4, 4, 4, 4])
    expect(batches[0]?.ids).toEqual(['0'])
    expect(status).toBe('Completed')
  })

  it('a failed instance shrinks the next batch back to one, then it doubles again', () => {
    const f = fleet(20).map((i) => ({ ...i, updateDomain: 0 }))
    const { batches, status, rollout } = run(noRollback({ capacity: 20 }), f, new Set(['3']))
    // batch 3 (3,4,5,6) has the failure: 1 of 7 upgraded is within 20%, the rollout goes on
    expect(batches.map((b) => b.ids)).toEqual([
      ['0'],
      ['1', '2'],
      ['3', '4', '5', '6'],
      ['7'],
      ['8', '9'],
      ['10', '11', '12', '13'],
      ['14', '15', '16', '17'],
      ['18', '19'],
    ])
    expect(rollout.attempts.find((a) => a.instanceId === '3')?.state).toBe('Failed')
    expect(status).toBe('Completed')
  })

  it('the update-domain rule still applies: a ramp size of 4 takes what its domain holds', () => {
    // 10 instances, UD = id mod 5 (two per domain), batches of 50% (R3.1: 5)
    const f = fleet(10).map((i) => ({ ...i, updateDomain: Number(i.instanceId) % 5 }))
    const s = spec({
      capacity: 10,
      rolling: { ...spec().rolling, batchPercentMax: 50 },
      rollingPolicySet: true,
      automaticOS: { ...spec().automaticOS, useRollingUpgradePolicy: true },
    })
    const { batches } = run(s, f, new Set())
    expect(batches.map((b) => [b.ids, b.rampSize])).toEqual([
      [['0'], 1],
      [['1', '6'], 2],
      [['2', '7'], 4],
      [['3', '8'], 5],
      [['4', '9'], 5],
      [['5'], 5],
    ])
  })

  it('is off without the opt-in, on Service Fabric sets and for rollouts all at once', () => {
    const s = spec({ capacity: 10 })
    const start = (o: Partial<Parameters<typeof startRollout>[0]>) =>
      startRollout({ id: 'r', spec: s, request: OS, healthDeadlineMs: MIN, nowMs: 0, ...o })
    expect(start({}).adaptiveRamp).toBeUndefined()
    expect(start({ adaptiveRamp: true }).adaptiveRamp).toBe(true)
    expect(start({ adaptiveRamp: true, spec: spec({ serviceFabric: true }) }).adaptiveRamp).toBe(
      undefined,
    )
    expect(
      start({ adaptiveRamp: true, request: { ...OS, pace: 'allAtOnce' } }).adaptiveRamp,
    ).toBeUndefined()
  })

  it.each([
    ['no ramp: the policy size', { adaptiveRamp: false, batchCount: 3, rampSize: 1 }, [], 4, 4],
    ['the first batch', { adaptiveRamp: true, batchCount: 0 }, [], 4, 1],
    ['after a clean batch of ramp 2', { adaptiveRamp: true, batchCount: 2, rampSize: 2 }, [], 4, 4],
    ['capped at the policy size', { adaptiveRamp: true, batchCount: 3, rampSize: 4 }, [], 4, 4],
    [
      'the policy size shrank (scale-in)',
      { adaptiveRamp: true, batchCount: 3, rampSize: 4 },
      [],
      2,
      2,
    ],
    [
      'after a rolled-back instance',
      { adaptiveRamp: true, batchCount: 2, rampSize: 2 },
      [{ batch: 2, state: 'RolledBack' }],
      4,
      1,
    ],
    [
      'an earlier batch failed, the last one is clean',
      { adaptiveRamp: true, batchCount: 2, rampSize: 1 },
      [
        { batch: 1, state: 'Failed' },
        { batch: 2, state: 'Succeeded' },
      ],
      4,
      2,
    ],
    [
      'an instance scaled in is no failure',
      { adaptiveRamp: true, batchCount: 1, rampSize: 1 },
      [{ batch: 1, state: 'Removed' }],
      4,
      2,
    ],
  ] as const)('rampSizeOf: %s', (_, r, attempts, policySize, expected) => {
    const rollout = { ...r, attempts: attempts as unknown as Attempt[] }
    expect(rampSizeOf(rollout, policySize)).toBe(expected)
  })

  it('the dry-run plan shows the ramp: sizes and each batch ramp size', () => {
    const f = fleet(20).map((i) => ({ ...i, updateDomain: 0 }))
    const p = dryRun({
      spec: spec({ capacity: 20 }),
      instances: f,
      request: OS,
      healthDeadlineMs: 5 * MIN,
      adaptiveRamp: true,
      nextInstanceId: 20,
      nowMs: 0,
    })
    expect(p.adaptiveRamp).toBe(true)
    expect(p.batches.map((b) => [b.instances.length, b.rampSize])).toEqual([
      [1, 1],
      [2, 2],
      [4, 4],
      [4, 4],
      [4, 4],
      [4, 4],
      [1, 4],
    ])
    expect(p.batches[1]?.instances[0]?.why).toContain('adaptive ramp: at most 2 in this batch')
    const flat = dryRun({
      spec: spec({ capacity: 20 }),
      instances: f,
      request: OS,
      healthDeadlineMs: 5 * MIN,
      nextInstanceId: 20,
      nowMs: 0,
    })
    expect([flat.adaptiveRamp, flat.batches.map((b) => b.rampSize)]).toEqual([
      false,
      [null, null, null, null, null],
    ])
  })
})
