/**
 * What both SQL backends do when they open a database: apply the one migration list, and tell
 * the store latency metric of every query. `sqlite/` and `postgres/` each import this, never
 * each other.
 */
import { Migrator } from 'kysely'
import type { Kysely, LogEvent, MigrationProvider } from 'kysely'
import { migrations } from '../migrations/migrations.js'
import type { Database } from './schema.js'

/** Told of every query's duration and outcome (the store latency metric). */
export type QueryListener = (seconds: number, ok: boolean) => void

export function queryLog(onQuery: QueryListener): (e: LogEvent) => void {
  return (e) => onQuery(e.queryDurationMillis / 1000, e.level === 'query')
}

/**
 * Applies the migrations. On PostgreSQL, `schema` names the schema whose migration tables count:
 * without it Kysely's migrator sees another schema's lock table and skips creating its own.
 */
export async function migrate(
  db: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  schema?: string,
): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) }
  const { error, results } = await new Migrator({
    db,
    provider,
    ...(schema ? { migrationTableSchema: schema } : {}),
  }).migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error || failed) {
    throw new Error(`schema migration ${failed?.migrationName ?? ''} failed: ${String(error)}`)
  }
}
