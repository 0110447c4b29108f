/**
 * The contract every Store passes (STYLE R8): revisions fence stale writers, one running rollout
 * per set, history pages newest first, events and instance records round-trip, and the events of
 * a rollout that is gone are dropped. The memory, SQLite and PostgreSQL stores run this same suite
 * (the ControlStore's and LeaseStore's are control-store.contract.ts and lease-store.contract.ts).
 */
import { describe, expect, it } from 'vitest'
import type { Store, ScaleSetState } from './store.js'
import type { Rollout, RolloutEvent } from '../core/rollout/types.js'
import { startRollout } from '../core/rollout/start.js'
import { scaleSetState, spec } from '../../test-support/builders.js'

export const setState = (key: string): ScaleSetState => scaleSetState(spec({ key }))

const event = (rolloutId: string, scaleSetKey: string, to: string): RolloutEvent => ({
  atMs: 1,
  rolloutId,
  scaleSetKey,
  instanceId: null,
  from: 'Pending',
  to,
  reason: 'test',
})

export const rollout = (id: string, key: string, startedAtMs: number): Rollout =>
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

/** Runs a case on a fresh store, closed afterwards. */
export type Run<S> = (fn: (store: S) => Promise<void>) => Promise<void>

export function runner<S>(create: () => Promise<{ store: S; close: () => Promise<void> }>): Run<S> {
  return async (fn) => {
    const { store, close } = await create()
    try {
      await fn(store)
    } finally {
      await close()
    }
  }
}

const state = setState

export function runStoreContract(
  name: string,
  create: () => Promise<{ store: Store; close: () => Promise<void> }>,
): void {
  const run = runner(create)
  describe(`Store contract: ${name}`, () => {
    revisionCases(run)
    sameTurnCases(run)
    historyCases(run)
    deletionCases(run)
    eventCases(run)
    lateEventCases(run)
  })
}

/** Scale sets and rollouts fenced by revision; one running rollout per set. */
function revisionCases(run: Run<Store>): void {
  it('creates, reads and fences scale sets by revision', () =>
    run(async (store) => {
      const created = await store.putScaleSet(state('/a'), null)
      expect(created.revision).toBe(1)
      await expect(store.putScaleSet(state('/a'), null)).rejects.toMatchObject({
        code: 'RevisionConflict',
      })
      const updated = await store.putScaleSet({ ...created, nextInstanceId: 5 }, 1)
      expect(updated.revision).toBe(2)
      await expect(store.putScaleSet({ ...created, nextInstanceId: 9 }, 1)).rejects.toMatchObject({
        code: 'RevisionConflict',
      })
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
}

/** Writes made in one turn (one group commit): each stands or falls on its own. */
function sameTurnCases(run: Run<Store>): void {
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
}

/** A set's history: pages newest first, pruned by age beyond the newest ones. */
function historyCases(run: Run<Store>): void {
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
}

/** A deleted set takes its rollouts and events with it; orphans are pruned. */
function deletionCases(run: Run<Store>): void {
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
}

/** Instance records and events round-trip, in order. */
function eventCases(run: Run<Store>): void {
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
      await store.createRollout(rollout('r1', '/a', 0))
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
      await store.createRollout(rollout('big', '/a', 0))
      await Promise.all([
        store.appendEvents(events.slice(0, 700)),
        store.appendEvents(events.slice(700)),
      ])
      expect(await store.listEvents('big')).toEqual(events)
    }))
}

/** Events whose rollout is gone are dropped (a late effect note of a deleted set). */
function lateEventCases(run: Run<Store>): void {
  it('drops the events of a rollout that is gone, a late note of a deleted set among them', () =>
    run(async (store) => {
      await store.putScaleSet(state('/a'), null)
      await store.createRollout(rollout('a1', '/a', 1), [event('a1', '/a', 'RollingForward')])
      await store.deleteScaleSet('/a')
      await store.appendEvents([event('a1', '/a', 'LateNote'), event('never', '/a', 'x')])
      expect(await store.listEvents('a1')).toEqual([])
      expect(await store.listEventsAfter(0, 10)).toEqual([])
      // Made in the same turn as the deletion, after it: dropped too.
      await store.putScaleSet(state('/b'), null)
      await store.createRollout(rollout('b1', '/b', 1))
      await Promise.all([
        store.deleteScaleSet('/b'),
        store.appendEvents([event('b1', '/b', 'LateNote')]),
      ])
      expect(await store.listEvents('b1')).toEqual([])
      // Made in the same turn as the rollout's creation (and its first events): kept.
      await Promise.all([
        store.createRollout(rollout('c1', '/c', 1), [event('c1', '/c', 'RollingForward')]),
        store.appendEvents([event('c1', '/c', 'Note')]),
      ])
      expect((await store.listEvents('c1')).map((e) => e.to)).toEqual(['RollingForward', 'Note'])
      // A rollout plan's events have no rollout of their own: kept.
      const plan = '/subscriptions/s/providers/osroll.upgrades/rolloutplans/p'
      const wave = event(`${plan}/waves/1.1.0`, plan, 'Released')
      await store.appendEvents([wave])
      expect(await store.listEvents(wave.rolloutId)).toEqual([wave])
      expect((await store.listEventsAfter(0, 10)).map((e) => e.event.rolloutId)).toEqual([
        'c1',
        'c1',
        wave.rolloutId,
      ])
    }))
}
