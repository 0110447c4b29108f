/**
 * The sim fabric's instances in the SQL store (so virtual instances survive a restart and are
 * shared by replicas, docs/architecture.md § The sim fabric): reads batched, puts group-committed.
 */
import type { SimInstance, SimStateStore } from '../../fabrics/types/sim-state.js'
import { ReadBatcher } from '../../util/read-batcher.js'
import { SqlControlStore } from './sql-control.js'

export class SqlSimState extends SqlControlStore implements SimStateStore {
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
}
