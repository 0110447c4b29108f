/**
 * The SQL store's db layer, shared by its repositories (one for SQLite and PostgreSQL): plain SQL
 * with `?` placeholders, writes run under the caller's fence (lease-store.ts), the group-commit
 * write queue, and the secrets box. The repositories extend it, one interface each:
 * sql-leases.ts (LeaseStore), sql-control.ts (ControlStore), sql-sim-state.ts (the sim fabric's
 * state) and sql-store.ts (the orchestrator's Store), which is the one object a server opens.
 */
import { CompiledQuery } from 'kysely'
import type { Kysely } from 'kysely'
import { Errors } from '../../errors.js'
import type { RolloutEvent } from '../../core/rollout/types.js'
import { isPlanEvent } from '../../core/rollout/types.js'
import type { Database } from './schema.js'
import { GroupCommit } from './group-commit.js'
import { fenceScope } from '../lease-store.js'
import type { Fence } from '../lease-store.js'
import { SecretsKeyError } from '../secrets.js'
import type { SecretBox } from '../secrets.js'

export class SqlDb {
  constructor(
    readonly db: Kysely<Database>,
    protected readonly dialect: 'sqlite' | 'postgres' = 'sqlite',
  ) {}

  /** Seals secret members on write and opens them on read (secrets.ts); null: kept as given. */
  secrets: SecretBox | null = null

  /**
   * Uses `box` from now on, after checking it is the key this database's secrets are sealed
   * with: the first key used is recorded (as a check value) and any other one is refused.
   */
  async useSecrets(box: SecretBox): Promise<void> {
    const check = box.keyCheck()
    await this.exec(
      this.db,
      "insert into settings (name, value) values ('secrets_key_check', ?) on conflict do nothing",
      [check],
    )
    const [row] = await this.rows<{ value: string }>(
      "select value from settings where name = 'secrets_key_check'",
      [],
    )
    if (row?.value !== check)
      throw new SecretsKeyError(
        `the secrets key ${box.source} is not the key this database's secrets were sealed with; every replica must use the same key file (copy it from the first one)`,
      )
    this.secrets = box
  }

  /**
   * A hot read as plain SQL: skips the query builder (a third of a GET's CPU, docs/performance.md).
   * Written with `?` placeholders; PostgreSQL gets `$1, $2, …`.
   */
  protected async rows<R>(text: string, params: readonly unknown[]): Promise<R[]> {
    return (await this.exec<R>(this.db, text, params)).rows
  }

  /** Plain SQL on `db` (the store or a transaction): rows and the count of rows it changed. */
  protected async exec<R>(
    db: Kysely<Database>,
    text: string,
    params: readonly unknown[],
  ): Promise<{ rows: R[]; changed: number }> {
    let n = 0
    const query = this.dialect === 'postgres' ? text.replace(/\?/g, () => `$${++n}`) : text
    const result = await db.executeQuery<R>(CompiledQuery.raw(query, [...params]))
    return { rows: result.rows, changed: Number(result.numAffectedRows ?? 0) }
  }

  async close(): Promise<void> {
    await this.db.destroy()
  }

