/**
 * docs/rollouts.md R3–R7, sentence by sentence, over the pure `planStep`: each test builds a fleet,
 * starts a rollout and checks the decision (actions, attempt states, counts), with worked numbers.
 */
import { describe, expect, it } from 'vitest'
import { fleet, instance, spec } from '../../../test-support/builders.js'
import type { ScaleSetSpec } from '../scale-set/spec.js'
import { DEFAULT_ROLLING_POLICY } from '../scale-set/spec.js'
import { planStep } from './plan.js'
import type { Snapshot, Step } from './plan.js'
import { progressOf, rollbackInfoOf } from './progress.js'
import { startRollout } from './start.js'
import type { StartRequest } from './start.js'
import type { InstanceObservation, Rollout } from './types.js'
import { CODES } from './messages.js'

const MIN = 60_000
const OS: StartRequest = {
  kind: 'OSImage',
  startedBy: 'Platform',
  target: { imageVersion: '1.1.0', modelGeneration: 1 },
  pace: 'batched',
  scope: null,
}

function begin(s: ScaleSetSpec, request: Partial<StartRequest> = {}, nowMs = 0): Rollout {
  return startRollout({
    id: 'r1',
    spec: s,
    request: { ...OS, ...request },
    healthDeadlineMs: 5 * MIN,
    nowMs,
  })
}

function plan(
  r: Rollout,
  instances: readonly InstanceObservation[],
  nowMs: number,
  o: Partial<Snapshot> = {},
): Step {
  return planStep(
    {
      spec: o.spec ?? spec(),
      instances,
      rollout: r,
      cancelRequestedAtMs: null,
      failures: [],
      nextInstanceId: 100,
      ...o,
    },
    nowMs,
  )
}

/** The fleet after the plan's reimages took effect, booted at `atMs`, with `health` per id. */
function applied(
  instances: readonly InstanceObservation[],
  step: Step,
  atMs: number,
  health: (id: string) => 'healthy' | 'unhealthy' = () => 'healthy',
): InstanceObservation[] {
  const reimaged = new Map<string, string>()
  for (const a of step.actions)
    if (a.type === 'reimage') for (const id of a.instanceIds) reimaged.set(id, a.imageVersion)
  return instances.map((i) => {
    const v = reimaged.get(i.instanceId)
    if (!v) return i
    return {
      ...i,
      osImageVersion: v,
      previousOsImageVersion: i.osImageVersion,
      bootedAtMs: atMs,
      health: health(i.instanceId),
    }
  })
}

function batchOf(step: Step): string[] {
  const r = step.rollout
  return r.attempts.filter((a) => a.batch === r.batchCount).map((a) => a.instanceId)
}

