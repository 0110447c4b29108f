/**
 * docs/rollouts.md § Per-instance timeline over the pure `rolloutTimeline`: a rollout driven by
 * `planStep` (its events as the reconciler saves them, plus the runtime's effect notes), and a
 * table of single events and the steps each records.
 */
import { describe, expect, it } from 'vitest'
import { fleet, spec } from '../../../test-support/builders.js'
import { planStep } from './plan.js'
import { startRollout } from './start.js'
import { instanceTimeline, rolloutTimeline } from './timeline.js'
import type { InstanceObservation, Rollout, RolloutEvent } from './types.js'

const S = 1000
const MIN = 60 * S

/** Two instances (one per batch); 0 flaps nothing and passes minHealthyTime, 1 never heals. */
function drive(): { rollout: Rollout; events: RolloutEvent[] } {
  let r: Rollout = {
    ...startRollout({
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
      nowMs: 0,
    }),
    minHealthyTimeMs: 30 * S,
  }
  let instances: InstanceObservation[] = fleet(2)
  const events: RolloutEvent[] = []
  const note = (atMs: number, id: string, state: string, reason: string) =>
    events.push({
      atMs,
      rolloutId: 'r1',
      scaleSetKey: r.scaleSetKey,
      instanceId: id,
      from: state,
      to: state,
      reason,
    })
  const pass = (nowMs: number) => {
    const step = planStep(
      {
        spec: spec(),
        instances,
        rollout: r,
        cancelRequestedAtMs: null,
        failures: [],
        nextInstanceId: 2,
      },
      nowMs,
    )
    r = step.rollout
    events.push(...step.events)
    return step
  }
  const set = (id: string, o: Partial<InstanceObservation>) =>
    (instances = instances.map((i) => (i.instanceId === id ? { ...i, ...o } : i)))

  pass(0) // batch 1: instance 0
  note(2 * S, '0', 'Reimaging', 'DiskSwapped') // the runtime: the fabric's reimage returned
  set('0', {
    osImageVersion: '1.1.0',
    previousOsImageVersion: '1.0.0',
    bootedAtMs: 4 * S,
    health: 'initializing',
  })
  pass(5 * S) // booted at 4 s, seen at 5 s
  set('0', { health: 'healthy' })
  pass(20 * S) // first healthy
  pass(50 * S) // 30 s later: counted, and batch 2 (instance 1) starts
  note(51 * S, '0', 'Succeeded', 'PreviousDiskReleased')
  note(52 * S, '1', 'Reimaging', 'DiskSwapped')
  set('1', {
    osImageVersion: '1.1.0',
    previousOsImageVersion: '1.0.0',
    bootedAtMs: 55 * S,
    health: 'unhealthy',
  })
  pass(60 * S)
  pass(55 * S + 5 * MIN) // the health deadline: failed, rolled back
  note(55 * S + 5 * MIN + S, '1', 'RollingBack', 'PreviousDiskSwapped')
  set('1', { osImageVersion: '1.0.0', previousOsImageVersion: null, health: 'healthy' })
  pass(56 * S + 5 * MIN)
  return { rollout: r, events }
}

describe('rolloutTimeline', () => {
  const { rollout, events } = drive()
  const t = rolloutTimeline(rollout, events, (id) => ({ zone: null, updateDomain: Number(id) }))
  const [ok, bad] = t.instances

  it('gives each instance its steps in time order, ending with its outcome', () => {
    expect(rollout.status).toBe('Faulted')
    expect(ok!.steps.map((s) => [s.step, s.atMs / S, s.reason])).toEqual([
      ['requested', 0, 'Batch1'],
      ['diskSwapped', 2, 'DiskSwapped'],
      ['booted', 4, 'StartedOnNewDisk'],
      ['firstHealthy', 20, 'FirstHealthy'],
      ['succeeded', 50, 'Healthy'],
      ['released', 51, 'PreviousDiskReleased'],
    ])
    expect(bad!.steps.map((s) => [s.step, s.atMs / S, s.reason])).toEqual([
      ['requested', 50, 'Batch2'],
      ['diskSwapped', 52, 'DiskSwapped'],
      ['booted', 55, 'StartedOnNewDisk'],
      ['failed', 355, 'HealthDeadlineExceeded'],
      ['rollbackRequested', 355, 'HealthDeadlineExceeded'],
      ['previousDiskSwapped', 356, 'PreviousDiskSwapped'],
      ['rolledBack', 356, 'HealthDeadlineExceeded'],
    ])
    expect([ok!.outcome, bad!.outcome]).toEqual(['Succeeded', 'RolledBack'])
    expect([ok!.updateDomain, bad!.batch]).toEqual([0, 2])
  })

  it('measures each phase from the request: to disk swapped, booted, healthy, the outcome', () => {
    expect(ok!.durationsMs).toEqual({
      toDiskSwapped: 2 * S,
      toBooted: 4 * S,
      toHealthy: 20 * S,
      toOutcome: 50 * S,
    })
    expect(bad!.durationsMs).toEqual({
      toDiskSwapped: 2 * S,
      toBooted: 5 * S,
      toHealthy: null,
      toOutcome: 306 * S,
    })
    expect(ok!.phases).toEqual([
      { phase: 'applying', startMs: 0, endMs: 2 * S },
      { phase: 'booting', startMs: 2 * S, endMs: 4 * S },
      { phase: 'waitingHealth', startMs: 4 * S, endMs: 20 * S },
      { phase: 'minHealthyTime', startMs: 20 * S, endMs: 50 * S },
    ])
    expect(bad!.phases.at(-1)).toEqual({ phase: 'rollingBack', startMs: 355 * S, endMs: 356 * S })
  })

  it('gives the batches their instances, start and end, and the rollout its own steps', () => {
    expect(t.batches).toEqual([
      { batch: 1, instanceIds: ['0'], startedAtMs: 0, endedAtMs: 50 * S },
      { batch: 2, instanceIds: ['1'], startedAtMs: 50 * S, endedAtMs: 356 * S },
    ])
    expect(t.rolloutSteps.map((s) => s.to)).toEqual(['Faulted'])
    expect(t.endedAtMs).toBe(rollout.endedAtMs)
  })
})

