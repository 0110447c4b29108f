/**
 * Rollout plans in memory, with the PlanStore contract's semantics (revisions, one plan per set).
 * For unit tests and the wave simulation; checked by the same contract suite as the SQL stores.
 */
import { Errors } from '../../errors.js'
import type { PlanStore, StoredPlan } from '../plan-store.js'
import { planMembers } from '../plan-store.js'

export class MemoryPlans implements PlanStore {
  private readonly plans = new Map<string, StoredPlan>()
  private readonly members = new Map<string, string>()

  async listPlanKeys(): Promise<readonly string[]> {
    return [...this.plans.keys()].sort()
  }

  async listPlans(subscriptionId: string): Promise<readonly StoredPlan[]> {
    const sub = subscriptionId.toLowerCase()
    return [...this.plans.values()]
      .filter((p) => p.subscriptionId.toLowerCase() === sub)
      .sort((a, b) => (a.key < b.key ? -1 : 1))
  }

  async getPlan(key: string): Promise<StoredPlan | undefined> {
    return this.plans.get(key)
  }

  async putPlan(plan: StoredPlan, expectedRevision: number | null): Promise<StoredPlan> {
    const current = this.plans.get(plan.key)
    if ((current?.revision ?? null) !== expectedRevision)
      throw Errors.RevisionConflict(
        `rollout plan ${plan.key} changed (revision ${current?.revision ?? 'none'}, expected ${expectedRevision ?? 'none'})`,
      )
    const members = planMembers(plan)
    for (const set of members) {
      const owner = this.members.get(set)
      if (owner !== undefined && owner !== plan.key)
        throw Errors.Conflict(`The scale set ${set} is already in the rollout plan ${owner}.`)
    }
    for (const [set, owner] of [...this.members]) if (owner === plan.key) this.members.delete(set)
    for (const set of members) this.members.set(set, plan.key)
    const saved = { ...plan, revision: (expectedRevision ?? 0) + 1 }
    this.plans.set(plan.key, saved)
    return saved
  }

  async deletePlan(key: string): Promise<boolean> {
    for (const [set, owner] of [...this.members]) if (owner === key) this.members.delete(set)
    return this.plans.delete(key)
  }

  async planOfScaleSet(scaleSetKey: string): Promise<StoredPlan | undefined> {
    const owner = this.members.get(scaleSetKey)
    return owner === undefined ? undefined : this.plans.get(owner)
  }
}