describe('§4.3 batches', () => {
  it('10 instances at 20% → batches of 2, each within one update domain: 0,5 then 1,6', () => {
    const s = spec()
    const f = fleet(10)
    const first = plan(begin(s), f, 0, { spec: s })
    expect(batchOf(first)).toEqual(['0', '5'])
    expect(first.actions).toEqual([
      { type: 'reimage', instanceIds: ['0'], imageVersion: '1.1.0', modelGeneration: 1 },
      { type: 'reimage', instanceIds: ['5'], imageVersion: '1.1.0', modelGeneration: 1 },
    ])
    expect(progressOf(first.rollout)).toEqual({
      successfulInstanceCount: 0,
      failedInstanceCount: 0,
      inProgressInstanceCount: 2,
      pendingInstanceCount: 8,
    })
    const second = plan(first.rollout, applied(f, first, 1000), 2000, { spec: s })
    expect(
      second.rollout.attempts.filter((a) => a.state === 'Succeeded').map((a) => a.instanceId),
    ).toEqual(['0', '5'])
    expect(second.actions).toContainEqual({ type: 'release', instanceIds: ['0'] })
    expect(batchOf(second)).toEqual(['1', '6'])
  })

  it.each([
    [3, 1],
    [5, 1],
    [10, 2],
  ])('%i instances at 20%% → batches of %i', (n, size) => {
    const f = fleet(n).map((i) => ({ ...i, updateDomain: 0 }))
    expect(batchOf(plan(begin(spec({ capacity: n })), f, 0))).toHaveLength(size)
  })

  it('candidates skip up-to-date, protected and already-tried instances; never downgrade', () => {
    const f = [
      instance('0', { osImageVersion: '1.1.0' }),
      instance('1', { protectFromScaleSetActions: true, updateDomain: 0 }),
      instance('2', { osImageVersion: '1.2.0', updateDomain: 0 }),
      instance('3', { updateDomain: 0 }),
    ]
    const step = plan(begin(spec({ capacity: 4 })), f, 0)
    expect(batchOf(step)).toEqual(['3'])
    expect(step.rollout.pendingIds).toEqual([])
  })

  it('zones one at a time in zone order, unless enableCrossZoneUpgrade', () => {
    const f = fleet(12, { zones: ['1', '2', '3'] }).map((i) => ({ ...i, updateDomain: 0 }))
    const s = spec({
      capacity: 12,
      zones: ['2', '1', '3'],
      rolling: { ...DEFAULT_ROLLING_POLICY, batchPercentMax: 50 },
      rollingPolicySet: true,
      automaticOS: { ...spec().automaticOS, useRollingUpgradePolicy: true },
    })
    const zonal = plan(begin(s), f, 0, { spec: s })
    expect(new Set(batchOf(zonal).map((id) => f.find((i) => i.instanceId === id)!.zone))).toEqual(
      new Set(['2']),
    )
    const cross = { ...s, rolling: { ...s.rolling, crossZone: true } }
    const wide = plan(begin(cross), f, 0, { spec: cross })
    expect(
      new Set(batchOf(wide).map((id) => f.find((i) => i.instanceId === id)!.zone)).size,
    ).toBeGreaterThan(1)
  })

  it('Service Fabric takes one whole update domain per batch, domain by domain', () => {
    const s = spec({ serviceFabric: true, healthSource: 'none', capacity: 20 })
    const f = fleet(20) // UD = ordinal mod 5 → 4 instances per UD; 20% would be 4 anyway
    const step = plan(
      begin(s),
      f.map((i) => ({ ...i, updateDomain: Number(i.instanceId) < 7 ? 0 : 1 })),
      0,
      { spec: s },
    )
    expect(batchOf(step)).toEqual(['0', '1', '2', '3', '4', '5', '6']) // 7 > batch size 4: whole UD 0
  })

  it('prioritizeUnhealthyInstances puts unhealthy candidates first', () => {
    const s = spec({
      rolling: { ...DEFAULT_ROLLING_POLICY, prioritizeUnhealthy: true },
      rollingPolicySet: true,
      automaticOS: { ...spec().automaticOS, useRollingUpgradePolicy: true },
    })
    const f = fleet(10).map((i) =>
      i.instanceId === '8' ? { ...i, health: 'unhealthy' as const } : i,
    )
    expect(batchOf(plan(begin(s), f, 0, { spec: s }))).toEqual(['8', '3'])
  })

  it('the pre-check before the first batch: 3 of 10 unhealthy > 20% → Faulted, BeforeRollingUpgrade', () => {
    const f = fleet(10).map((i) =>
      ['1', '2', '3'].includes(i.instanceId) ? { ...i, health: 'unhealthy' as const } : i,
    )
    const step = plan(begin(spec()), f, 0)
    expect(step.rollout.status).toBe('Faulted')
    expect(step.rollout.error?.code).toBe(CODES.beforeRollingUpgrade)
    expect(step.rollout.error?.message).toContain('30% of instances are in an unhealthy state')
    expect(step.actions).toEqual([])
    expect(progressOf(step.rollout).pendingInstanceCount).toBe(10)
  })

  it('2 of 10 unhealthy is not more than 20%: the rollout goes on; initializing ones do not count', () => {
    const f = fleet(10).map((i) =>
      ['1', '2'].includes(i.instanceId)
        ? { ...i, health: 'unhealthy' as const }
        : ['3', '4'].includes(i.instanceId)
          ? { ...i, health: 'initializing' as const }
          : i,
    )
    expect(plan(begin(spec()), f, 0).rollout.status).toBe('RollingForward')
  })

  it('concurrent maintenance during a batch stops the rollout at its end, InRollingUpgrade', () => {
    const f = fleet(10)
    const first = plan(begin(spec()), f, 0)
    const maintenance = applied(f, first, 1000).map((i) =>
      ['2', '3', '4'].includes(i.instanceId) ? { ...i, health: 'unhealthy' as const } : i,
    )
    const second = plan(first.rollout, maintenance, 2000)
    expect(second.rollout.attempts.map((a) => a.state)).toEqual(['Succeeded', 'Succeeded'])
    expect(second.rollout.status).toBe('Faulted')
    expect(second.rollout.error?.code).toBe(CODES.inRollingUpgrade)
  })
})

