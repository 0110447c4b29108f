/**
 * The one list of schema migrations for both stores (SQLite and PostgreSQL), applied in order at
 * start. Only portable types: text, integer/bigint and JSON kept as text. Never edit a shipped
 * migration: add the next one.
 */
import { sql } from 'kysely'
import type { Kysely, Migration } from 'kysely'

export type SqlDialectName = 'sqlite' | 'postgres'

/** The migrations, written for one dialect where the two differ (identity columns only). */
export function migrations(dialect: SqlDialectName): Record<string, Migration> {
  return {
    '001_initial': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('scale_sets')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('revision', 'bigint', (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('instance_records')
          .addColumn('set_key', 'text', (c) => c.notNull())
          .addColumn('instance_id', 'text', (c) => c.notNull())
          .addColumn('record', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('instance_records_pk', ['set_key', 'instance_id'])
          .execute()
        await db.schema
          .createTable('rollouts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('set_key', 'text', (c) => c.notNull())
          .addColumn('started_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          // set_key while RollingForward, else null: a unique index allows one running rollout per set
          .addColumn('active_key', 'text', (c) => c.unique())
          .addColumn('revision', 'bigint', (c) => c.notNull())
          .addColumn('document', 'text', (c) => c.notNull())
          .execute()
        await db.schema
          .createIndex('rollouts_history')
          .on('rollouts')
          .columns(['set_key', 'started_at_ms', 'id'])
          .execute()
        await db.schema
          .createTable('rollout_events')
          // SQLite: an INTEGER PRIMARY KEY is the auto-assigned rowid; PostgreSQL: an identity.
          .addColumn('seq', dialect === 'sqlite' ? 'integer' : 'bigint', (c) =>
            dialect === 'sqlite' ? c.primaryKey() : c.primaryKey().generatedAlwaysAsIdentity(),
          )
          .addColumn('rollout_id', 'text', (c) => c.notNull())
          .addColumn('at_ms', 'bigint', (c) => c.notNull())
          .addColumn('event', 'text', (c) => c.notNull())
          .execute()
        await db.schema
          .createIndex('rollout_events_rollout')
          .on('rollout_events')
          .columns(['rollout_id', 'seq'])
          .execute()
        await db.schema
          .createTable('sim_instances')
          .addColumn('set_key', 'text', (c) => c.notNull())
          .addColumn('instance_id', 'text', (c) => c.notNull())
          .addColumn('instance', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('sim_instances_pk', ['set_key', 'instance_id'])
          .execute()
        await db.schema
          .createTable('resources')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('subscription_id', 'text', (c) => c.notNull())
          .addColumn('resource_group', 'text')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('body', 'text', (c) => c.notNull())
          .addColumn('etag', 'text', (c) => c.notNull())
          .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
          .execute()
        await db.schema
          .createIndex('resources_by_type')
          .on('resources')
          .columns(['type', 'subscription_id', 'resource_group'])
          .execute()
        await db.schema
          .createTable('operations')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('document', 'text', (c) => c.notNull())
          .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('tokens')
          .addColumn('hash', 'text', (c) => c.primaryKey())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('subscriptions', 'text', (c) => c.notNull())
          .addColumn('label', 'text', (c) => c.notNull())
          .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
          .execute()
      },
    },
    '002_local_instances': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('local_instances')
          .addColumn('set_key', 'text', (c) => c.notNull())
          .addColumn('instance_id', 'text', (c) => c.notNull())
          .addColumn('instance', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('local_instances_pk', ['set_key', 'instance_id'])
          .execute()
      },
    },
    '003_leases': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('leases')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('holder', 'text', (c) => c.notNull())
          .addColumn('epoch', 'bigint', (c) => c.notNull())
          .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('replicas')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('seen_at_ms', 'bigint', (c) => c.notNull())
          .execute()
      },
    },
    '004_retention': {
      // Operation retention (docs/operations.md § Quotas and retention): when an operation
      // ended, null while in progress; the index serves both the sweep of ended operations and
      // the re-check of stale in-progress ones.
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('operations').addColumn('ended_at_ms', 'bigint').execute()
        // Operations stored before: documents are written by JSON.stringify, so the status
        // appears exactly as `"status":"InProgress"` while in progress.
        await sql`update operations set ended_at_ms = updated_at_ms where document not like ${'%"status":"InProgress"%'}`.execute(
          db,
        )
        await db.schema
          .createIndex('operations_retention')
          .on('operations')
          .columns(['ended_at_ms', 'updated_at_ms'])
          .execute()
      },
    },
    '005_event_seq_autoincrement': {
      // A deleted set's events go with it (store.ts deleteScaleSet), possibly the newest rows:
      // SQLite would then hand their seq out again (a plain INTEGER PRIMARY KEY is max + 1) and
      // a stream that saw them would skip the new events. AUTOINCREMENT never reuses one.
      // PostgreSQL's identity never does either.
      async up(db: Kysely<unknown>): Promise<void> {
        if (dialect !== 'sqlite') return
        await db.schema
          .createTable('rollout_events_new')
          .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
          .addColumn('rollout_id', 'text', (c) => c.notNull())
          .addColumn('at_ms', 'bigint', (c) => c.notNull())
          .addColumn('event', 'text', (c) => c.notNull())
          .execute()
        await sql`insert into rollout_events_new (seq, rollout_id, at_ms, event) select seq, rollout_id, at_ms, event from rollout_events`.execute(
          db,
        )
        await db.schema.dropTable('rollout_events').execute()
        await sql`alter table rollout_events_new rename to rollout_events`.execute(db)
        await db.schema
          .createIndex('rollout_events_rollout')
          .on('rollout_events')
          .columns(['rollout_id', 'seq'])
          .execute()
      },
    },
    '006_settings': {
      async up(db: Kysely<unknown>): Promise<void> {
        // Installation-wide values, such as the secrets key's check value (store/secrets.ts).
        await db.schema
          .createTable('settings')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute()
      },
    },
    '007_rollout_plans': {
      // Rollout plans (docs/rollouts.md § Waves across scale sets): a plan's document, and its
      // member sets; the members' primary key keeps a set in one plan.
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('rollout_plans')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('subscription_id', 'text', (c) => c.notNull())
          .addColumn('document', 'text', (c) => c.notNull())
          .addColumn('revision', 'bigint', (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('rollout_plan_members')
          .addColumn('set_key', 'text', (c) => c.primaryKey())
          .addColumn('plan_key', 'text', (c) => c.notNull())
          .execute()
        await db.schema
          .createIndex('rollout_plan_members_plan')
          .on('rollout_plan_members')
          .columns(['plan_key'])
          .execute()
      },
    },
    '008_hosts': {
      // The hosts registry (docs/api.md § Hosts): a host's document (its private key sealed),
      // and its last check's status with the time it was checked, written apart from the spec.
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('hosts')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('document', 'text', (c) => c.notNull())
          .addColumn('status', 'text')
          .addColumn('status_at_ms', 'bigint')
          .addColumn('revision', 'bigint', (c) => c.notNull())
          .execute()
      },
    },
  }
}
