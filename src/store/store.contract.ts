/**
 * The contract every Store passes (STYLE R8): revisions fence stale writers, one running rollout
 * per set, history pages newest first, events and instance records round-trip. The SQLite and
 * PostgreSQL stores run this same suite.
 */
import { describe, expect, it } from 'vitest'
import type { Store, ScaleSetState } from './store.js'
import type { ControlStore } from './control-store.js'
import type { LeaseStore } from './lease-store.js'
import { fenceScope } from './lease-store.js'
import type { Rollout, RolloutEvent } from '../core/rollout/types.js'
import { startRollout } from '../core/rollout/start.js'
import { scaleSetState, spec } from '../../test-support/builders.js'

const setState = (key: string): ScaleSetState => scaleSetState(spec({ key }))

const event = (rolloutId: string, scaleSetKey: string, to: string): RolloutEvent => ({
  atMs: 1,
  rolloutId,
  scaleSetKey,
  instanceId: null,
  from: 'Pending',
  to,
  reason: 'test',
})

const rollout = (id: string, key: string, startedAtMs: number): Rollout =>
  startRollout({
    id,
    spec: spec({ key }),
    request: {
      kind: 'OSImage',
      startedBy: 'Platform',
      target: { imageVersion: '1.1.0', modelGeneration: 1 },
      pace: 'batched',
      scope: null,
    },
    healthDeadlineMs: 300_000,
    nowMs: startedAtMs,
  })