describe('§4.4 upgrading one instance', () => {
  it('waits for healthy until the deadline, measured from the start on the new disk', () => {
    const f = fleet(10)
    const first = plan(begin(spec()), f, 0)
    const booted = applied(f, first, 30_000, () => 'unhealthy')
    const waiting = plan(first.rollout, booted, 31_000)
    expect(waiting.rollout.attempts.map((a) => [a.state, a.deadlineAtMs])).toEqual([
      ['WaitingHealth', 30_000 + 5 * MIN],
      ['WaitingHealth', 30_000 + 5 * MIN],
    ])
    expect(waiting.wakeAtMs).toBe(30_000 + 5 * MIN)
    const stillOk = plan(waiting.rollout, booted, 30_000 + 5 * MIN - 1)
    expect(stillOk.rollout.attempts[0]!.state).toBe('WaitingHealth')
    const late = plan(waiting.rollout, booted, 30_000 + 5 * MIN)
    expect(late.rollout.attempts.map((a) => a.state)).toEqual(['RollingBack', 'RollingBack'])
    expect(late.actions).toEqual([
      { type: 'restore', instanceIds: ['0'] },
      { type: 'restore', instanceIds: ['5'] },
    ])
  })

  it('a restored instance counts in successfullyRolledbackInstanceCount; a failed restore in failedRolledback', () => {
    const f = fleet(10)
    const first = plan(begin(spec()), f, 0)
    const failing = plan(
      first.rollout,
      applied(f, first, 0, () => 'unhealthy'),
      5 * MIN,
    )
    const restored = f // both back on 1.0.0 and running
    const done = plan(failing.rollout, restored, 5 * MIN + 1000, {
      failures: [{ instanceId: '5', action: 'restore', message: 'disk gone' }],
    })
    expect(done.rollout.attempts.map((a) => a.state)).toEqual(['RolledBack', 'RollbackFailed'])
    expect(rollbackInfoOf(done.rollout)).toEqual({
      successfullyRolledbackInstanceCount: 1,
      failedRolledbackInstanceCount: 1,
      rollbackError: 'disk gone',
    })
  })

  it('manual triggers do not roll back: the failed instance stays on the new image', () => {
    const f = fleet(10)
    const r = begin(spec(), { startedBy: 'User' })
    expect(r.rollback).toBe(false)
    const first = plan(r, f, 0)
    const failed = plan(
      first.rollout,
      applied(f, first, 0, () => 'unhealthy'),
      5 * MIN,
    )
    expect(failed.rollout.attempts.map((a) => a.state)).toEqual(['Failed', 'Failed'])
    expect(failed.actions.filter((a) => a.type === 'restore')).toEqual([])
  })

  it('disableAutomaticRollback turns rollback off for platform rollouts', () => {
    const s = spec({ automaticOS: { ...spec().automaticOS, disableAutomaticRollback: true } })
    expect(begin(s).rollback).toBe(false)
  })

  it('a failed extension fails the instance at once, without waiting for the deadline', () => {
    const f = fleet(10)
    const first = plan(begin(spec()), f, 0)
    const broken = applied(f, first, 0).map((i) =>
      i.instanceId === '0'
        ? { ...i, provisioning: 'failed' as const, provisioningError: "extension 'x' failed" }
        : i,
    )
    const step = plan(first.rollout, broken, 1000)
    expect(step.rollout.attempts[0]).toMatchObject({
      state: 'RollingBack',
      failure: { reason: 'ProvisioningFailed', message: "extension 'x' failed" },
    })
  })

  it('maxSurge creates a replacement from the target and deletes the old instance once it is healthy', () => {
    const s = spec({
      capacity: 5,
      rolling: { ...DEFAULT_ROLLING_POLICY, maxSurge: true },
      rollingPolicySet: true,
      automaticOS: { ...spec().automaticOS, useRollingUpgradePolicy: true },
    })
    const f = fleet(5)
    const first = plan(begin(s), f, 0, { spec: s, nextInstanceId: 5 })
    expect(first.rollout.attempts).toMatchObject([
      { instanceId: '0', state: 'Surging', surgeInstanceId: '5' },
    ])
    expect(first.actions).toEqual([
      {
        type: 'create',
        instances: [
          {
            instanceId: '5',
            zone: null,
            updateDomain: 0,
            faultDomain: 0,
            imageVersion: '1.1.0',
            modelGeneration: 1,
          },
        ],
      },
    ])
    expect(first.nextInstanceId).toBe(6)
    const withNew = [...f, instance('5', { osImageVersion: '1.1.0', bootedAtMs: 0 })]
    const second = plan(first.rollout, withNew, 1000, { spec: s, nextInstanceId: 6 })
    expect(second.rollout.attempts[0]!.state).toBe('Succeeded')
    expect(second.actions).toContainEqual({ type: 'delete', instanceIds: ['0'] })
  })

  it('maxSurge: a replacement that fails the deadline is deleted and the old instance kept', () => {
    const s = spec({
      capacity: 5,
      rolling: { ...DEFAULT_ROLLING_POLICY, maxSurge: true },
      rollingPolicySet: true,
      automaticOS: { ...spec().automaticOS, useRollingUpgradePolicy: true },
    })
    const f = fleet(5)
    const first = plan(begin(s), f, 0, { spec: s, nextInstanceId: 5 })
    const withBad = [
      ...f,
      instance('5', { osImageVersion: '1.1.0', bootedAtMs: 0, health: 'unhealthy' }),
    ]
    const late = plan(first.rollout, withBad, 5 * MIN, { spec: s, nextInstanceId: 6 })
    expect(late.rollout.attempts[0]).toMatchObject({
      state: 'RolledBack',
      failure: { reason: 'HealthDeadlineExceeded' },
    })
    expect(late.actions).toContainEqual({ type: 'delete', instanceIds: ['5'] })
  })
})

