/**
 * Secrets at rest on PostgreSQL (issue 15), with OSROLL_TEST_DATABASE_URL: the stored row holds
 * no secret, a read opens it, and a replica with another key is refused.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { openPostgresStore } from '../../src/store/postgres/open-postgres.js'
import { SecretBox } from '../../src/store/secrets.js'

const url = process.env['OSROLL_TEST_DATABASE_URL']

describe.skipIf(!url)('secrets at rest, PostgreSQL', () => {
  it('seals the row, opens it on read, and refuses a replica with another key', async () => {
    const schema = `osroll_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`
    const a = await openPostgresStore({ url: url as string, schema, maxConnections: 2 })
    const b = await openPostgresStore({ url: url as string, schema, maxConnections: 2 })
    try {
      await a.useSecrets(new SecretBox(randomBytes(32), 'a.key'))
      const id =
        '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web'
      const body = {
        properties: { virtualMachineProfile: { osProfile: { adminPassword: 'PG-SECRET-XYZZY' } } },
      }
      await a.putResource({
        id,
        type: 'Microsoft.Compute/virtualMachineScaleSets',
        subscriptionId: 's',
        resourceGroup: 'rg',
        name: 'web',
        body,
        etag: 'W/"1"',
        createdAtMs: 0,
        updatedAtMs: 0,
      })
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      const { rows } = await c.query(`select body from ${schema}.resources`)
      await c.end()
      expect(JSON.stringify(rows)).toContain('$osrollEncrypted')
      expect(JSON.stringify(rows)).not.toContain('PG-SECRET-XYZZY')
      expect((await a.getResource(id))?.body).toEqual(body)
      await expect(b.useSecrets(new SecretBox(randomBytes(32), 'b.key'))).rejects.toThrow(
        'every replica must use the same key file',
      )
    } finally {
      await b.close()
      await a.close()
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      await c.query(`drop schema if exists ${schema} cascade`)
      await c.end()
    }
  })
})
