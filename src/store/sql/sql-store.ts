/**
 * The durable store on Kysely, one implementation for SQLite and PostgreSQL: the orchestrator's
 * Store (scale set states, instance records, rollouts and their events) here, on the repositories
 * it extends for the API's ControlStore, the leases and the sim fabric's state (sql-db.ts says
 * how they stack). Revisions fence stale writers; a unique index on `rollouts.active_key` keeps
 * one running rollout per set.
 */
import { Errors } from '../../errors.js'
import type { Rollout, RolloutEvent } from '../../core/rollout/types.js'
import type { InstanceRecord, ScaleSetState, Store } from '../store.js'
import type { Database } from './schema.js'
import type { Kysely } from 'kysely'
import { SCALE_SET_SECRETS, openAt, sealAt } from '../secrets.js'
import { inTransaction } from './sql-db.js'
import { SqlSimState } from './sql-sim-state.js'

export class SqlStore extends SqlSimState implements Store {
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
}

/** Deletes the events of rollouts `ids` (in chunks: SQLite allows 32,766 parameters). */
async function deleteEventsOf(tx: Kysely<Database>, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 500)
    await tx
      .deleteFrom('rollout_events')
      .where('rollout_id', 'in', ids.slice(i, i + 500))
      .execute()
}

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