describe('§4.5 after each batch', () => {
  it('one failure of the first batch of 2 is 50% > 20% → Faulted with Azure message', () => {
    const f = fleet(10)
    const first = plan(begin(spec()), f, 0)
    const half = applied(f, first, 0, (id) => (id === '5' ? 'unhealthy' : 'healthy'))
    const rolling = plan(first.rollout, half, 5 * MIN)
    const done = plan(
      rolling.rollout,
      half.map((i) => (i.instanceId === '5' ? f[5]! : i)),
      5 * MIN + 1000,
    )
    expect(done.rollout.status).toBe('Faulted')
    expect(done.rollout.error).toEqual({
      code: CODES.upgradedUnhealthy,
      message:
        'Rolling Upgrade failed after exceeding the MaxUnhealthyUpgradedInstancePercent value defined in the RollingUpgradePolicy. 50% of instances are in an unhealthy state after being upgraded - more than the threshold of 20%. The most impactful error is: HealthDeadlineExceeded: Instance 5 did not become healthy within PT5M of starting on the new OS disk. First failed instance ID is: 5.',
    })
    expect(progressOf(done.rollout)).toEqual({
      successfulInstanceCount: 1,
      failedInstanceCount: 1,
      inProgressInstanceCount: 0,
      pendingInstanceCount: 8,
    })
  })

  it('a 0% upgraded threshold stops at the first failure, even in a batch of 20', () => {
    const s = spec({
      capacity: 100,
      rolling: { ...DEFAULT_ROLLING_POLICY, unhealthyUpgradedPercentMax: 0 },
      rollingPolicySet: true,
      automaticOS: { ...spec().automaticOS, useRollingUpgradePolicy: true },
    })
    const f = fleet(100).map((i) => ({ ...i, updateDomain: 0 }))
    const first = plan(begin(s), f, 0, { spec: s })
    expect(batchOf(first)).toHaveLength(20)
    const after = applied(f, first, 0, (id) => (id === '7' ? 'unhealthy' : 'healthy'))
    const failing = plan(first.rollout, after, 5 * MIN, { spec: s })
    const restored = after.map((i) => (i.instanceId === '7' ? f[7]! : i))
    expect(plan(failing.rollout, restored, 5 * MIN + 1, { spec: s }).rollout.status).toBe('Faulted')
  })

  it('within the threshold the rollout goes on and ends Completed with failures counted', () => {
    const s = spec({
      capacity: 10,
      rolling: { ...DEFAULT_ROLLING_POLICY, unhealthyUpgradedPercentMax: 50 },
      rollingPolicySet: true,
      automaticOS: { ...spec().automaticOS, useRollingUpgradePolicy: true },
    })
    let f = fleet(10)
    let r = begin(s)
    let now = 0
    for (let i = 0; i < 20 && r.status === 'RollingForward'; i++) {
      const step = plan(r, f, now, { spec: s })
      f = applied(f, step, now, (id) => (id === '5' ? 'unhealthy' : 'healthy')).map((x) =>
        step.actions.some((a) => a.type === 'restore' && a.instanceIds.includes(x.instanceId))
          ? { ...x, osImageVersion: '1.0.0', health: 'healthy' as const }
          : x,
      )
      r = step.rollout
      now += 5 * MIN
    }
    expect(r.status).toBe('Completed')
    expect(progressOf(r)).toEqual({
      successfulInstanceCount: 9,
      failedInstanceCount: 1,
      inProgressInstanceCount: 0,
      pendingInstanceCount: 0,
    })
  })

  it('rollbackFailedInstancesOnPolicyBreach restores failed instances still on the new image, then Faulted', () => {
    const s = spec({
      rolling: { ...DEFAULT_ROLLING_POLICY, rollbackFailedOnPolicyBreach: true },
      rollingPolicySet: true,
    })
    const f = fleet(10)
    const r = begin(s, { startedBy: 'User' }) // manual: no per-instance rollback
    const first = plan(r, f, 0, { spec: s })
    const bad = applied(f, first, 0, () => 'unhealthy')
    const breach = plan(first.rollout, bad, 5 * MIN, { spec: s })
    expect(breach.rollout.attempts.map((a) => a.state)).toEqual(['RollingBack', 'RollingBack'])
    expect(breach.rollout.status).toBe('RollingForward')
    expect(breach.actions).toEqual([
      { type: 'restore', instanceIds: ['0'] },
      { type: 'restore', instanceIds: ['5'] },
    ])
    const done = plan(breach.rollout, f, 5 * MIN + 1000, { spec: s })
    expect(done.rollout.status).toBe('Faulted')
    expect(rollbackInfoOf(done.rollout).successfullyRolledbackInstanceCount).toBe(2)
  })

  it('pauseTimeBetweenBatches holds the next batch', () => {
    const s = spec({
      rolling: { ...DEFAULT_ROLLING_POLICY, pauseBetweenBatchesMs: 30_000 },
      rollingPolicySet: true,
      automaticOS: { ...spec().automaticOS, useRollingUpgradePolicy: true },
    })
    const f = fleet(10)
    const first = plan(begin(s), f, 0, { spec: s })
    const after = applied(f, first, 0)
    const paused = plan(first.rollout, after, 1000, { spec: s })
    expect(batchOf(paused)).toEqual(['0', '5'])
    expect(paused.wakeAtMs).toBe(31_000)
    expect(batchOf(plan(paused.rollout, after, 31_000, { spec: s }))).toEqual(['1', '6'])
  })
})

