/**
 * The whole control plane on PostgreSQL (issue 5): the same wiring as `osroll serve --store
 * postgres`, in a schema of its own: create a scale set, publish a version, and the automatic
 * rollout completes with its history. Skipped outside CI without OSROLL_TEST_DATABASE_URL.
 */
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import {
  armPaths,
  autoUpgradeSetBody,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'
import { openPostgresStore } from '../../src/store/postgres/open-postgres.js'

const url = process.env['OSROLL_TEST_DATABASE_URL']

describe.skipIf(!url && process.env['CI'] !== 'true')('osroll on PostgreSQL', () => {
  it(
    'reconnects when the database terminates its connections mid-rollout',
    { timeout: 60_000 },
    async () => {
      const schema = `osroll_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`
      const app = `osroll-${schema}`
      const store = await openPostgresStore({ url: url as string, schema, applicationName: app })
      const h = await apiHarness({ store })
      const admin = new pg.Client({ connectionString: url })
      await admin.connect()
      try {
        const p = armPaths(h.sub)
        await h.call('PUT', p.image('1.0.0'), { body: imageBody('sim:?boot=0') })
        await h.call('PUT', p.lb, {
          body: loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }),
        })
        await h.call('PUT', p.set(), {
          body: autoUpgradeSetBody({ sub: h.sub, capacity: 10, probe: 'tcp' }),
        })
        await waitFor(
          async () =>
            (await h.call('GET', p.set())).body.properties?.provisioningState === 'Succeeded',
          'set',
        )
        await h.call('PUT', p.image('1.1.0'), { body: imageBody('sim:?boot=1') }) // ~5 s: 5 batches of 1 s boots
        await waitFor(
          async () => (await h.call('GET', `${p.set()}/rollingUpgrades/latest`)).status === 200,
          'rollout started',
        )
        const killed = await admin.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1',
          [app],
        )
        expect(killed.rowCount).toBeGreaterThan(0)
        const [entry] = await waitFor(
          async () => {
            const r = await h.call('GET', `${p.set()}/osUpgradeHistory`)
            const v = r.status === 200 ? r.body.value : undefined
            return v?.[0]?.properties.runningStatus.code === 'Completed' && v
          },
          'rollout completed after the connections were terminated',
          45_000,
        )
        expect(entry.properties.progress).toMatchObject({
          successfulInstanceCount: 10,
          failedInstanceCount: 0,
        })
      } finally {
        await h.close()
        await admin.query(`drop schema if exists ${schema} cascade`)
        await admin.end()
      }
    },
  )

  it('runs an automatic rollout end to end', { timeout: 60_000 }, async () => {
    expect(url, 'OSROLL_TEST_DATABASE_URL must be set in CI').toBeTruthy()
    const schema = `osroll_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`
    const store = await openPostgresStore({ url: url as string, schema })
    const h = await apiHarness({ store })
    try {
      const p = armPaths(h.sub)
      expect(
        (await h.call('PUT', p.image('1.0.0'), { body: imageBody('sim:?boot=0') })).status,
      ).toBe(201)
      await h.call('PUT', p.lb, {
        body: loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }),
      })
      expect(
        (
          await h.call('PUT', p.set(), {
            body: autoUpgradeSetBody({ sub: h.sub, capacity: 5, probe: 'tcp' }),
          })
        ).status,
      ).toBe(201)
      await waitFor(
        async () =>
          (await h.call('GET', p.set())).body.properties?.provisioningState === 'Succeeded',
        'set',
      )
      await h.call('PUT', p.image('1.1.0'), { body: imageBody('sim:?boot=0') })
      const [entry] = await waitFor(async () => {
        const v = (await h.call('GET', `${p.set()}/osUpgradeHistory`)).body.value
        return v?.[0]?.properties.runningStatus.code === 'Completed' && v
      }, 'rollout on PostgreSQL')
      expect(entry.properties.progress.successfulInstanceCount).toBe(5)
    } finally {
      await h.close()
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      await c.query(`drop schema if exists ${schema} cascade`)
      await c.end()
    }
  })
})
