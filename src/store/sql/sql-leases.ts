/** The SQL store's leases and replicas (lease-store.ts), on its db layer (sql-db.ts). */
import type { Database } from './schema.js'
import type { LeaseRow, LeaseStore } from '../lease-store.js'
import { SqlDb } from './sql-db.js'

export class SqlLeaseStore extends SqlDb implements LeaseStore {
  async heartbeat(replicaId: string, nowMs: number, ttlMs: number): Promise<number> {
    await this.db
      .insertInto('replicas')
      .values({ id: replicaId, seen_at_ms: nowMs })
      .onConflict((oc) => oc.column('id').doUpdateSet({ seen_at_ms: nowMs }))
      .execute()
    // Replicas gone for a day are forgotten.
    await this.db
      .deleteFrom('replicas')
      .where('seen_at_ms', '<', nowMs - 86_400_000)
      .execute()
    const row = await this.db
      .selectFrom('replicas')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('seen_at_ms', '>', nowMs - ttlMs)
      .executeTakeFirstOrThrow()
    return Number(row.n)
  }

  async leaveReplicas(replicaId: string): Promise<void> {
    await this.db.deleteFrom('replicas').where('id', '=', replicaId).execute()
  }

  async listLeases(): Promise<readonly LeaseRow[]> {
    const rows = await this.db.selectFrom('leases').selectAll().orderBy('key').execute()
    return rows.map(leaseOf)
  }

  async acquireLease(
    key: string,
    holder: string,
    nowMs: number,
    ttlMs: number,
  ): Promise<LeaseRow | null> {
    const expires = nowMs + ttlMs
    const row = await this.db
      .insertInto('leases')
      .values({ key, holder, epoch: 1, expires_at_ms: expires })
      .onConflict((oc) =>
        oc
          .column('key')
          .doUpdateSet((eb) => ({
            holder,
            epoch: eb(eb.ref('leases.epoch'), '+', 1),
            expires_at_ms: expires,
          }))
          .where('leases.expires_at_ms', '<=', nowMs),
      )
      .returningAll()
      .executeTakeFirst()
    return row ? leaseOf(row) : null
  }

  async renewLeases(
    holder: string,
    keys: readonly string[],
    nowMs: number,
    ttlMs: number,
  ): Promise<readonly string[]> {
    if (keys.length === 0) return []
    const renewed: string[] = []
    // In chunks: SQLite allows 32,766 parameters, and a short statement holds its locks briefly.
    for (let i = 0; i < keys.length; i += 500) {
      const rows = await this.db
        .updateTable('leases')
        .set({ expires_at_ms: nowMs + ttlMs })
        .where('holder', '=', holder)
        .where('key', 'in', keys.slice(i, i + 500))
        .returning('key')
        .execute()
      renewed.push(...rows.map((r) => r.key))
    }
    return renewed
  }

  async releaseLease(key: string, holder: string): Promise<void> {
    await this.db
      .updateTable('leases')
      .set({ expires_at_ms: 0 })
      .where('key', '=', key)
      .where('holder', '=', holder)
      .execute()
  }
}

function leaseOf(row: Database['leases']): LeaseRow {
  return {
    key: row.key,
    holder: row.holder,
    epoch: Number(row.epoch),
    expiresAtMs: Number(row.expires_at_ms),
  }
}
