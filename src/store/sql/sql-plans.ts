/**
 * Rollout plans in the SQL store (SQLite and PostgreSQL): one row per plan (its document and
 * revision) and one row per member set, whose primary key keeps a set in one plan. Writes are
 * group-committed through the store's `enqueue`, so a plan reconciler's are fenced by the plan's
 * lease (lease-store.ts) like a set's. Each write checks before it changes anything, so a refused
 * one writes nothing in the shared transaction.
 */
import type { Kysely } from 'kysely'
import { Errors } from '../../errors.js'
import type { PlanStore, StoredPlan } from '../plan-store.js'
import { planMembers } from '../plan-store.js'
import type { Database } from './schema.js'
import type { SqlStore } from './sql-store.js'

export class SqlPlans implements PlanStore {
  private readonly db: Kysely<Database>

  constructor(private readonly store: SqlStore) {
    this.db = store.db
  }

  async listPlanKeys(): Promise<readonly string[]> {
    const rows = await this.db.selectFrom('rollout_plans').select('key').orderBy('key').execute()
    return rows.map((r) => r.key)
  }

  async listPlans(subscriptionId: string): Promise<readonly StoredPlan[]> {
    const rows = await this.db
      .selectFrom('rollout_plans')
      .selectAll()
      .where('subscription_id', '=', subscriptionId.toLowerCase())
      .orderBy('key')
      .execute()
    return rows.map(planOf)
  }

  async getPlan(key: string): Promise<StoredPlan | undefined> {
    const row = await this.db
      .selectFrom('rollout_plans')
      .selectAll()
      .where('key', '=', key)
      .executeTakeFirst()
    return row ? planOf(row) : undefined
  }

  async putPlan(plan: StoredPlan, expectedRevision: number | null): Promise<StoredPlan> {
    const revision = (expectedRevision ?? 0) + 1
    const saved = { ...plan, revision }
    const members = planMembers(plan)
    const row = {
      key: plan.key,
      subscription_id: plan.subscriptionId.toLowerCase(),
      document: JSON.stringify({ ...saved, revision: undefined }),
      revision,
    }
    let refused: Error | null = null
    await this.store.enqueue(async (tx) => {
      refused = await this.write(tx, row, members, expectedRevision)
      return refused
    })
    if (refused) throw refused
    return saved
  }

  private async write(
    tx: Kysely<Database>,
    row: Database['rollout_plans'],
    members: readonly string[],
    expectedRevision: number | null,
  ): Promise<Error | null> {
    if (members.length > 0) {
      const taken = await tx
        .selectFrom('rollout_plan_members')
        .select(['set_key', 'plan_key'])
        .where('set_key', 'in', [...members])
        .where('plan_key', '<>', row.key)
        .executeTakeFirst()
      if (taken)
        return Errors.Conflict(
          `The scale set ${taken.set_key} is already in the rollout plan ${taken.plan_key}.`,
        )
    }
    if (expectedRevision === null) {
      const r = await tx
        .insertInto('rollout_plans')
        .values(row)
        .onConflict((oc) => oc.column('key').doNothing())
        .executeTakeFirst()
      if (Number(r.numInsertedOrUpdatedRows ?? 0) !== 1)
        return Errors.RevisionConflict(`rollout plan ${row.key} already exists`)
    } else {
      const r = await tx
        .updateTable('rollout_plans')
        .set({ document: row.document, revision: row.revision })
        .where('key', '=', row.key)
        .where('revision', '=', expectedRevision)
        .executeTakeFirst()
      if (Number(r.numUpdatedRows) !== 1)
        return Errors.RevisionConflict(
          `rollout plan ${row.key} changed (expected revision ${expectedRevision})`,
        )
    }
    await tx.deleteFrom('rollout_plan_members').where('plan_key', '=', row.key).execute()
    if (members.length > 0)
      await tx
        .insertInto('rollout_plan_members')
        .values(members.map((set_key) => ({ set_key, plan_key: row.key })))
        .execute()
    return null
  }

  async deletePlan(key: string): Promise<boolean> {
    let deleted = false
    await this.store.enqueue(async (tx) => {
      await tx.deleteFrom('rollout_plan_members').where('plan_key', '=', key).execute()
      const r = await tx.deleteFrom('rollout_plans').where('key', '=', key).executeTakeFirst()
      deleted = Number(r.numDeletedRows) === 1
      return null
    })
    return deleted
  }

  async planOfScaleSet(scaleSetKey: string): Promise<StoredPlan | undefined> {
    const row = await this.db
      .selectFrom('rollout_plan_members as m')
      .innerJoin('rollout_plans as p', 'p.key', 'm.plan_key')
      .select(['p.key', 'p.subscription_id', 'p.document', 'p.revision'])
      .where('m.set_key', '=', scaleSetKey)
      .executeTakeFirst()
    return row ? planOf(row) : undefined
  }
}

function planOf(row: Database['rollout_plans']): StoredPlan {
  return { ...(JSON.parse(row.document) as StoredPlan), revision: Number(row.revision) }
}
