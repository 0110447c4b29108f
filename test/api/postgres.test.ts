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