describe('the steps of one event', () => {
  const base = { rolloutId: 'r1', scaleSetKey: 'k', instanceId: '3', atMs: 10 }
  const attempt = drive().rollout.attempts[0]!
  const stepsOf = (from: string, to: string, reason: string, extra: Partial<RolloutEvent> = {}) =>
    instanceTimeline(attempt, [{ ...base, from, to, reason, ...extra }]).steps.map((s) => s.step)

  it.each([
    ['Pending', 'Pending', 'OSUpgradePending', ['upgradePending']],
    ['Pending', 'Pending', 'ApprovedByGuest', ['approved']],
    ['Pending', 'Surging', 'Batch1', ['requested']],
    ['Updating', 'Updating', 'ModelApplied', ['modelApplied']],
    ['Reimaging', 'Succeeded', 'Healthy', ['succeeded']], // upgrade mode Automatic: not probed
    ['Surging', 'Succeeded', 'Healthy', ['firstHealthy', 'succeeded']],
    ['Surging', 'RolledBack', 'ReimageFailed', ['failed', 'rolledBack']],
    ['WaitingHealth', 'Failed', 'UnstableHealth', ['failed']],
    ['Failed', 'RollingBack', 'RollbackFailedInstancesOnPolicyBreach', ['rollbackRequested']],
    ['RollingBack', 'RollbackFailed', 'RestoreFailed', ['rollbackFailed']],
    ['WaitingHealth', 'Removed', 'InstanceDeleted', ['removed']],
    ['Reimaging', 'Reimaging', 'SomethingNew', []],
  ])('%s → %s (%s) records %j', (from, to, reason, steps) => {
    expect(stepsOf(from, to, reason)).toEqual(steps)
  })

  it.each([
    ['Pending', 'PreReimage', 'Batch1', ['requested']],
    ['PreReimage', 'Skipped', 'CancelRequested', ['skipped']],
    ['WaitingHealth', 'PostHealthy', 'Healthy', ['firstHealthy']],
    ['PostHealthy', 'Succeeded', 'PostHealthyContinue', ['succeeded']],
  ])('lifecycle hooks: %s → %s (%s) records %j', (from, to, reason, steps) => {
    expect(stepsOf(from, to, reason)).toEqual(steps)
  })

  it('records a hook answer as hookAnswered before the change it causes', () => {
    const hook = { hook: 'preReimage', answer: 'skip', source: 'webhook', quote: 'busy' } as const
    const t = instanceTimeline(attempt, [
      { ...base, from: 'PreReimage', to: 'Skipped', reason: 'PreReimageSkip', hook },
    ])
    expect(t.steps).toEqual([
      { step: 'hookAnswered', atMs: base.atMs, reason: 'PreReimageSkip', hook },
      { step: 'skipped', atMs: base.atMs, reason: 'PreReimageSkip' },
    ])
  })

  it("a deferral's approval is the pre-reimage hook's continue, by the guest, a request or NotBefore", () => {
    const hookOf = (reason: string) =>
      instanceTimeline(attempt, [{ ...base, from: 'Pending', to: 'Pending', reason }]).steps[0]!
        .hook
    expect(hookOf('ApprovedByGuest')).toEqual({
      hook: 'preReimage',
      answer: 'continue',
      source: 'guest',
    })
    expect(hookOf('ApprovedByRequest')?.source).toBe('request')
    expect(hookOf('NotBeforeReached')).toMatchObject({ source: 'default', cause: 'notBefore' })
  })

  it('keeps a swap noted after the boot it caused at the boot (a reimage that returns booted)', () => {
    const t = instanceTimeline(attempt, [
      { ...base, atMs: 7, from: 'Reimaging', to: 'Reimaging', reason: 'DiskSwapped' },
      {
        ...base,
        from: 'Reimaging',
        to: 'WaitingHealth',
        reason: 'StartedOnNewDisk',
        bootedAtMs: 5,
      },
    ])
    expect(t.steps.map((s) => [s.step, s.atMs])).toEqual([
      ['diskSwapped', 5],
      ['booted', 5],
    ])
  })

  it('puts booted at the boot time the fabric reported, not when the pass saw it', () => {
    const t = instanceTimeline(attempt, [
      {
        ...base,
        from: 'Reimaging',
        to: 'WaitingHealth',
        reason: 'StartedOnNewDisk',
        bootedAtMs: 4,
      },
    ])
    expect(t.steps).toEqual([{ step: 'booted', atMs: 4, reason: 'StartedOnNewDisk' }])
  })
})
