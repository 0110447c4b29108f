/**
 * Opens the embedded store: a SQLite file in the data dir, in WAL mode with synchronous=FULL so
 * that a decision saved before its action survives a crash, and the migrations applied.
 */
import { closeSync, openSync } from 'node:fs'
import Sqlite from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import type {
  DatabaseConnection,
  Driver,
  QueryCompiler,
  SqliteDatabase,
  TransactionSettings,
} from 'kysely'
import type { Database } from '../sql/schema.js'
import { migrate, queryLog, type QueryListener } from '../sql/open-database.js'
import { SqlStore } from '../sql/sql-store.js'

/**
 * @example const store = await openSqliteStore(':memory:')
 */
export async function openSqliteStore(
  file: string,
  o: { onQuery?: QueryListener } = {},
): Promise<SqlStore> {
  // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database's mode.
  if (file !== ':memory:' && file !== '') closeSync(openSync(file, 'a', 0o600))
  const sqlite = new Sqlite(file)
  // 8 KiB pages for a new database (an existing one keeps its own): a rollout document of a
  // 100-instance set spans half as many overflow pages, and a fleet rollout's commits write
  // fewer pages; bench:fleet on 100,000 instances, A/B on one machine: +10%.
  sqlite.pragma('page_size = 8192')
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = FULL')
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')
  // Checkpoint the WAL every 5,000 pages (~40 MB) instead of 1,000: a rollout rewrites the same
  // rows (its document, its instances) many times, and each checkpoint writes and fsyncs them
  // into the database file once more; a fleet rollout's commits took a fifth less time.
  sqlite.pragma('wal_autocheckpoint = 5000')
  const db = new Kysely<Database>({
    dialect: new FifoSqliteDialect({ database: withStatementCache(sqlite) }),
    ...(o.onQuery ? { log: queryLog(o.onQuery) } : {}),
  })
  await migrate(db, 'sqlite')
  return new SqlStore(db)
}

/**
 * Kysely's SQLite driver prepares every statement anew; preparing was a quarter of the CPU of a
 * GET (docs/performance.md). better-sqlite3 statements are reusable, so keep the last 500 by SQL.
 */
function withStatementCache(sqlite: Sqlite.Database, size = 500): SqliteDatabase {
  const cache = new Map<string, Sqlite.Statement>()
  return {
    close: () => sqlite.close(),
    prepare: (sql: string) => {
      let stmt = cache.get(sql)
      if (stmt) {
        cache.delete(sql) // re-insert: most recently used last
      } else {
        stmt = sqlite.prepare(sql)
        if (cache.size >= size) cache.delete(cache.keys().next().value as string)
      }
      cache.set(sql, stmt)
      return stmt as unknown as ReturnType<SqliteDatabase['prepare']>
    },
  }
}

/**
 * Kysely's SQLite driver guards its one connection with a mutex whose every release wakes every
 * waiter, all but one of which go back to sleep: with hundreds of queries waiting (a fleet's
 * passes and effects) that was an eighth of the CPU (docs/performance.md). This dialect queues
 * them first come, first served: each waiter is woken once, when its turn comes.
 */
class FifoSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    return new FifoDriver(super.createDriver())
  }
}

class FifoDriver implements Driver {
  private tail: Promise<void> = Promise.resolve()
  private release: (() => void) | null = null

  constructor(private readonly inner: Driver) {}

  init(): Promise<void> {
    return this.inner.init()
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.tail
    let release!: () => void
    this.tail = new Promise<void>((resolve) => (release = resolve))
    await previous
    this.release = release
    return this.inner.acquireConnection() // uncontended now: only the holder of the turn asks
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    await this.inner.releaseConnection(connection)
    const release = this.release
    this.release = null
    release?.()
  }

  beginTransaction(c: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(c, settings)
  }

  commitTransaction(c: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(c)
  }

  rollbackTransaction(c: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(c)
  }

  async savepoint(
    c: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.inner.savepoint?.(c, name, compile)
  }

  async rollbackToSavepoint(
    c: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.inner.rollbackToSavepoint?.(c, name, compile)
  }

  async releaseSavepoint(
    c: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.inner.releaseSavepoint?.(c, name, compile)
  }

  destroy(): Promise<void> {
    return this.inner.destroy()
  }
}
