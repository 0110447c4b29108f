/**
 * docs/rollouts.md § Per-instance timeline: an approval of a deferred upgrade is noted once, in
 * the running rollout's events, with who approved it; nothing without a deferring rollout.
 */
import { describe, expect, it } from 'vitest'
import { spec } from '../../test-support/builders.js'
import { ManualClock } from '../../test-support/manual-clock.js'
import { startRollout } from '../core/rollout/start.js'
import { effectNote } from '../runtime/effect-notes.js'
import { MemoryStore } from '../store/memory/memory-store.js'
import { noteApprovals } from './approval-notes.js'
import { approveInstances } from './rollouts.js'
import type { ServiceDeps } from './deps.js'

const record = (instanceId: string, pending: boolean, approved: boolean) => ({
  instanceId,
  protectFromScaleIn: false,
  protectFromScaleSetActions: false,
  osUpgradePending: pending,
  osUpgradeApproved: approved,
})

async function world(deferral: boolean) {
  const store = new MemoryStore()
  const r = startRollout({
    id: 'r1',
    spec: spec(),
    request: {
      kind: 'OSImage',
      startedBy: 'Platform',
      target: { imageVersion: '1.1.0', modelGeneration: 1 },
      pace: 'batched',
      scope: null,
    },
    healthDeadlineMs: 300_000,
    nowMs: 0,
  })
  await store.createRollout({ ...r, deferral })
  return { store, clock: new ManualClock(7_000), key: r.scaleSetKey }
}

describe('noteApprovals', () => {
  it('notes the pending, not yet approved instances under the deferring rollout', async () => {
    const w = await world(true)
    const records = [record('1', true, false), record('2', true, true), record('3', false, false)]
    await noteApprovals(w, w.key, records, ['1', '2', '3'], 'ApprovedByGuest')
    expect(await w.store.listEvents('r1')).toEqual([
      {
        atMs: 7_000,
        rolloutId: 'r1',
        scaleSetKey: w.key,
        instanceId: '1',
        from: 'Pending',
        to: 'Pending',
        reason: 'ApprovedByGuest',
      },
    ])
  })

  it('notes nothing when the running rollout does not defer', async () => {
    const w = await world(false)
    await noteApprovals(w, w.key, [record('1', true, false)], ['1'], 'ApprovedByRequest')
    expect(await w.store.listEvents('r1')).toEqual([])
  })
})

describe('effectNote', () => {
  it.each([
    ['reimage', 'Reimaging', 'DiskSwapped'],
    ['update', 'Updating', 'ModelApplied'],
    ['restore', 'RollingBack', 'PreviousDiskSwapped'],
    ['release', 'Succeeded', 'PreviousDiskReleased'],
    ['markPending', 'Pending', 'OSUpgradePending'],
  ] as const)('a finished %s is a step inside %s (%s)', (type, state, reason) => {
    expect(effectNote({ scaleSetKey: 'k', rolloutId: 'r1' }, type, '3', 5)).toEqual({
      atMs: 5,
      rolloutId: 'r1',
      scaleSetKey: 'k',
      instanceId: '3',
      from: state,
      to: state,
      reason,
    })
  })

  it('notes nothing outside a rollout, nor for effects the timeline has no step for', () => {
    expect(effectNote({ scaleSetKey: 'k' }, 'reimage', '3', 5)).toBeNull()
    expect(effectNote({ scaleSetKey: 'k', rolloutId: 'r1' }, 'delete', '3', 5)).toBeNull()
  })

  it('wakes the set for a stored approval even when its note fails', async () => {
    const { store, clock, key } = await world(true)
    const failing = Object.create(store) as MemoryStore
    failing.appendEvents = async () => {
      throw new Error('disk full')
    }
    const woken: string[] = []
    const deps = { store: failing, clock, notify: (k: string) => woken.push(k) }
    await expect(
      approveInstances(
        deps as unknown as ServiceDeps,
        key,
        [record('3', true, false)],
        ['3'],
        'ApprovedByRequest',
      ),
    ).rejects.toThrow('disk full')
    expect((await store.listInstanceRecords(key))[0]).toMatchObject({ osUpgradeApproved: true })
    expect(woken).toEqual([key])
  })
})
