/**
 * Opens the embedded store: a SQLite file in the data dir, in WAL mode with synchronous=FULL so
 * that a decision saved before its action survives a crash, and the migrations applied.
 */
import Sqlite from 'better-sqlite3'
import { Kysely, Migrator, SqliteDialect } from 'kysely'
import type { MigrationProvider } from 'kysely'
import { migrations } from '../migrations/migrations.js'
import type { Database } from '../sql/schema.js'
import { SqlStore } from '../sql/sql-store.js'

/**
 * @example const store = await openSqliteStore(':memory:')
 */
export async function openSqliteStore(file: string): Promise<SqlStore> {
  const sqlite = new Sqlite(file)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = FULL')
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) })
  await migrate(db, 'sqlite')
  return new SqlStore(db)
}

export async function migrate(db: Kysely<Database>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) }
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error || failed) {
    throw new Error(`schema migration ${failed?.migrationName ?? ''} failed: ${String(error)}`)
  }
}
