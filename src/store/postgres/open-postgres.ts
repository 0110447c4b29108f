/**
 * Opens the PostgreSQL store (`--store postgres --database-url …`): a pg Pool through Kysely, in
 * a schema of its own when asked (tests), with the shared migrations. Kysely's migrator for
 * PostgreSQL takes `pg_advisory_xact_lock` while it migrates, so several replicas starting at
 * once apply each migration exactly once.
 */
import pg from 'pg'
import { Kysely, PostgresDialect, sql } from 'kysely'
import type { Database } from '../sql/schema.js'
import { SqlStore } from '../sql/sql-store.js'
import { migrate, queryLog } from '../sql/open-database.js'
import type { QueryListener } from '../sql/open-database.js'

export type PostgresOptions = Readonly<{
  url: string
  /** A schema to use (created if missing); default `public`. */
  schema?: string
  /** Pool size (default 10). */
  maxConnections?: number
  /** `application_name` of the connections, as pg_stat_activity shows it (default osroll). */
  applicationName?: string
  onQuery?: QueryListener
  /**
   * The server ends a session left idle inside a transaction for this long (default 5 s). A
   * replica paused mid-transaction (SIGSTOP, a long GC, a partition) would otherwise hold its
   * row locks — the lease row's included — for as long as it is paused, and no other replica
   * could take its sets over. Keep it under the lease time.
   */
  idleInTransactionTimeoutMs?: number
}>

/**
 * @example const store = await openPostgresStore({ url: 'postgres://postgres@127.0.0.1:5432/test' })
 */
export async function openPostgresStore(o: PostgresOptions): Promise<SqlStore> {
  const schema = o.schema ?? 'public'
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`not a schema name: ${schema}`)
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.maxConnections ?? 10,
    // Every connection of the pool works in the schema; a reconnect gets it again.
    options: `-c search_path=${schema} -c idle_in_transaction_session_timeout=${Math.round(o.idleInTransactionTimeoutMs ?? 5000)}`,
    connectionTimeoutMillis: 10_000,
    // No query waits forever: a connection that dies mid-query fails it, and the pass is retried.
    query_timeout: 30_000,
    application_name: o.applicationName ?? 'osroll',
  })
  // A connection the server terminates (restart, failover) must not crash the process: the pool
  // drops idle ones itself, but a client checked out at that moment emits 'error' with nobody
  // listening, so every client gets a listener (its query fails and is retried).
  pool.on('error', () => undefined)
  pool.on('connect', (client) => client.on('error', () => undefined))
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    ...(o.onQuery ? { log: queryLog(o.onQuery) } : {}),
  })
  if (schema !== 'public') {
    // Replicas starting together may race here; the loser's duplicate-schema error is harmless.
    await sql`create schema if not exists ${sql.id(schema)}`
      .execute(db)
      .catch((err: { code?: string }) => {
        if (err.code !== '23505' && err.code !== '42P06') throw err
      })
  }
  await migrate(db, 'postgres', schema)
  return new SqlStore(db, 'postgres')
}