export function runStoreContract(
  name: string,
  create: () => Promise<{ store: Store; close: () => Promise<void> }>,
): void {
  const state = setState
  const run = async (fn: (store: Store) => Promise<void>): Promise<void> => {
    const { store, close } = await create()
    try {
      await fn(store)
    } finally {
      await close()
    }
  }

  describe(`Store contract: ${name}`, () => {
    it('creates, reads and fences scale sets by revision', () =>
      run(async (store) => {
        const created = await store.putScaleSet(state('/a'), null)
        expect(created.revision).toBe(1)
        await expect(store.putScaleSet(state('/a'), null)).rejects.toMatchObject({
          code: 'RevisionConflict',
        })
        const updated = await store.putScaleSet({ ...created, nextInstanceId: 5 }, 1)
        expect(updated.revision).toBe(2)
        await expect(store.putScaleSet({ ...created, nextInstanceId: 9 }, 1)).rejects.toMatchObject(
          { code: 'RevisionConflict' },
        )
        expect(await store.getScaleSet('/a')).toEqual(updated)
        expect(await store.listScaleSetKeys()).toEqual(['/a'])
        await store.deleteScaleSet('/a')
        expect(await store.getScaleSet('/a')).toBeUndefined()
      }))

    it('allows one running rollout per set and fences rollout saves', () =>
      run(async (store) => {
        const r = rollout('r1', '/a', 0)
        await store.createRollout(r)
        await expect(store.createRollout(rollout('r2', '/a', 1))).rejects.toMatchObject({
          code: 'OperationNotAllowed',
        })
        await store.createRollout(rollout('r3', '/b', 1))
        expect(await store.getActiveRollout('/a')).toEqual(r)
        const next = { ...r, batchCount: 1, revision: 1 }
        await store.saveRollout(next, 0)
        await expect(store.saveRollout({ ...r, revision: 1 }, 0)).rejects.toMatchObject({
          code: 'RevisionConflict',
        })
        await store.saveRollout({ ...next, status: 'Completed', endedAtMs: 5, revision: 2 }, 1)
        expect(await store.getActiveRollout('/a')).toBeUndefined()
        expect((await store.getRollout('r1'))?.status).toBe('Completed')
        await store.createRollout(rollout('r4', '/a', 10))
        expect((await store.getActiveRollout('/a'))?.id).toBe('r4')
      }))

    it('saves made in the same turn stand or fall each on its own revision, events with them', () =>
      run(async (store) => {
        const a = rollout('ra', '/a', 0)
        const b = rollout('rb', '/b', 0)
        await store.createRollout(a)
        await store.createRollout(b)
        const event = (rolloutId: string, key: string) => ({
          atMs: 1,
          rolloutId,
          scaleSetKey: key,
          instanceId: '0',
          from: 'Pending',
          to: 'Reimaging',
          reason: 'Batch1',
        })
        const [good, stale] = await Promise.allSettled([
          store.saveRollout({ ...a, batchCount: 1, revision: 1 }, 0, [event('ra', '/a')]),
          store.saveRollout({ ...b, batchCount: 1, revision: 6 }, 5, [event('rb', '/b')]),
        ])
        expect(good.status).toBe('fulfilled')
        expect(stale).toMatchObject({ status: 'rejected', reason: { code: 'RevisionConflict' } })
        expect((await store.getActiveRollout('/a'))?.revision).toBe(1)
        expect((await store.getActiveRollout('/b'))?.revision).toBe(0)
        expect(await store.listEvents('ra')).toHaveLength(1)
        expect(await store.listEvents('rb')).toHaveLength(0)
      }))

    it('creates a rollout with its first events, and a set write made beside it lands only with it', () =>
      run(async (store) => {
        const set = await store.putScaleSet(state('/a'), null)
        const first = { ...rollout('r1', '/a', 0), batchCount: 1, revision: 1 }
        const event = {
          atMs: 1,
          rolloutId: 'r1',
          scaleSetKey: '/a',
          instanceId: '0',
          from: 'Pending',
          to: 'Reimaging',
          reason: 'Batch1',
        }
        // Made in the same turn, as the reconciler does: both land.
        const [, flagged] = await Promise.all([
          store.createRollout(first, [event]),
          store.putScaleSet({ ...set, firstSinceEnable: false }, set.revision, {
            onlyWithRollout: 'r1',
          }),
        ])
        expect(flagged.revision).toBe(2)
        expect(await store.getActiveRollout('/a')).toEqual(first)
        expect(await store.listEvents('r1')).toEqual([event])
        expect((await store.getScaleSet('/a'))?.firstSinceEnable).toBe(false)
        // The set already runs r1: r2 is refused, and the set write beside it with it.
        const [created, put] = await Promise.allSettled([
          store.createRollout(rollout('r2', '/a', 1), [{ ...event, rolloutId: 'r2' }]),
          store.putScaleSet({ ...flagged, nextInstanceId: 7 }, flagged.revision, {
            onlyWithRollout: 'r2',
          }),
        ])
        expect(created).toMatchObject({
          status: 'rejected',
          reason: { code: 'OperationNotAllowed' },
        })
        expect(put).toMatchObject({ status: 'rejected', reason: { code: 'RevisionConflict' } })
        expect(await store.getScaleSet('/a')).toEqual(flagged)
        expect(await store.listEvents('r2')).toEqual([])
      }))

    it('pages history newest first', () =>
      run(async (store) => {
        for (let i = 0; i < 5; i++) {
          const r = rollout(`r${i}`, '/a', i * 1000)
          await store.createRollout(r)
          await store.saveRollout(
            { ...r, status: 'Completed', endedAtMs: i * 1000 + 1, revision: 1 },
            0,
          )
        }
        const page1 = await store.listRollouts('/a', { limit: 2 })
        expect(page1.map((r) => r.id)).toEqual(['r4', 'r3'])
        const last = page1[1]!
        const page2 = await store.listRollouts('/a', {
          limit: 10,
          before: { startedAtMs: last.startedAtMs, id: last.id },
        })
        expect(page2.map((r) => r.id)).toEqual(['r2', 'r1', 'r0'])
      }))

    it('prunes old ended rollouts but keeps the newest ones and the running one', () =>
      run(async (store) => {
        for (let i = 0; i < 6; i++) {
          const r = rollout(`old${i}`, '/a', i * 1000)
          await store.createRollout(r)
          await store.saveRollout(
            { ...r, status: 'Completed', endedAtMs: i * 1000 + 1, revision: 1 },
            0,
          )
          await store.appendEvents([
            {
              atMs: i,
              rolloutId: r.id,
              scaleSetKey: '/a',
              instanceId: null,
              from: 'RollingForward',
              to: 'Completed',
              reason: 'x',
            },
          ])
        }
        await store.createRollout(rollout('running', '/a', 0))
        expect(await store.pruneRollouts('/a', { beforeMs: 4500, keepLast: 2 })).toBe(4)
        expect((await store.listRollouts('/a', { limit: 10 })).map((r) => r.id).sort()).toEqual([
          'old4',
          'old5',
          'running',
        ])
        expect(await store.listEvents('old0')).toEqual([])
        expect(await store.listEvents('old5')).toHaveLength(1)
        expect(await store.pruneRollouts('/a', { beforeMs: 1e12, keepLast: 100 })).toBe(0)
      }))

    it('deletes a set with all its rollouts and events; its name starts again with no history', () =>
      run(async (store) => {
        await store.putScaleSet(state('/a'), null)
        await store.putScaleSet(state('/b'), null)
        const ended = rollout('a1', '/a', 1)
        await store.createRollout(ended, [event('a1', '/a', 'RollingForward')])
        await store.saveRollout({ ...ended, status: 'Completed', endedAtMs: 2, revision: 1 }, 0)
        await store.createRollout(rollout('b1', '/b', 1), [event('b1', '/b', 'RollingForward')])
        await store.createRollout(rollout('a2', '/a', 3), [event('a2', '/a', 'RollingForward')])
        const before = await store.lastEventSeq()
        expect(before).toBe((await store.listEventsAfter(0, 10)).at(-1)?.seq)
        await store.deleteScaleSet('/a')
        expect(await store.listRollouts('/a', { limit: 10 })).toEqual([])
        expect(await store.getRollout('a2')).toBeUndefined()
        expect(await store.listEvents('a1')).toEqual([])
        expect((await store.listEventsAfter(0, 10)).map((e) => e.event.rolloutId)).toEqual(['b1'])
        // The same name again: no history, and new events come after every seq ever handed out
        // (a stream that saw the deleted ones must not skip these).
        await store.putScaleSet(state('/a'), null)
        expect(await store.getActiveRollout('/a')).toBeUndefined()
        await store.createRollout(rollout('a3', '/a', 4), [event('a3', '/a', 'RollingForward')])
        const after = await store.listEventsAfter(before, 10)
        expect(after.map((e) => e.event.rolloutId)).toEqual(['a3'])
        expect(await store.lastEventSeq()).toBe(after[0]!.seq)
        expect((await store.listRollouts('/b', { limit: 10 })).map((r) => r.id)).toEqual(['b1'])
      }))

    it('prunes rollouts whose set no longer exists, up to a limit', () =>
      run(async (store) => {
        expect(await store.lastEventSeq()).toBe(0)
        await store.putScaleSet(state('/kept'), null)
        await store.createRollout(rollout('k', '/kept', 1), [event('k', '/kept', 'x')])
        for (const id of ['o1', 'o2', 'o3'])
          await store.createRollout(rollout(id, `/gone-${id}`, 1), [event(id, `/gone-${id}`, 'x')])
        expect(await store.pruneOrphanRollouts(2)).toBe(2)
        expect(await store.pruneOrphanRollouts(2)).toBe(1)
        expect(await store.pruneOrphanRollouts(2)).toBe(0)
        for (const id of ['o1', 'o2', 'o3']) {
          expect(await store.getRollout(id)).toBeUndefined()
          expect(await store.getActiveRollout(`/gone-${id}`)).toBeUndefined()
        }
        expect((await store.listEventsAfter(0, 10)).map((e) => e.event.rolloutId)).toEqual(['k'])
        expect(await store.getRollout('k')).toBeDefined()
      }))

    it('keeps instance records and rollout events', () =>
      run(async (store) => {
        const rec = {
          instanceId: '3',
          protectFromScaleIn: true,
          protectFromScaleSetActions: false,
          osUpgradePending: false,
          osUpgradeApproved: false,
        }
        await store.putInstanceRecords('/a', [rec])
        await store.putInstanceRecords('/a', [{ ...rec, osUpgradePending: true }])
        expect(await store.listInstanceRecords('/a')).toEqual([{ ...rec, osUpgradePending: true }])
        const events = [
          {
            atMs: 1,
            rolloutId: 'r1',
            scaleSetKey: '/a',
            instanceId: '3',
            from: 'Pending',
            to: 'Reimaging',
            reason: 'Batch1',
          },
          {
            atMs: 2,
            rolloutId: 'r1',
            scaleSetKey: '/a',
            instanceId: null,
            from: 'RollingForward',
            to: 'Completed',
            reason: 'Completed',
          },
        ]
        await store.appendEvents(events)
        expect(await store.listEvents('r1')).toEqual(events)
        const after = await store.listEventsAfter(0, 10)
        expect(after.map((e) => e.event)).toEqual(events)
        expect(after[1]!.seq).toBeGreaterThan(after[0]!.seq)
        expect(await store.listEventsAfter(after[1]!.seq, 10)).toEqual([])
        expect((await store.listEventsAfter(0, 1)).length).toBe(1)
        expect(await store.listEvents('nope')).toEqual([])
      }))

    it('keeps a large append of events whole and in order', () =>
      run(async (store) => {
        const events = Array.from({ length: 1_300 }, (_, i) => ({
          atMs: i,
          rolloutId: 'big',
          scaleSetKey: '/a',
          instanceId: String(i),
          from: 'Pending',
          to: 'Reimaging',
          reason: 'Batch1',
        }))
        await Promise.all([
          store.appendEvents(events.slice(0, 700)),
          store.appendEvents(events.slice(700)),
        ])
        expect(await store.listEvents('big')).toEqual(events)
      }))
  })
}

