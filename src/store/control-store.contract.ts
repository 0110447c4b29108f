/**
 * The contract of the API's ControlStore (resources, operations, tokens), run on every SQL store.
 */
import { describe, expect, it } from 'vitest'
import type { ControlStore } from './control-store.js'
import { runner } from './store.contract.js'
import type { Run } from './store.contract.js'

export function runControlStoreContract(
  name: string,
  create: () => Promise<{ store: ControlStore; close: () => Promise<void> }>,
): void {
  const run = runner(create)
  describe(`ControlStore contract: ${name}`, () => {
    resourceCases(run)
    operationCases(run)
    tokenCases(run)
  })
}

/** ARM resources: listed by type, scope and id prefix; written with ETag preconditions. */
function resourceCases(run: Run<ControlStore>): void {
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
}

/** Long-running operations: stale ones found, ended ones deleted, both up to a limit. */
function operationCases(run: Run<ControlStore>): void {
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
}

/** Operations and tokens round-trip. */
function tokenCases(run: Run<ControlStore>): void {
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
}
