/**
 * The hosts registry in the SQL store (SQLite and PostgreSQL): one row per host, its document
 * (with the private key sealed by the store's secrets key, store/secrets.ts) and revision, and
 * its last status beside it with the time it was checked, so a status write is one guarded
 * update that never touches the spec. Writes are group-committed through the store's `enqueue`.
 */
import type { Kysely } from 'kysely'
import { Errors } from '../../errors.js'
import type { HostStatus } from '../../core/hosts/host-spec.js'
import type { HostStore, StoredHost } from '../host-store.js'
import { openAt, sealAt } from '../secrets.js'
import type { SecretPath } from '../secrets.js'
import type { Database } from './schema.js'
import type { SqlStore } from './sql-store.js'

/** A host's secret: the private key osroll logs in with. */
export const HOST_SECRETS: readonly SecretPath[] = [['spec', 'privateKey']]

type Row = Database['hosts']

export class SqlHosts implements HostStore {
  private readonly db: Kysely<Database>

  constructor(private readonly store: SqlStore) {
    this.db = store.db
  }

  async listHosts(): Promise<readonly StoredHost[]> {
    const rows = await this.db.selectFrom('hosts').selectAll().orderBy('key').execute()
    return rows.map((r) => this.hostOf(r))
  }

  async getHost(key: string): Promise<StoredHost | undefined> {
    const row = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('key', '=', key)
      .executeTakeFirst()
    return row ? this.hostOf(row) : undefined
  }

  async putHost(host: StoredHost, expectedRevision: number | null): Promise<StoredHost> {
    const revision = (expectedRevision ?? 0) + 1
    const saved = { ...host, revision }
    const { status, revision: _r, ...rest } = saved
    const row: Row = {
      key: host.key,
      document: JSON.stringify(sealAt(rest, HOST_SECRETS, this.store.secrets)),
      status: status ? JSON.stringify(status) : null,
      status_at_ms: status ? status.checkedAtMs : null,
      revision,
    }
    let refused: Error | null = null
    await this.store.enqueue(async (tx) => {
      refused = await write(tx, row, expectedRevision)
      return refused
    })
    if (refused) throw refused
    return saved
  }

  async deleteHost(key: string): Promise<boolean> {
    let deleted = false
    await this.store.enqueue(async (tx) => {
      const r = await tx.deleteFrom('hosts').where('key', '=', key).executeTakeFirst()
      deleted = Number(r.numDeletedRows) === 1
      return null
    })
    return deleted
  }

  async putHostStatus(key: string, status: HostStatus): Promise<boolean> {
    let written = false
    await this.store.enqueue(async (tx) => {
      const r = await tx
        .updateTable('hosts')
        .set({ status: JSON.stringify(status), status_at_ms: status.checkedAtMs })
        .where('key', '=', key)
        .where((eb) =>
          eb.or([eb('status_at_ms', 'is', null), eb('status_at_ms', '<', status.checkedAtMs)]),
        )
        .executeTakeFirst()
      written = Number(r.numUpdatedRows) === 1
      return null
    })
    return written
  }

  private hostOf(row: Row): StoredHost {
    const doc = openAt(JSON.parse(row.document), HOST_SECRETS, this.store.secrets) as StoredHost
    return {
      ...doc,
      status: row.status === null ? null : (JSON.parse(row.status) as HostStatus),
      revision: Number(row.revision),
    }
  }
}

async function write(
  tx: Kysely<Database>,
  row: Row,
  expectedRevision: number | null,
): Promise<Error | null> {
  if (expectedRevision === null) {
    const r = await tx
      .insertInto('hosts')
      .values(row)
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst()
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1
      ? null
      : Errors.RevisionConflict(`host ${row.key} already exists`)
  }
  const r = await tx
    .updateTable('hosts')
    .set({
      document: row.document,
      status: row.status,
      status_at_ms: row.status_at_ms,
      revision: row.revision,
    })
    .where('key', '=', row.key)
    .where('revision', '=', expectedRevision)
    .executeTakeFirst()
  return Number(r.numUpdatedRows) === 1
    ? null
    : Errors.RevisionConflict(`host ${row.key} changed (expected revision ${expectedRevision})`)
}
