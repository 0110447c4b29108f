/**
 * The store contracts on PostgreSQL (issue 5): each test works in a schema of its own, dropped
 * afterwards. Needs OSROLL_TEST_DATABASE_URL (.ci/run points it at the machine's server); without
 * it the suite is skipped outside CI and fails in CI.
 */
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { runStoreContract } from '../store.contract.js'
import { runControlStoreContract } from '../control-store.contract.js'
import { runLeaseStoreContract } from '../lease-store.contract.js'
import { openPostgresStore } from './open-postgres.js'
import { runPlanStoreContract } from '../plan-store.contract.js'
import { SqlPlans } from '../sql/sql-plans.js'
import { runLocalStateContract } from '../../fabrics/local/local-state.contract.js'
import { SqlLocalState } from '../sql/sql-local-state.js'
import { runSimStateContract } from '../../fabrics/sim/sim-state.contract.js'

const url = process.env['OSROLL_TEST_DATABASE_URL']
const inCi = process.env['CI'] === 'true'

if (!url && inCi) {
  describe('PostgreSQL store', () => {
    it('needs OSROLL_TEST_DATABASE_URL in CI', () => {
      expect.fail('OSROLL_TEST_DATABASE_URL is not set: .ci/run sets it to the machine PostgreSQL')
    })
  })
} else if (!url) {
  describe.skip('PostgreSQL store (set OSROLL_TEST_DATABASE_URL to run it)', () => {
    it('is skipped', () => {})
  })
} else {
  const open = async () => {
    const schema = `osroll_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`
    const store = await openPostgresStore({ url, schema, maxConnections: 4 })
    return {
      store,
      close: async () => {
        await store.close()
        const c = new pg.Client({ connectionString: url })
        await c.connect()
        await c.query(`drop schema if exists ${schema} cascade`)
        await c.end()
      },
    }
  }
  runStoreContract('postgres', open)
  runControlStoreContract('postgres', open)
  runLeaseStoreContract('postgres', open)
  runPlanStoreContract('postgres', async () => {
    const { store, close } = await open()
    return { plans: new SqlPlans(store), leases: store, close }
  })
  runLocalStateContract('postgres', async () => {
    const { store, close } = await open()
    return { state: new SqlLocalState(store), close }
  })
  runSimStateContract('postgres', async () => {
    const { store, close } = await open()
    return { state: store, close }
  })

  describe('PostgreSQL store', () => {
    it('migrates a schema while another osroll schema exists in the same database', async () => {
      const a = `osroll_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`
      const b = `osroll_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`
      const first = await openPostgresStore({ url: url, schema: a, maxConnections: 2 })
      try {
        const second = await openPostgresStore({ url: url, schema: b, maxConnections: 2 })
        expect(await second.listScaleSetKeys()).toEqual([])
        await second.close()
      } finally {
        await first.close()
        const c = new pg.Client({ connectionString: url })
        await c.connect()
        await c.query(`drop schema if exists ${a} cascade`)
        await c.query(`drop schema if exists ${b} cascade`)
        await c.end()
      }
    })

    it('applies migrations once when several replicas start at the same time', async () => {
      const schema = `osroll_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`
      const stores = await Promise.all(
        [1, 2, 3].map(() => openPostgresStore({ url, schema, maxConnections: 2 })),
      )
      try {
        const c = new pg.Client({ connectionString: url })
        await c.connect()
        const applied = await c.query(`select name from ${schema}.kysely_migration order by name`)
        await c.end()
        expect(applied.rows.map((r) => r.name)).toEqual([
          '001_initial',
          '002_local_instances',
          '003_leases',
          '004_retention',
          '005_event_seq_autoincrement',
          '006_settings',
          '007_rollout_plans',
          '008_hosts',
        ])
      } finally {
        for (const s of stores) await s.close()
        const c = new pg.Client({ connectionString: url })
        await c.connect()
        await c.query(`drop schema if exists ${schema} cascade`)
        await c.end()
      }
    })
  })
}