describe('§4.6 cancel and counts', () => {
  it('cancel lets the running batch finish, then Cancelled with lastAction Cancel', () => {
    const f = fleet(10)
    const first = plan(begin(spec()), f, 0)
    const during = plan(first.rollout, f, 500, { cancelRequestedAtMs: 400 })
    expect(during.rollout.status).toBe('RollingForward')
    const done = plan(during.rollout, applied(f, first, 0), 1000, { cancelRequestedAtMs: 400 })
    expect(done.rollout).toMatchObject({
      status: 'Cancelled',
      lastAction: 'Cancel',
      lastActionAtMs: 400,
    })
    expect(progressOf(done.rollout)).toEqual({
      successfulInstanceCount: 2,
      failedInstanceCount: 0,
      inProgressInstanceCount: 0,
      pendingInstanceCount: 8,
    })
  })

  it('opting out (enableAutomaticOSUpgrade false) ends a platform rollout after its batch', () => {
    const f = fleet(10)
    const first = plan(begin(spec()), f, 0)
    const off = spec({ automaticOS: { ...spec().automaticOS, enabled: false } })
    expect(plan(first.rollout, applied(f, first, 0), 1000, { spec: off }).rollout.status).toBe(
      'Cancelled',
    )
  })

  it('a manual trigger with nothing to do completes at once with all counts 0', () => {
    const step = plan(begin(spec(), { startedBy: 'User' }), fleet(10, { version: '1.1.0' }), 0)
    expect(step.rollout.status).toBe('Completed')
    expect(progressOf(step.rollout)).toEqual({
      successfulInstanceCount: 0,
      failedInstanceCount: 0,
      inProgressInstanceCount: 0,
      pendingInstanceCount: 0,
    })
  })

  it('a corrupted rollout (an instance tried twice) stops the pass loudly', () => {
    const first = plan(begin(spec()), fleet(10), 0).rollout
    const corrupt = { ...first, attempts: [first.attempts[0]!, first.attempts[0]!] }
    expect(() => plan(corrupt, fleet(10), 1000)).toThrow(/instance 0 tried twice/)
  })

  it('a finished rollout is left unchanged', () => {
    const done = plan(
      begin(spec(), { startedBy: 'User' }),
      fleet(3, { version: '1.1.0' }),
      0,
    ).rollout
    const again = plan(done, fleet(3), 1000)
    expect(again.rollout).toBe(done)
    expect(again.actions).toEqual([])
  })
})

