/**
 * The SQL store's side for the API (control-store.ts): ARM resources (secret members sealed,
 * secrets.ts), long-running operations and tokens.
 */
import { Errors } from '../../errors.js'
import type {
  ControlStore,
  OperationRecord,
  StoredResource,
  TokenRecord,
} from '../control-store.js'
import type { Database } from './schema.js'
import { RESOURCE_SECRETS, openAt, sealAt } from '../secrets.js'
import type { SecretBox } from '../secrets.js'
import { SqlLeaseStore } from './sql-leases.js'

export class SqlControlStore extends SqlLeaseStore implements ControlStore {
  async getResource(id: string): Promise<StoredResource | undefined> {
    const [row] = await this.rows<Database['resources']>('select * from resources where id = ?', [
      id.toLowerCase(),
    ])
    return row ? resourceOf(row, this.secrets) : undefined
  }

  async putResource(r: StoredResource, expectedEtag?: string | null): Promise<void> {
    const row = {
      id: r.id.toLowerCase(),
      type: r.type.toLowerCase(),
      subscription_id: r.subscriptionId.toLowerCase(),
      resource_group: r.resourceGroup?.toLowerCase() ?? null,
      name: r.name,
      body: JSON.stringify(sealAt(r.body, RESOURCE_SECRETS, this.secrets)),
      etag: r.etag,
      created_at_ms: r.createdAtMs,
      updated_at_ms: r.updatedAtMs,
    }
    if (expectedEtag === undefined) {
      await this.db
        .insertInto('resources')
        .values(row)
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet({ body: row.body, etag: row.etag, updated_at_ms: row.updated_at_ms }),
        )
        .execute()
      return
    }
    if (expectedEtag === null) {
      try {
        await this.db.insertInto('resources').values(row).execute()
      } catch (err) {
        if (isUniqueViolation(err)) throw Errors.PreconditionFailed(`Resource ${r.id} exists.`)
        throw err
      }
      return
    }
    const result = await this.db
      .updateTable('resources')
      .set({ body: row.body, etag: row.etag, updated_at_ms: row.updated_at_ms })
      .where('id', '=', row.id)
      .where('etag', '=', expectedEtag)
      .executeTakeFirst()
    if (Number(result.numUpdatedRows) !== 1)
      throw Errors.PreconditionFailed(`Resource ${r.id} changed.`)
  }

  async deleteResource(id: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('resources')
      .where('id', '=', id.toLowerCase())
      .executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }

  async listResources(q: {
    type: string
    subscriptionId?: string
    resourceGroup?: string
    idPrefix?: string
  }): Promise<readonly StoredResource[]> {
    let query = this.db.selectFrom('resources').selectAll().where('type', '=', q.type.toLowerCase())
    if (q.subscriptionId)
      query = query.where('subscription_id', '=', q.subscriptionId.toLowerCase())
    if (q.resourceGroup) query = query.where('resource_group', '=', q.resourceGroup.toLowerCase())
    const prefix = q.idPrefix?.toLowerCase()
    if (prefix && this.dialect === 'sqlite') {
      // A range uses the primary key index; SQLite compares text bytewise.
      query = query.where('id', '>=', prefix).where('id', '<', prefix + '\uffff')
    } else if (prefix) {
      // PostgreSQL compares text by collation, so a range is not safe: LIKE, '_' '%' escaped.
      query = query.where('id', 'like', prefix.replace(/[\\%_]/g, (c) => '\\' + c) + '%')
    }
    const rows = await query.orderBy('id').execute()
    return rows.map((r) => resourceOf(r, this.secrets))
  }

  // --- operations ---

  async getOperation(id: string): Promise<OperationRecord | undefined> {
    const row = await this.db
      .selectFrom('operations')
      .select('document')
      .where('id', '=', id)
      .executeTakeFirst()
    return row ? (JSON.parse(row.document) as OperationRecord) : undefined
  }

  async putOperation(op: OperationRecord, nowMs: number): Promise<void> {
    const document = JSON.stringify(op)
    // When it ended, for retention (null while in progress).
    const ended = op.status === 'InProgress' ? null : (op.endTimeMs ?? nowMs)
    await this.db
      .insertInto('operations')
      .values({ id: op.id, document, updated_at_ms: nowMs, ended_at_ms: ended })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({ document, updated_at_ms: nowMs, ended_at_ms: ended }),
      )
      .execute()
  }

  async listStaleOperations(beforeMs: number, limit: number): Promise<readonly OperationRecord[]> {
    const rows = await this.rows<{ document: string }>(
      'select document from operations where ended_at_ms is null and updated_at_ms < ? order by updated_at_ms limit ?',
      [beforeMs, limit],
    )
    return rows.map((r) => JSON.parse(r.document) as OperationRecord)
  }

  async deleteEndedOperations(beforeMs: number, limit: number): Promise<number> {
    const { changed } = await this.exec(
      this.db,
      'delete from operations where id in (select id from operations where ended_at_ms < ? limit ?)',
      [beforeMs, limit],
    )
    return changed
  }

  // --- tokens ---

  async getToken(hash: string): Promise<TokenRecord | undefined> {
    const [row] = await this.rows<Database['tokens']>('select * from tokens where hash = ?', [hash])
    return row ? tokenOf(row) : undefined
  }

  async putToken(t: TokenRecord): Promise<void> {
    await this.db
      .insertInto('tokens')
      .values({
        hash: t.hash,
        role: t.role,
        subscriptions: JSON.stringify(t.subscriptions),
        label: t.label,
        created_at_ms: t.createdAtMs,
      })
      // The same token again replaces its role, scope and label (the admin token is promoted so).
      .onConflict((oc) =>
        oc.column('hash').doUpdateSet({
          role: t.role,
          subscriptions: JSON.stringify(t.subscriptions),
          label: t.label,
        }),
      )
      .execute()
  }

  async listTokens(): Promise<readonly TokenRecord[]> {
    return (await this.db.selectFrom('tokens').selectAll().orderBy('created_at_ms').execute()).map(
      tokenOf,
    )
  }
}

function resourceOf(row: Database['resources'], box: SecretBox | null): StoredResource {
  return {
    id: row.id,
    type: row.type,
    subscriptionId: row.subscription_id,
    resourceGroup: row.resource_group,
    name: row.name,
    body: openAt(JSON.parse(row.body), RESOURCE_SECRETS, box) as Record<string, unknown>,
    etag: row.etag,
    createdAtMs: Number(row.created_at_ms),
    updatedAtMs: Number(row.updated_at_ms),
  }
}

function tokenOf(row: Database['tokens']): TokenRecord {
  return {
    hash: row.hash,
    role: row.role as TokenRecord['role'],
    subscriptions: JSON.parse(row.subscriptions) as string[],
    label: row.label,
    createdAtMs: Number(row.created_at_ms),
  }
}

/** SQLite's SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY or PostgreSQL's 23505. */
function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string }
  return (
    e?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    e?.code === '23505'
  )
}
