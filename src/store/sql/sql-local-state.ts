/**
 * The local fabric's instance records in the SQL store, so a restarted osroll re-adopts them.
 * Writes are group-committed through the store's `enqueue`, so those of one turn share a
 * transaction and a driver's are fenced by its lease (lease-store.ts).
 */
import type { Kysely } from 'kysely'
import type { LocalInstance, LocalStateStore } from '../../fabrics/types/local-state.js'
import type { Database } from './schema.js'
import { LOCAL_INSTANCE_SECRETS, openAt, sealAt } from '../secrets.js'
import type { SqlStore } from './sql-store.js'

export class SqlLocalState implements LocalStateStore {
  private readonly db: Kysely<Database>

  constructor(private readonly store: SqlStore) {
    this.db = store.db
  }

  private parse(text: string): LocalInstance {
    return openAt(JSON.parse(text), LOCAL_INSTANCE_SECRETS, this.store.secrets) as LocalInstance
  }

  async list(scaleSetKey: string): Promise<readonly LocalInstance[]> {
    const rows = await this.db
      .selectFrom('local_instances')
      .select('instance')
      .where('set_key', '=', scaleSetKey)
      .execute()
    return rows.map((r) => this.parse(r.instance))
  }

  async listAll(): Promise<readonly LocalInstance[]> {
    const rows = await this.db.selectFrom('local_instances').select('instance').execute()
    return rows.map((r) => this.parse(r.instance))
  }

  async get(scaleSetKey: string, instanceId: string): Promise<LocalInstance | undefined> {
    const row = await this.db
      .selectFrom('local_instances')
      .select('instance')
      .where('set_key', '=', scaleSetKey)
      .where('instance_id', '=', instanceId)
      .executeTakeFirst()
    return row ? this.parse(row.instance) : undefined
  }

  async getMany(scaleSetKey: string, ids: readonly string[]): Promise<readonly LocalInstance[]> {
    if (ids.length === 0) return []
    const rows = await this.db
      .selectFrom('local_instances')
      .select('instance')
      .where('set_key', '=', scaleSetKey)
      .where('instance_id', 'in', [...ids])
      .execute()
    return rows.map((r) => this.parse(r.instance))
  }

  async put(i: LocalInstance): Promise<void> {
    const instance = JSON.stringify(sealAt(i, LOCAL_INSTANCE_SECRETS, this.store.secrets))
    await this.store.enqueue((db) =>
      db
        .insertInto('local_instances')
        .values({ set_key: i.scaleSetKey, instance_id: i.instanceId, instance })
        .onConflict((oc) => oc.columns(['set_key', 'instance_id']).doUpdateSet({ instance }))
        .execute()
        .then(() => null),
    )
  }

  async remove(scaleSetKey: string, instanceId: string): Promise<void> {
    await this.store.enqueue((db) =>
      db
        .deleteFrom('local_instances')
        .where('set_key', '=', scaleSetKey)
        .where('instance_id', '=', instanceId)
        .execute()
        .then(() => null),
    )
  }
}