describe('§4.7 deferral', () => {
  it('marks candidates pending and waits for approval, then upgrades approved ones', () => {
    const s = spec({ capacity: 5, automaticOS: { ...spec().automaticOS, deferral: true } })
    const f = fleet(5)
    const waiting = plan(begin(s), f, 0, { spec: s })
    expect(waiting.actions).toEqual([
      { type: 'markPending', instanceIds: ['0', '1', '2', '3', '4'] },
    ])
    expect(waiting.rollout.status).toBe('RollingForward')
    expect(progressOf(waiting.rollout).pendingInstanceCount).toBe(5)
    const approved = f.map((i) => ({
      ...i,
      osUpgradePending: true,
      osUpgradeApproved: i.instanceId === '3',
    }))
    const step = plan(waiting.rollout, approved, 1000, { spec: s })
    expect(batchOf(step)).toEqual(['3'])
    expect(step.actions).toContainEqual({ type: 'clearPending', instanceIds: ['3'] })
  })
})

describe('§4.8 model rollouts', () => {
  it('Rolling mode: batches that apply the model in place (no reimage) when the image is unchanged', () => {
    const s = spec({ mode: 'Rolling', modelGeneration: 2 })
    const r = begin(s, { kind: 'Model', target: { imageVersion: null, modelGeneration: 2 } })
    expect(r.rollback).toBe(false)
    const step = plan(r, fleet(10), 0, { spec: s })
    expect(step.actions).toEqual([
      { type: 'update', instanceIds: ['0'], modelGeneration: 2 },
      { type: 'update', instanceIds: ['5'], modelGeneration: 2 },
    ])
  })

  it('a model whose pinned image changed reimages', () => {
    const s = spec({ mode: 'Rolling', modelGeneration: 2 })
    const r = begin(s, { kind: 'Model', target: { imageVersion: '2.0.0', modelGeneration: 2 } })
    expect(plan(r, fleet(10), 0, { spec: s }).actions[0]).toEqual({
      type: 'reimage',
      instanceIds: ['0'],
      imageVersion: '2.0.0',
      modelGeneration: 2,
    })
  })

  it('Automatic mode and manualupgrade update all (or the named) instances at once', () => {
    const s = spec({ mode: 'Automatic', modelGeneration: 2 })
    const all = plan(
      begin(s, {
        kind: 'Model',
        pace: 'allAtOnce',
        target: { imageVersion: null, modelGeneration: 2 },
      }),
      fleet(10),
      0,
      { spec: s },
    )
    expect(all.rollout.attempts).toHaveLength(10)
    const some = plan(
      begin(s, {
        kind: 'Model',
        pace: 'allAtOnce',
        scope: ['2', '7'],
        startedBy: 'User',
        target: { imageVersion: null, modelGeneration: 2 },
      }),
      fleet(10),
      0,
      { spec: s },
    )
    expect(some.rollout.attempts.map((a) => a.instanceId)).toEqual(['2', '7'])
  })
})

