/**
 * The contract every Store passes (STYLE R8): revisions fence stale writers, one running rollout
 * per set, history pages newest first, events and instance records round-trip. The SQLite and
 * PostgreSQL stores run this same suite.
 */
import { describe, expect, it } from 'vitest'
import type { Store, ScaleSetState } from './store.js'
import type { ControlStore } from './control-store.js'
import type { Rollout } from '../core/rollout/types.js'
import { startRollout } from '../core/rollout/start.js'
import { fabricModel, spec } from '../../test-support/builders.js'

export function runStoreContract(
  name: string,
  create: () => Promise<{ store: Store; close: () => Promise<void> }>,
): void {
  const state = (key: string): ScaleSetState => ({
    key,
    spec: spec({ key }),
    fabricModel: fabricModel({ scaleSetKey: key }),
    autoEnabledAtMs: 0,
    firstSinceEnable: true,
    nextInstanceId: 0,
    faultedVersions: [],
    lastPlatformRollout: null,
    cancelRequestedAtMs: null,
    revision: 0,
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
