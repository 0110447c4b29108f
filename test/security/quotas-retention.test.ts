/**
 * Retention (audit finding 12): ended operations are deleted once older than the retention and
 * in-progress ones are kept (stale ones re-checked, so one whose rollout is gone ends and goes
 * later); a deleted set's rollouts and events go with it and do not come back with a set of the
 * same name; rollouts left without a set are swept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import { armPaths, createSimFleet, imageBody } from '../../test-support/arm-fixtures.js'
import { ManualClock } from '../../test-support/manual-clock.js'
import { scaleSetState, spec } from '../../test-support/builders.js'
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js'
import { RetentionSweeper } from '../../src/runtime/retention.js'
import { refreshOperation } from '../../src/services/operations.js'
import { startRollout } from '../../src/core/rollout/start.js'
import { silentLogger } from '../../src/runtime/logger.js'
import { loadConfig } from '../../src/config/config.js'
import type { OperationRecord } from '../../src/store/control-store.js'

type Harness = Awaited<ReturnType<typeof apiHarness>>
let h: Harness
beforeAll(async () => {
  h = await apiHarness()
})
afterAll(() => h.close())

const DAY = 86_400_000
const T0 = 1_000_000_000

const op = (id: string, o: Partial<OperationRecord> = {}): OperationRecord => ({
  id,
  name: 'test',
  status: 'Succeeded',
  startTimeMs: T0,
  endTimeMs: T0,
  error: null,
  tracks: { kind: 'none' },
  resourceId: null,
  ...o,
})

const running = (id: string, key: string) =>
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
    nowMs: T0,
  })

async function sweeperOnOwnStore(o: { batch?: number; maxRounds?: number } = {}) {
  const store = await openSqliteStore(':memory:')
  const clock = new ManualClock(T0)
  const deps = { ...h.sys.deps, store, clock }
  const sweeper = new RetentionSweeper({
    store,
    clock,
    log: silentLogger,
    operationRetentionMs: DAY,
    refreshOperation: (id) => refreshOperation(deps, id),
    ...o,
  })
  return { store, clock, sweeper }
}

describe('retention sweep', () => {
  it('deletes ended operations after the retention and keeps in-progress ones', async () => {
    const { store, clock, sweeper } = await sweeperOnOwnStore()
    try {
      await store.putScaleSet(scaleSetState(spec({ key: '/s/live' })), null)
      await store.createRollout(running('live', '/s/live'))
      await store.putOperation(op('done'), T0)
      const inProgress = { status: 'InProgress' as const, endTimeMs: null }
      await store.putOperation(
        op('waiting', { ...inProgress, tracks: { kind: 'rollout', rolloutId: 'live' } }),
        T0,
      )
      await store.putOperation(
        op('lost', { ...inProgress, tracks: { kind: 'rollout', rolloutId: 'gone' } }),
        T0,
      )

      clock.advanceBy(DAY - 1)
      expect(await sweeper.sweep()).toEqual({
        operationsDeleted: 0,
        operationsRechecked: 0,
        orphanRolloutsDeleted: 0,
      })
      expect(await store.getOperation('done')).toBeDefined()

      clock.advanceBy(2)
      expect(await sweeper.sweep()).toMatchObject({ operationsDeleted: 1, operationsRechecked: 2 })
      expect(await store.getOperation('done')).toBeUndefined()
      // Its rollout is gone: re-checked, it ended now, and is kept for the retention from now.
      expect(await store.getOperation('lost')).toMatchObject({
        status: 'Failed',
        error: { code: 'NotFound' },
      })
      expect(await store.getOperation('waiting')).toMatchObject({ status: 'InProgress' })

      clock.advanceBy(DAY + 1)
      await sweeper.sweep()
      // `lost` ended at the previous sweep, more than the retention ago.
      expect(await store.getOperation('lost')).toBeUndefined()
      expect(await store.getOperation('waiting')).toMatchObject({ status: 'InProgress' })
      expect(await store.getRollout('live')).toBeDefined()
    } finally {
      await store.close()
    }
  })

  it('deletes rollouts and events left without a set, and works in bounded batches', async () => {
    const { store, clock, sweeper } = await sweeperOnOwnStore({ batch: 2, maxRounds: 1 })
    try {
      await store.putScaleSet(scaleSetState(spec({ key: '/s/live' })), null)
      await store.createRollout(running('live', '/s/live'))
      const event = (rolloutId: string, key: string) => ({
        atMs: T0,
        rolloutId,
        scaleSetKey: key,
        instanceId: null,
        from: 'Pending',
        to: 'RollingForward',
        reason: 'test',
      })
      for (const id of ['o1', 'o2', 'o3'])
        await store.createRollout(running(id, `/s/${id}`), [event(id, `/s/${id}`)])
      for (let i = 0; i < 5; i++) await store.putOperation(op(`ended-${i}`), T0)
      clock.advanceBy(DAY + 1)
      expect(await sweeper.sweep()).toMatchObject({
        operationsDeleted: 2,
        orphanRolloutsDeleted: 2,
      })
      expect(await sweeper.sweep()).toMatchObject({
        operationsDeleted: 2,
        orphanRolloutsDeleted: 1,
      })
      for (const id of ['o1', 'o2', 'o3']) expect(await store.getRollout(id)).toBeUndefined()
      expect(await store.listEventsAfter(0, 10)).toEqual([])
      expect(await store.getRollout('live')).toBeDefined()
    } finally {
      await store.close()
    }
  })

  it('refuses an operation retention too short for clients to poll', () => {
    expect(() => loadConfig({ operationRetention: 'PT30S' }, {})).toThrow(
      /--operation-retention \(OSROLL_OPERATION_RETENTION\): must be at least PT1M/,
    )
    expect(loadConfig({}, {}).operationRetentionMs).toBe(DAY)
  })
})

describe('a deleted scale set', () => {
  it(
    'takes its rollout history and events with it; a set of the same name starts clean',
    {
      timeout: 60_000,
    },
    async () => {
      const p = armPaths(h.sub)
      const call = (m: string, path: string, body?: unknown) =>
        h.call(m, path, body === undefined ? {} : { body })
      await createSimFleet(call, h.sub, { capacity: 2, name: 'gone' })
      const key = p.set('gone').toLowerCase()
      await h.call('PUT', p.image('1.1.0'), { body: imageBody('sim:?boot=0') })
      await waitFor(
        async () =>
          (await h.call('GET', `${p.set('gone')}/osUpgradeHistory`)).body.value?.some(
            (e: { properties: { runningStatus: { code: string } } }) =>
              e.properties.runningStatus.code === 'Completed',
          ),
        'a completed rollout',
      )
      const store = h.sys.deps.store
      const old = (await store.listRollouts(key, { limit: 10 })).map((r) => r.id)
      expect(old.length).toBeGreaterThan(0)
      const eventsOf = async () =>
        (await store.listEventsAfter(0, 100_000)).filter((e) => e.event.scaleSetKey === key)
      expect((await eventsOf()).length).toBeGreaterThan(0)

      expect((await h.call('DELETE', p.set('gone'))).status).toBeLessThan(300)
      expect(await store.listRollouts(key, { limit: 10 })).toEqual([])
      for (const id of old) expect(await store.getRollout(id)).toBeUndefined()
      expect(await eventsOf()).toEqual([])

      await createSimFleet(call, h.sub, { capacity: 1, name: 'gone' })
      const history = await h.call('GET', `${p.set('gone')}/osUpgradeHistory`)
      expect(history.body.value).toEqual([])
      expect((await h.call('GET', `${p.set('gone')}/rollingUpgrades/latest`)).status).toBe(404)
    },
  )
})
