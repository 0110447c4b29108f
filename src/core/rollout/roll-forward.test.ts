/**
 * docs/rollouts.md § Quarantine and roll forward over the pure core: quarantine records, the
 * release, the pre-check that excuses instances unhealthy on a bad version (and upgrades them
 * first), and which running rollouts a newer version supersedes.
 */
import { describe, expect, it } from 'vitest'
import { fleet, spec } from '../../../test-support/builders.js'
import { planStep } from './plan.js'
import { quarantine, quarantineList, quarantines, release } from './quarantine.js'
import { rollForwardFrom, stuckOrFailing, supersedes, SUPERSEDED_CODE } from './roll-forward.js'
import { startRollout } from './start.js'
import type { InstanceObservation, Rollout } from './types.js'
import { CODES } from './messages.js'

const MIN = 60_000
const BREACH = { code: CODES.upgradedUnhealthy, message: 'The upgrade failed.' }

function begin(target: string, from: readonly string[] = []): Rollout {
  return startRollout({
    id: 'r2',
    spec: spec(),
    request: {
      kind: 'OSImage',
      startedBy: 'Platform',
      target: { imageVersion: target, modelGeneration: 1 },
      pace: 'batched',
      scope: null,
    },
    healthDeadlineMs: 5 * MIN,
    rollForwardFrom: from,
    nowMs: 0,
  })
}

/** 10 instances: 0–3 unhealthy on 1.2.0 (the bad version), 9 unhealthy on 1.0.0. */
function brokenFleet(): InstanceObservation[] {
  return fleet(10).map((i) =>
    Number(i.instanceId) < 4
      ? { ...i, osImageVersion: '1.2.0', health: 'unhealthy' }
      : i.instanceId === '9'
        ? { ...i, health: 'unhealthy' }
        : i,
  )
}

function step(r: Rollout, instances: readonly InstanceObservation[], supersededBy?: string) {
  return planStep(
    {
      spec: spec(),
      instances,
      rollout: r,
      cancelRequestedAtMs: null,
      failures: [],
      nextInstanceId: 100,
      ...(supersededBy ? { supersededBy } : {}),
    },
    0,
  )
}

describe('quarantine', () => {
  it('records the rollout, time and error of the version it faulted, on any trigger', () => {
    const r = { id: 'r1', error: BREACH, target: { imageVersion: '1.2.0', modelGeneration: 1 } }
    expect(quarantines({ ...r, kind: 'OSImage', status: 'Faulted' })).toBe(true)
    expect(
      quarantines({
        ...r,
        kind: 'OSImage',
        status: 'Faulted',
        error: { code: CODES.beforeRollingUpgrade, message: '' },
      }),
    ).toBe(false) // held, not faulted (R1.3)
    expect(quarantines({ ...r, kind: 'OSImage', status: 'Cancelled', error: null })).toBe(false)
    expect(quarantine({ faultedVersions: ['1.1.0'] }, r, 5)).toEqual({
      faultedVersions: ['1.1.0', '1.2.0'],
      quarantine: [{ version: '1.2.0', rolloutId: 'r1', atMs: 5, reason: BREACH }],
    })
  })

  it('derives null details for versions stored before records, newest first', () => {
    const m = quarantine(
      { faultedVersions: ['1.10.0'] },
      {
        id: 'r1',
        error: BREACH,
        target: { imageVersion: '1.9.0', modelGeneration: 1 },
      },
      5,
    )
    expect(quarantineList(m).map((q) => [q.version, q.rolloutId])).toEqual([
      ['1.10.0', null],
      ['1.9.0', 'r1'],
    ])
  })

  it('releases a quarantined version, and nothing else', () => {
    const m = { faultedVersions: ['1.2.0'], quarantine: [] }
    expect(release(m, '1.2.0')).toEqual({ faultedVersions: [], quarantine: [] })
    expect(release(m, '1.3.0')).toBeNull()
  })
})

describe('roll forward', () => {
  it('freezes the bad versions older than the target', () => {
    expect(rollForwardFrom('1.3.0', ['1.2.0', '1.4.0'], '1.1.0')).toEqual(['1.1.0', '1.2.0'])
    expect(begin('1.3.0', ['1.2.0']).rollForwardFrom).toEqual(['1.2.0'])
    expect(begin('1.3.0').rollForwardFrom).toBeUndefined()
  })

  it('excuses instances unhealthy on the bad version from the pre-check, and moves them first', () => {
    // 5 of 10 unhealthy (> 20%): without roll forward the rollout faults before batch 1.
    const plain = step(begin('1.3.0'), brokenFleet())
    expect(plain.rollout.status).toBe('Faulted')
    expect(plain.rollout.error?.code).toBe(CODES.beforeRollingUpgrade)
    // With 1.2.0 quarantined, 4 are excused; 1 counted, 1 × 100 ≤ 20 × 10: batch 1 starts with
    // a broken one first (instance 0) and, in its update domain 0, instance 5 (R3.3).
    const rolled = step(begin('1.3.0', ['1.2.0']), brokenFleet())
    expect(rolled.rollout.status).toBe('RollingForward')
    expect(rolled.rollout.attempts.map((a) => a.instanceId)).toEqual(['0', '5'])
  })

  it('still counts other unhealthy instances: 3 of 10 on 1.0.0 fault it', () => {
    const fleet3 = brokenFleet().map((i) =>
      ['7', '8'].includes(i.instanceId) ? { ...i, health: 'unhealthy' as const } : i,
    )
    expect(step(begin('1.3.0', ['1.2.0']), fleet3).rollout.status).toBe('Faulted')
  })

  it('supersedes a failing or paused rollout, not one going well', () => {
    const r = step(begin('1.2.0'), fleet(10)).rollout
    expect(stuckOrFailing(r, fleet(10), false)).toBe(false)
    expect(stuckOrFailing(r, fleet(10), true)).toBe(true)
    const failed: Rollout = {
      ...r,
      attempts: r.attempts.map((a, n) => (n === 0 ? { ...a, state: 'RolledBack' } : a)),
    }
    expect(supersedes(failed, '1.3.0', fleet(10), false)).toBe(true)
    expect(supersedes(failed, '1.2.0', fleet(10), false)).toBe(false)
  })

  it('ends a superseded rollout Cancelled once its batch is done, recording the newer version', () => {
    const r = begin('1.2.0')
    const done = step(r, fleet(10, { version: '1.2.0' }), '1.3.0')
    expect(done.rollout.status).toBe('Cancelled')
    expect(done.rollout.error).toBeNull()
    expect(done.rollout.supersededBy).toBe('1.3.0')
    expect(done.events.at(-1)?.reason).toBe(SUPERSEDED_CODE)
  })
})