/** The contract of the API's ControlStore (resources, operations, tokens), run on every SQL store. */
export function runControlStoreContract(
  name: string,
  create: () => Promise<{ store: ControlStore; close: () => Promise<void> }>,
): void {
  const run = async (fn: (store: ControlStore) => Promise<void>): Promise<void> => {
    const { store, close } = await create()
    try {
      await fn(store)
    } finally {
      await close()
    }
  }
  describe(`ControlStore contract: ${name}`, () => {
    it('lists resources by type, scope and id prefix (with _ and % taken literally)', () =>
      run(async (store) => {
        const res = (id: string, type = 't') => ({
          id,
          type,
          subscriptionId: 's',
          resourceGroup: 'g',
          name: id.split('/').pop() as string,
          body: {},
          etag: 'e',
          createdAtMs: 1,
          updatedAtMs: 1,
        })
        for (const id of ['/a/x_1/v/1', '/a/x_1/v/2', '/a/xz1/v/3', '/a/x%1/v/4', '/a/x_1/w/5'])
          await store.putResource(res(id))
        await store.putResource(res('/a/x_1/v/9', 'other'))
        expect(
          (await store.listResources({ type: 't', idPrefix: '/a/x_1/v/' })).map((r) => r.id),
        ).toEqual(['/a/x_1/v/1', '/a/x_1/v/2'])
        expect(
          (await store.listResources({ type: 't', idPrefix: '/A/X%1/' })).map((r) => r.id),
        ).toEqual(['/a/x%1/v/4'])
        expect(
          await store.listResources({ type: 't', subscriptionId: 'S', resourceGroup: 'G' }),
        ).toHaveLength(5)
        expect(await store.deleteResource('/a/x_1/v/1')).toBe(true)
        expect(await store.deleteResource('/a/x_1/v/1')).toBe(false)
      }))

    it('writes resources with ETag preconditions', () =>
      run(async (store) => {
        const r = {
          id: '/r',
          type: 't',
          subscriptionId: 's',
          resourceGroup: null,
          name: 'R',
          body: { a: 1 },
          etag: 'e1',
          createdAtMs: 1,
          updatedAtMs: 1,
        }
        await store.putResource(r, null)
        await expect(store.putResource(r, null)).rejects.toMatchObject({
          code: 'PreconditionFailed',
        })
        await store.putResource({ ...r, etag: 'e2', body: { a: 2 } }, 'e1')
        await expect(store.putResource({ ...r, etag: 'e3' }, 'e1')).rejects.toMatchObject({
          code: 'PreconditionFailed',
        })
        expect(await store.getResource('/R')).toMatchObject({
          name: 'R',
          body: { a: 2 },
          etag: 'e2',
        })
      }))

    it('lists stale in-progress operations and deletes ended ones, up to a limit', () =>
      run(async (store) => {
        const op = (id: string, endTimeMs: number | null) => ({
          id,
          name: 'x',
          status: endTimeMs === null ? ('InProgress' as const) : ('Succeeded' as const),
          startTimeMs: 1,
          endTimeMs,
          error: null,
          tracks: { kind: 'none' as const },
          resourceId: null,
        })
        await store.putOperation(op('running-old', null), 10)
        await store.putOperation(op('running-new', null), 500)
        await store.putOperation(op('ended-1', 20), 20)
        await store.putOperation(op('ended-2', 30), 30)
        await store.putOperation(op('ended-3', 40), 40)
        await store.putOperation(op('ended-new', 600), 600)
        expect((await store.listStaleOperations(100, 10)).map((o) => o.id)).toEqual(['running-old'])
        expect(await store.deleteEndedOperations(100, 2)).toBe(2)
        expect(await store.deleteEndedOperations(100, 2)).toBe(1)
        expect(await store.deleteEndedOperations(100, 2)).toBe(0)
        for (const id of ['ended-1', 'ended-2', 'ended-3'])
          expect(await store.getOperation(id)).toBeUndefined()
        for (const id of ['running-old', 'running-new', 'ended-new'])
          expect(await store.getOperation(id)).toBeDefined()
        // Checked again and still running: written with the new time, it is no longer stale.
        await store.putOperation(op('running-old', null), 700)
        expect(await store.listStaleOperations(600, 10)).toEqual([
          expect.objectContaining({ id: 'running-new' }),
        ])
        // Ended: deleted once it is older than the cutoff, whatever its start.
        await store.putOperation(op('running-new', 800), 800)
        expect(await store.deleteEndedOperations(800, 10)).toBe(1)
        expect(await store.getOperation('ended-new')).toBeUndefined()
        expect(await store.getOperation('running-new')).toBeDefined()
      }))

    it('keeps operations and tokens', () =>
      run(async (store) => {
        const op = {
          id: 'op1',
          name: 'x',
          status: 'InProgress' as const,
          startTimeMs: 1,
          endTimeMs: null,
          error: null,
          tracks: { kind: 'none' as const },
          resourceId: null,
        }
        await store.putOperation(op, 1)
        await store.putOperation({ ...op, status: 'Succeeded', endTimeMs: 2 }, 2)
        expect(await store.getOperation('op1')).toMatchObject({ status: 'Succeeded', endTimeMs: 2 })
        const t = {
          hash: 'h',
          role: 'Reader' as const,
          subscriptions: ['s'],
          label: 'l',
          createdAtMs: 5,
        }
        await store.putToken(t)
        expect(await store.getToken('h')).toEqual(t)
        expect(await store.listTokens()).toEqual([t])
        expect(await store.getToken('nope')).toBeUndefined()
      }))
  })
}

