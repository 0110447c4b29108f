/**
 * The durable store on Kysely, one implementation for SQLite and PostgreSQL: the orchestrator's
 * Store, the API's ControlStore and the sim fabric's state (so virtual instances survive a
 * restart and are shared by replicas, docs/architecture.md § The sim fabric). Revisions fence stale
 * writers; a unique index
 * on `rollouts.active_key` keeps one running rollout per set.
 */
import { CompiledQuery } from 'kysely'
import type { Kysely } from 'kysely'
import { Errors } from '../../errors.js'
import type { Rollout, RolloutEvent } from '../../core/rollout/types.js'
import { isPlanEvent } from '../../core/rollout/types.js'
import type { SimInstance, SimStateStore } from '../../fabrics/types/sim-state.js'
import type { InstanceRecord, ScaleSetState, Store } from '../store.js'
import type {
  ControlStore,
  OperationRecord,
  StoredResource,
  TokenRecord,
} from '../control-store.js'
import type { Database } from './schema.js'
import { GroupCommit } from './group-commit.js'
import { ReadBatcher } from '../../util/read-batcher.js'
import { fenceScope } from '../lease-store.js'
import type { Fence, LeaseRow, LeaseStore } from '../lease-store.js'
import { RESOURCE_SECRETS, SCALE_SET_SECRETS, SecretsKeyError, openAt, sealAt } from '../secrets.js'
import type { SecretBox } from '../secrets.js'

