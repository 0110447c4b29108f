/**
 * The HostStore contract on SQLite and, with OSROLL_TEST_DATABASE_URL, on PostgreSQL (each test
 * in a schema of its own, dropped afterwards); and a host's private key sealed at rest.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { runHostStoreContract, storedHost } from '../host-store.contract.js'
import { openSqliteStore } from '../sqlite/open-sqlite.js'
import { openPostgresStore } from '../postgres/open-postgres.js'
import { SecretBox } from '../secrets.js'
import { SqlHosts } from './sql-hosts.js'

const url = process.env['OSROLL_TEST_DATABASE_URL']

runHostStoreContract('sqlite', async () => {
  const store = await openSqliteStore(':memory:')
  return { hosts: new SqlHosts(store), close: () => store.close() }
})

describe('a host on SQLite', () => {
  it('keeps its private key sealed in the row and opens it on read', async () => {
    const store = await openSqliteStore(':memory:')
    try {
      await store.useSecrets(new SecretBox(randomBytes(32), 'test.key'))
      const hosts = new SqlHosts(store)
      await hosts.putHost(storedHost('h1'), null)
      const rows = await store.db.selectFrom('hosts').select('document').execute()
      expect(JSON.stringify(rows)).toContain('$osrollEncrypted')
      expect(JSON.stringify(rows)).not.toContain('secret')
      expect((await hosts.getHost('h1'))?.spec.privateKey).toBe(storedHost('h1').spec.privateKey)
    } finally {
      await store.close()
    }
  })
})

if (url) {
  runHostStoreContract('postgres', async () => {
    const schema = `osroll_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`
    const store = await openPostgresStore({ url, schema, maxConnections: 4 })
    return {
      hosts: new SqlHosts(store),
      close: async () => {
        await store.close()
        const c = new pg.Client({ connectionString: url })
        await c.connect()
        await c.query(`drop schema if exists ${schema} cascade`)
        await c.end()
      },
    }
  })
} else {
  describe.skip('HostStore contract: postgres (set OSROLL_TEST_DATABASE_URL to run it)', () => {
    it('is skipped', () => {})
  })
}