/**
 * Leases and fencing (issue 5): one holder at a time, epochs that only grow, and writes under a
 * fence refused by the database once the lease has moved — the guarantee a paused replica relies
 * on not to corrupt a rollout another replica has taken over.
 */
export function runLeaseStoreContract(
  name: string,
  create: () => Promise<{ store: Store & LeaseStore; close: () => Promise<void> }>,
): void {
  const run = async (fn: (store: Store & LeaseStore) => Promise<void>): Promise<void> => {
    const { store, close } = await create()
    try {
      await fn(store)
    } finally {
      await close()
    }
  }
  const TTL = 10_000
  describe(`LeaseStore contract: ${name}`, () => {
    it('grants a lease to one holder until it expires, with a growing epoch', () =>
      run(async (store) => {
        expect(await store.acquireLease('k', 'a', 1_000, TTL)).toEqual({
          key: 'k',
          holder: 'a',
          epoch: 1,
          expiresAtMs: 11_000,
        })
        expect(await store.acquireLease('k', 'b', 10_999, TTL)).toBeNull()
        expect(await store.renewLeases('a', ['k'], 5_000, TTL)).toEqual(['k'])
        expect(await store.acquireLease('k', 'b', 14_999, TTL)).toBeNull()
        const taken = await store.acquireLease('k', 'b', 15_000, TTL)
        expect(taken).toMatchObject({ holder: 'b', epoch: 2, expiresAtMs: 25_000 })
        // The old holder cannot renew what it lost; the new one can.
        expect(await store.renewLeases('a', ['k'], 15_001, TTL)).toEqual([])
        expect(await store.renewLeases('b', ['k', 'other'], 15_001, TTL)).toEqual(['k'])
        expect(await store.listLeases()).toEqual([
          { key: 'k', holder: 'b', epoch: 2, expiresAtMs: 25_001 },
        ])
      }))

    it('hands a released lease over at once, keeping the epoch growing', () =>
      run(async (store) => {
        await store.acquireLease('k', 'a', 0, TTL)
        await store.releaseLease('k', 'b') // not b's: nothing happens
        expect(await store.acquireLease('k', 'b', 1, TTL)).toBeNull()
        await store.releaseLease('k', 'a')
        expect(await store.acquireLease('k', 'b', 1, TTL)).toMatchObject({ holder: 'b', epoch: 2 })
      }))

    it('refuses every write under a fence whose lease moved, and changes nothing', () =>
      run(async (store) => {
        const key =
          '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachineScaleSets/f'
        const saved = await store.putScaleSet(setState(key), null)
        const r = rollout('r1', key, 0)
        const a = await store.acquireLease(key, 'a', 0, TTL)
        expect(a?.epoch).toBe(1)
        const fenceA = { key, holder: 'a', epoch: 1 }
        // The holder writes under its fence.
        await fenceScope.run(fenceA, () => store.createRollout(r))
        const s1 = await fenceScope.run(fenceA, () =>
          store.putScaleSet({ ...saved, nextInstanceId: 1 }, saved.revision),
        )
        // a is paused; its lease expires and b takes over.
        expect(await store.acquireLease(key, 'b', TTL + 1, TTL)).toMatchObject({ epoch: 2 })
        const lost = { code: 'LeaseLost' }
        await expect(
          fenceScope.run(fenceA, () =>
            store.putScaleSet({ ...s1, nextInstanceId: 9 }, s1.revision),
          ),
        ).rejects.toMatchObject(lost)
        await expect(
          fenceScope.run(fenceA, () => store.saveRollout({ ...r, revision: 2 }, 1)),
        ).rejects.toMatchObject(lost)
        await expect(
          fenceScope.run(fenceA, () =>
            store.appendEvents([
              {
                rolloutId: 'r1',
                scaleSetKey: key,
                atMs: 1,
                instanceId: null,
                from: 'a',
                to: 'b',
                reason: 'c',
              },
            ]),
          ),
        ).rejects.toMatchObject(lost)
        await expect(
          fenceScope.run(fenceA, () => store.pruneRollouts(key, { beforeMs: 1e15, keepLast: 0 })),
        ).rejects.toMatchObject(lost)
        await expect(
          fenceScope.run(fenceA, () =>
            store.putInstanceRecords(key, [
              {
                instanceId: '0',
                protectFromScaleIn: true,
                protectFromScaleSetActions: false,
                osUpgradePending: false,
                osUpgradeApproved: false,
              },
            ]),
          ),
        ).rejects.toMatchObject(lost)
        // Nothing a refused write tried is there.
        expect((await store.getScaleSet(key))?.nextInstanceId).toBe(1)
        expect((await store.getRollout('r1'))?.revision).toBe(r.revision)
        expect(await store.listEvents('r1')).toEqual([])
        expect(await store.listInstanceRecords(key)).toEqual([])
        // The new holder writes; so does the API, which writes without a fence.
        await fenceScope.run({ key, holder: 'b', epoch: 2 }, () =>
          store.putScaleSet({ ...s1, nextInstanceId: 2 }, s1.revision),
        )
        expect((await store.getScaleSet(key))?.nextInstanceId).toBe(2)
        // A fence for a set nobody holds is refused too.
        await expect(
          fenceScope.run({ key: 'nobody', holder: 'a', epoch: 1 }, () =>
            store.putScaleSet(setState('nobody'), null),
          ),
        ).rejects.toMatchObject(lost)
        expect(await store.getScaleSet('nobody')).toBeUndefined()
      }))

    it('counts the replicas seen within the lease time', () =>
      run(async (store) => {
        expect(await store.heartbeat('a', 1_000, TTL)).toBe(1)
        expect(await store.heartbeat('b', 5_000, TTL)).toBe(2)
        expect(await store.heartbeat('b', 11_500, TTL)).toBe(1) // a last seen at 1,000
        await store.leaveReplicas('b')
        expect(await store.heartbeat('a', 11_600, TTL)).toBe(1)
      }))
  })
}