export class SqlStore implements Store, ControlStore, SimStateStore, LeaseStore {
  constructor(
    readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres' = 'sqlite',
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
  private async rows<R>(text: string, params: readonly unknown[]): Promise<R[]> {
    return (await this.exec<R>(this.db, text, params)).rows
  }

  /** Plain SQL on `db` (the store or a transaction): rows and the count of rows it changed. */
  private async exec<R>(
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
    const lock = this.dialect === 'postgres' ? ' for share' : ''
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

  private readonly writes = new GroupCommit<Write>((jobs) =>
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

  // --- leases (lease-store.ts) ---

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

  // --- scale sets (orchestrator state) ---

  async listScaleSetKeys(): Promise<readonly string[]> {
    const rows = await this.db.selectFrom('scale_sets').select('key').orderBy('key').execute()
    return rows.map((r) => r.key)
  }

  async getScaleSet(key: string): Promise<ScaleSetState | undefined> {
    const [row] = await this.rows<Database['scale_sets']>(
      'select key, state, revision from scale_sets where key = ?',
      [key],
    )
    return row
      ? {
          ...(openAt(JSON.parse(row.state), SCALE_SET_SECRETS, this.secrets) as ScaleSetState),
          revision: Number(row.revision),
        }
      : undefined
  }

  async putScaleSet(
    state: ScaleSetState,
    expectedRevision: number | null,
    o: Readonly<{ onlyWithRollout?: string }> = {},
  ): Promise<ScaleSetState> {
    const revision = (expectedRevision ?? 0) + 1
    const saved = { ...state, revision }
    const doc = JSON.stringify(sealAt(saved, SCALE_SET_SECRETS, this.secrets))
    const key = state.key
    await this.enqueue(async (tx) => {
      if (expectedRevision === null) {
        const { changed } = await this.exec(
          tx,
          'insert into scale_sets (key, state, revision) values (?, ?, ?) on conflict do nothing',
          [key, doc, revision],
        )
        return changed === 1 ? null : Errors.RevisionConflict(`scale set ${key} already exists`)
      }
      const withRollout = o.onlyWithRollout
      const guarded = withRollout !== undefined
      const { changed } = await this.exec(
        tx,
        'update scale_sets set state = ?, revision = ? where key = ? and revision = ?' +
          (guarded ? ' and exists (select 1 from rollouts where id = ?)' : ''),
        [doc, revision, key, expectedRevision, ...(guarded ? [withRollout] : [])],
      )
      return changed === 1
        ? null
        : Errors.RevisionConflict(
            `scale set ${key} changed (expected revision ${expectedRevision})` +
              (guarded ? `, or rollout ${withRollout} was not created` : ''),
          )
    })
    return saved
  }

  /** Queued like the other writes (`enqueue`): those made before it in the same turn land first. */
  async deleteScaleSet(key: string): Promise<void> {
    await this.enqueue(async (tx) => {
      await tx.deleteFrom('scale_sets').where('key', '=', key).execute()
      await tx.deleteFrom('instance_records').where('set_key', '=', key).execute()
      await tx.deleteFrom('sim_instances').where('set_key', '=', key).execute()
      // The rollouts before their events: an event insert that holds one (ownedEvents) commits
      // first, and its events go too.
      const { rows } = await this.exec<{ id: string }>(
        tx,
        'delete from rollouts where set_key = ? returning id',
        [key],
      )
      await deleteEventsOf(
        tx,
        rows.map((r) => r.id),
      )
      return null
    })
  }

  async pruneOrphanRollouts(limit: number): Promise<number> {
    return this.write((db) =>
      inTransaction(db, async (tx) => {
        const { rows } = await this.exec<{ id: string }>(
          tx,
          'select id from rollouts where not exists (select 1 from scale_sets where scale_sets.key = rollouts.set_key) limit ?',
          [limit],
        )
        const ids = rows.map((r) => r.id)
        if (ids.length === 0) return 0
        await tx.deleteFrom('rollouts').where('id', 'in', ids).execute()
        await deleteEventsOf(tx, ids)
        return ids.length
      }),
    )
  }

  // --- instance records ---

  async listInstanceRecords(key: string): Promise<readonly InstanceRecord[]> {
    const rows = await this.db
      .selectFrom('instance_records')
      .select('record')
      .where('set_key', '=', key)
      .execute()
    return rows.map((r) => JSON.parse(r.record) as InstanceRecord)
  }

  async putInstanceRecords(key: string, records: readonly InstanceRecord[]): Promise<void> {
    if (records.length === 0) return
    await this.enqueue((db) =>
      db
        .insertInto('instance_records')
        .values(
          records.map((r) => ({
            set_key: key,
            instance_id: r.instanceId,
            record: JSON.stringify(r),
          })),
        )
        .onConflict((oc) =>
          oc
            .columns(['set_key', 'instance_id'])
            .doUpdateSet((eb) => ({ record: eb.ref('excluded.record') })),
        )
        .execute()
        .then(() => null),
    )
  }

  // --- rollouts ---

  async getActiveRollout(key: string): Promise<Rollout | undefined> {
    const [row] = await this.rows<{ document: string }>(
      'select document from rollouts where active_key = ?',
      [key],
    )
    return row ? (JSON.parse(row.document) as Rollout) : undefined
  }

  async getRollout(id: string): Promise<Rollout | undefined> {
    const row = await this.db
      .selectFrom('rollouts')
      .select('document')
      .where('id', '=', id)
      .executeTakeFirst()
    return row ? (JSON.parse(row.document) as Rollout) : undefined
  }

  async createRollout(r: Rollout, events: readonly RolloutEvent[] = []): Promise<void> {
    const row = rolloutRow(r)
    await this.enqueue(async (tx, emit) => {
      const { changed } = await this.exec(
        tx,
        'insert into rollouts (id, set_key, started_at_ms, status, active_key, revision, document) values (?, ?, ?, ?, ?, ?, ?) on conflict do nothing',
        [
          row.id,
          row.set_key,
          row.started_at_ms,
          row.status,
          row.active_key,
          row.revision,
          row.document,
        ],
      )
      if (changed === 1) {
        emit(events)
        return null
      }
      const { rows } = await this.exec(tx, 'select id from rollouts where id = ?', [r.id])
      if (rows.length > 0) return Errors.Conflict(`rollout ${r.id} exists`)
      return Errors.OperationNotAllowed(
        `Scale set ${r.scaleSetKey} already has a rollout in progress.`,
      )
    })
  }

  /**
   * Group-committed (`enqueue`): the decisions of passes that save in the same turn share one
   * transaction (one fsync); each is still checked against its own revision, and a caller
   * returns only once its decision and events are durable (persist-before-act holds).
   */
  async saveRollout(
    r: Rollout,
    expectedRevision: number,
    events: readonly RolloutEvent[] = [],
  ): Promise<void> {
    const row = rolloutRow(r)
    await this.enqueue(async (tx, emit) => {
      const { changed } = await this.exec(
        tx,
        'update rollouts set status = ?, active_key = ?, revision = ?, document = ? where id = ? and revision = ?',
        [row.status, row.active_key, row.revision, row.document, row.id, expectedRevision],
      )
      if (changed !== 1)
        return Errors.RevisionConflict(
          `rollout ${row.id} changed (expected revision ${expectedRevision})`,
        )
      emit(events)
      return null
    })
  }

  async listRollouts(
    key: string,
    o: { limit: number; before?: { startedAtMs: number; id: string } },
  ): Promise<readonly Rollout[]> {
    let q = this.db.selectFrom('rollouts').select('document').where('set_key', '=', key)
    const before = o.before
    if (before) {
      q = q.where((eb) =>
        eb.or([
          eb('started_at_ms', '<', before.startedAtMs),
          eb.and([eb('started_at_ms', '=', before.startedAtMs), eb('id', '<', before.id)]),
        ]),
      )
    }
    const rows = await q
      .orderBy('started_at_ms', 'desc')
      .orderBy('id', 'desc')
      .limit(o.limit)
      .execute()
    return rows.map((r) => JSON.parse(r.document) as Rollout)
  }

  async pruneRollouts(key: string, o: { beforeMs: number; keepLast: number }): Promise<number> {
    const keep = await this.db
      .selectFrom('rollouts')
      .select('id')
      .where('set_key', '=', key)
      .where('status', '!=', 'RollingForward')
      .orderBy('started_at_ms', 'desc')
      .orderBy('id', 'desc')
      .limit(o.keepLast)
      .execute()
    const kept = keep.map((r) => r.id)
    return this.write((db) =>
      inTransaction(db, async (tx) => {
        let doomed = tx
          .selectFrom('rollouts')
          .select('id')
          .where('set_key', '=', key)
          .where('status', '!=', 'RollingForward')
          .where('started_at_ms', '<', o.beforeMs)
        if (kept.length > 0) doomed = doomed.where('id', 'not in', kept)
        const ids = (await doomed.execute()).map((r) => r.id)
        if (ids.length === 0) return 0
        await tx.deleteFrom('rollouts').where('id', 'in', ids).execute()
        await deleteEventsOf(tx, ids)
        return ids.length
      }),
    )
  }

  async appendEvents(events: readonly RolloutEvent[]): Promise<void> {
    if (events.length === 0) return
    await this.enqueue((_tx, emit) => {
      emit(events)
      return Promise.resolve(null)
    })
  }

  /**
   * The events whose rollout is stored, checked at the end of the group's transaction (so a
   * rollout created in the same group counts, whatever the order of its writes), and a plan's
   * (their rollout id is a wave's): a late note for a rollout that is gone — its set deleted or
   * its history pruned — is dropped, never stored as an orphan. On PostgreSQL the rollouts found
   * are locked FOR SHARE until the commit: a delete waits for it, then deletes these events too
   * (deletes remove the rollouts before their events).
   */
  private async ownedEvents(
    tx: Kysely<Database>,
    events: readonly RolloutEvent[],
  ): Promise<readonly RolloutEvent[]> {
    const ids = [...new Set(events.filter((e) => !isPlanEvent(e)).map((e) => e.rolloutId))]
    if (ids.length === 0) return events
    const lock = this.dialect === 'postgres' ? ' for share' : ''
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
  private async insertRows(
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

  async listEventsAfter(
    afterSeq: number,
    limit: number,
  ): Promise<readonly { seq: number; event: RolloutEvent }[]> {
    const rows = await this.rows<{ seq: number | string; event: string }>(
      'select seq, event from rollout_events where seq > ? order by seq limit ?',
      [afterSeq, limit],
    )
    return rows.map((r) => ({ seq: Number(r.seq), event: JSON.parse(r.event) as RolloutEvent }))
  }

  async lastEventSeq(): Promise<number> {
    const [row] = await this.rows<{ seq: number | string | null }>(
      'select max(seq) as seq from rollout_events',
      [],
    )
    return Number(row?.seq ?? 0)
  }

  async listEvents(rolloutId: string): Promise<readonly RolloutEvent[]> {
    const rows = await this.db
      .selectFrom('rollout_events')
      .select('event')
      .where('rollout_id', '=', rolloutId)
      .orderBy('seq')
      .execute()
    return rows.map((r) => JSON.parse(r.event) as RolloutEvent)
  }

  // --- sim fabric state ---

  async list(scaleSetKey: string): Promise<readonly SimInstance[]> {
    const rows = await this.rows<{ instance: string }>(
      'select instance from sim_instances where set_key = ?',
      [scaleSetKey],
    )
    return rows.map((r) => JSON.parse(r.instance) as SimInstance)
  }

  /** Read-batched (read-batcher.ts): a batch's reimages read their instances in one query. */
  get(scaleSetKey: string, instanceId: string): Promise<SimInstance | undefined> {
    return this.simReads.get(scaleSetKey, instanceId)
  }

  private readonly simReads = new ReadBatcher<SimInstance>(async (key, ids) => {
    const found = new Map<string, SimInstance>()
    for (let i = 0; i < ids.length; i += 1000) {
      const part = ids.slice(i, i + 1000)
      const rows = await this.rows<{ instance: string }>(
        `select instance from sim_instances where set_key = ? and instance_id in (${part.map(() => '?').join(', ')})`,
        [key, ...part],
      )
      for (const r of rows) {
        const inst = JSON.parse(r.instance) as SimInstance
        found.set(inst.instanceId, inst)
      }
    }
    return found
  })

  /** Group-committed (`enqueue`): a rollout batch's instances are written together. */
  async put(scaleSetKey: string, instance: SimInstance): Promise<void> {
    await this.writes.add({
      type: 'sim',
      row: {
        set_key: scaleSetKey,
        instance_id: instance.instanceId,
        instance: JSON.stringify(instance),
      },
    })
  }

  async remove(scaleSetKey: string, instanceId: string): Promise<void> {
    await this.enqueue((db) =>
      db
        .deleteFrom('sim_instances')
        .where('set_key', '=', scaleSetKey)
        .where('instance_id', '=', instanceId)
        .execute()
        .then(() => null),
    )
  }

  // --- ARM resources ---

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

/** Runs `fn` in a transaction, or in the one `db` already is. */
async function inTransaction<T>(
  db: Kysely<Database>,
  fn: (tx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn)
}

/** Deletes the events of rollouts `ids` (in chunks: SQLite allows 32,766 parameters). */
async function deleteEventsOf(tx: Kysely<Database>, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 500)
    await tx
      .deleteFrom('rollout_events')
      .where('rollout_id', 'in', ids.slice(i, i + 500))
      .execute()
}

function leaseOf(row: Database['leases']): LeaseRow {
  return {
    key: row.key,
    holder: row.holder,
    epoch: Number(row.epoch),
    expiresAtMs: Number(row.expires_at_ms),
  }
}

/**
 * A queued write's statements, run in the group's transaction; it resolves to the Error that
 * refuses it alone (changing nothing), else to nothing. `emit` adds events, inserted at the end.
 */
type WriteOp = (
  tx: Kysely<Database>,
  emit: (events: readonly RolloutEvent[]) => void,
) => Promise<Error | null | void>

/** A group-committed write: statements of its own, or a sim instance to upsert with others. */
type Write = { type: 'op'; run: WriteOp } | { type: 'sim'; row: Database['sim_instances'] }

function rolloutRow(r: Rollout): Database['rollouts'] {
  return {
    id: r.id,
    set_key: r.scaleSetKey,
    started_at_ms: r.startedAtMs,
    status: r.status,
    active_key: r.status === 'RollingForward' ? r.scaleSetKey : null,
    revision: r.revision,
    document: JSON.stringify(r),
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