  /**
   * Runs a write of the orchestrator: as it is, or — under a fence (lease-store.ts) — in one
   * transaction that first checks, with the lease row locked against a takeover, that the lease
   * is still the writer's. Every write of the Store and the sim state goes through here.
   */
  async write<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const fence = fenceScope.getStore()
    if (!fence) return fn(this.db)
    return inTransaction(this.db, async (tx) => {
      await this.assertFence(tx, fence)
      return fn(tx)
    })
  }

  private async assertFence(tx: Kysely<Database>, fence: Fence): Promise<void> {
    // FOR SHARE: the holder's own writes run side by side, a takeover's UPDATE waits for them.
    const lock = this.dialect === 'postgres' ? ' for key share' : ''
    const { rows } = await this.exec<{ holder: string; epoch: number | string }>(
      tx,
      `select holder, epoch from leases where key = ?${lock}`,
      [fence.key],
    )
    const row = rows[0]
    if (!row || row.holder !== fence.holder || Number(row.epoch) !== fence.epoch) {
      const now = row ? `${row.holder} (epoch ${row.epoch})` : 'nobody'
      throw Errors.LeaseLost(
        `The lease of ${fence.key} moved from ${fence.holder} (epoch ${fence.epoch}) to ${now}; this replica no longer drives it.`,
      )
    }
  }

  /**
   * Group-committed writes (group-commit.ts): the orchestrator's and fabrics' writes made in the
   * same turn — rollout decisions, scale set states, sim instances, instance records, events —
   * share one transaction (one fsync on SQLite, one round trip of BEGIN/COMMIT on PostgreSQL),
   * in the order they were made; each caller returns once its own write is durable. A write may
   * be refused alone (a revision conflict): it changes nothing and only its caller sees the error,
   * so writes are conditional statements that do not throw on a conflict (PostgreSQL aborts a
   * transaction on any error).
   */
  enqueue(run: WriteOp): Promise<void> {
    return this.writes.add({ type: 'op', run })
  }

  protected readonly writes = new GroupCommit<Write>((jobs) =>
    this.write((db) =>
      inTransaction(db, async (tx) => {
        const refused: (Error | null)[] = []
        const events: RolloutEvent[] = []
        const emit = (e: readonly RolloutEvent[]): void => {
          events.push(...e)
        }
        for (let i = 0; i < jobs.length;) {
          const job = jobs[i] as Write
          if (job.type === 'op') {
            refused.push((await job.run(tx, emit)) ?? null)
            i++
            continue
          }
          // A run of sim instance puts: one multi-row upsert; the last write of an instance wins
          // (one statement may not update a row twice).
          const last = new Map<string, Database['sim_instances']>()
          for (; i < jobs.length; i++) {
            const j = jobs[i] as Write
            if (j.type !== 'sim') break
            last.set(`${j.row.set_key}\0${j.row.instance_id}`, j.row)
            refused.push(null)
          }
          await this.insertRows(
            tx,
            'insert into sim_instances (set_key, instance_id, instance) values',
            'on conflict (set_key, instance_id) do update set instance = excluded.instance',
            [...last.values()].map((r) => [r.set_key, r.instance_id, r.instance]),
          )
        }
        await this.insertEvents(tx, await this.ownedEvents(tx, events))
        return refused
      }),
    ),
  )

  /**
   * The events whose rollout is stored, checked at the end of the group's transaction (so a
   * rollout created in the same group counts, whatever the order of its writes), and a plan's
   * (their rollout id is a wave's): a late note for a rollout that is gone — its set deleted or
   * its history pruned — is dropped, never stored as an orphan. On PostgreSQL the rollouts found
   * are locked FOR KEY SHARE until the commit: a delete waits for it, then deletes these events
   * too (deletes remove the rollouts before their events), while other groups' updates of those
   * rollouts do not wait unless they change `active_key` (a rollout ending). FOR SHARE would block
   * every update, and two groups each updating one rollout and noting the other's could deadlock.
   */
  private async ownedEvents(
    tx: Kysely<Database>,
    events: readonly RolloutEvent[],
  ): Promise<readonly RolloutEvent[]> {
    const ids = [...new Set(events.filter((e) => !isPlanEvent(e)).map((e) => e.rolloutId))]
    if (ids.length === 0) return events
    const lock = this.dialect === 'postgres' ? ' for key share' : ''
    const found = new Set<string>()
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500)
      const { rows } = await this.exec<{ id: string }>(
        tx,
        `select id from rollouts where id in (${part.map(() => '?').join(', ')})${lock}`,
        part,
      )
      for (const r of rows) found.add(r.id)
    }
    return found.size === ids.length
      ? events
      : events.filter((e) => isPlanEvent(e) || found.has(e.rolloutId))
  }

  private async insertEvents(db: Kysely<Database>, events: readonly RolloutEvent[]): Promise<void> {
    await this.insertRows(
      db,
      'insert into rollout_events (rollout_id, at_ms, event) values',
      '',
      events.map((e) => [e.rolloutId, e.atMs, JSON.stringify(e)]),
    )
  }

  /**
   * A multi-row insert as plain SQL (the query builder was a twentieth of a fleet rollout's CPU),
   * in chunks of 512, 256, … 1 rows: a handful of distinct statements, each prepared once
   * (open-sqlite.ts caches them), whatever the number of rows.
   */
  protected async insertRows(
    db: Kysely<Database>,
    head: string,
    tail: string,
    rows: readonly (readonly unknown[])[],
  ): Promise<void> {
    for (let i = 0; i < rows.length;) {
      let n = 512
      while (n > rows.length - i) n >>= 1
      const chunk = rows.slice(i, i + n)
      const one = `(${chunk[0]!.map(() => '?').join(', ')})`
      await this.exec(db, `${head} ${Array(n).fill(one).join(', ')} ${tail}`, chunk.flat())
      i += n
    }
  }
}

/** Runs `fn` in a transaction, or in the one `db` already is. */
export async function inTransaction<T>(
  db: Kysely<Database>,
  fn: (tx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn)
}

/**
 * A queued write's statements, run in the group's transaction; it resolves to the Error that
 * refuses it alone (changing nothing), else to nothing. `emit` adds events, inserted at the end.
 */
export type WriteOp = (
  tx: Kysely<Database>,
  emit: (events: readonly RolloutEvent[]) => void,
) => Promise<Error | null | void>

/** A group-committed write: statements of its own, or a sim instance to upsert with others. */
export type Write = { type: 'op'; run: WriteOp } | { type: 'sim'; row: Database['sim_instances'] }
