import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CompiledQuery } from 'kysely'
import { runStoreContract } from '../store.contract.js'
import { runControlStoreContract } from '../control-store.contract.js'
import { runLeaseStoreContract } from '../lease-store.contract.js'
import { openSqliteStore } from './open-sqlite.js'
import { runPlanStoreContract } from '../plan-store.contract.js'
import { SqlPlans } from '../sql/sql-plans.js'
import { runLocalStateContract } from '../../fabrics/local/local-state.contract.js'
import { SqlLocalState } from '../sql/sql-local-state.js'
import { runSimStateContract, simInstance } from '../../fabrics/sim/sim-state.contract.js'
import { scaleSetState, spec } from '../../../test-support/builders.js'

const sqlite = async () => {
  const store = await openSqliteStore(':memory:')
  return { store, close: () => store.close() }
}
runStoreContract('sqlite', sqlite)
runControlStoreContract('sqlite', sqlite)
runLeaseStoreContract('sqlite', sqlite)
runPlanStoreContract('sqlite', async () => {
  const { store, close } = await sqlite()
  return { plans: new SqlPlans(store), leases: store, close }
})
runLocalStateContract('sqlite', async () => {
  const { store, close } = await sqlite()
  return { state: new SqlLocalState(store), close }
})
runSimStateContract('sqlite', async () => {
  const { store, close } = await sqlite()
  return { state: store, close }
})

describe('sqlite store', () => {
  it('commits the writes of one turn in the order they were made, a deletion included', async () => {
    const { store, close } = await sqlite()
    try {
      await store.putScaleSet(scaleSetState(spec({ key: '/s' })), null)
      // One turn: a pass writes an instance and its set's state, then the set is deleted.
      const writes = [
        store.put('/s', simInstance('0')),
        store.putScaleSet(scaleSetState(spec({ key: '/s' })), 1),
        store.deleteScaleSet('/s'),
        store.put('/t', simInstance('0')),
      ]
      await Promise.all(writes)
      expect(await store.getScaleSet('/s')).toBeUndefined()
      expect(await store.list('/s')).toEqual([])
      expect(await store.list('/t')).toHaveLength(1)
    } finally {
      await close()
    }
  })

  it('creates a new database with 8 KiB pages in WAL mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osroll-sqlite-'))
    try {
      const store = await openSqliteStore(join(dir, 'osroll.db'))
      const pragma = async (name: string) =>
        (await store.db.executeQuery(CompiledQuery.raw(`pragma ${name}`))).rows[0]
      expect(await pragma('page_size')).toEqual({ page_size: 8192 })
      expect(await pragma('journal_mode')).toEqual({ journal_mode: 'wal' })
      expect(await pragma('synchronous')).toEqual({ synchronous: 2 }) // FULL
      await store.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('keeps state in a file across reopen (migrations are idempotent)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osroll-sqlite-'))
    try {
      const file = join(dir, 'osroll.db')
      const a = await openSqliteStore(file)
      await a.putResource({
        id: '/x',
        type: 't',
        subscriptionId: 's',
        resourceGroup: 'g',
        name: 'X',
        body: { a: 1 },
        etag: 'e1',
        createdAtMs: 1,
        updatedAtMs: 1,
      })
      await a.close()
      const b = await openSqliteStore(file)
      expect(await b.getResource('/X')).toMatchObject({ name: 'X', body: { a: 1 }, etag: 'e1' })
      await expect(
        b.putResource(
          {
            id: '/x',
            type: 't',
            subscriptionId: 's',
            resourceGroup: 'g',
            name: 'X',
            body: {},
            etag: 'e2',
            createdAtMs: 1,
            updatedAtMs: 2,
          },
          'stale',
        ),
      ).rejects.toMatchObject({ code: 'PreconditionFailed' })
      await b.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