describe('R3.4 a Service Fabric durability mismatch that appears later (issue 18, seed gap 3)', () => {
  // The seed: "make sure the durability settings match on the Service Fabric cluster and
  // extension, as a mismatch will result in upgrade errors."
  const sf = spec({
    serviceFabric: true,
    healthSource: 'none',
    serviceFabricNodeType: { clusterId: '/c', nodeTypeRef: 'nt1', durability: 'Silver' },
  })

  it('the cluster moved to Gold after the start, the extension still says Silver: the next batch does not start and the rollout faults with the message validation gives', () => {
    const r = begin(sf)
    const first = plan(r, fleet(10), 0, { spec: sf, clusterDurability: 'Silver' })
    expect(first.rollout.batchCount).toBe(1)
    const done = applied(fleet(10), first, 1_000)
    const second = plan(first.rollout, done, 2_000, { spec: sf, clusterDurability: 'Gold' })
    expect(second.rollout).toMatchObject({
      status: 'Faulted',
      batchCount: 1,
      error: {
        code: 'OperationNotAllowed',
        message:
          'Durability Mismatch Detected for NodeType nt1. VMSS Durability Silver does not match the current SFRP NodeType durability level Gold',
      },
    })
    expect(second.actions.filter((a) => a.type === 'reimage')).toEqual([])
  })

  it('matching, or unknown (no cluster to ask), lets the batch start', () => {
    for (const clusterDurability of ['Silver', null]) {
      const step = plan(begin(sf), fleet(10), 0, { spec: sf, clusterDurability })
      expect(step.rollout).toMatchObject({ status: 'RollingForward', batchCount: 1 })
    }
  })
})
