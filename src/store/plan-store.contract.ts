/**
 * The contract every PlanStore passes (STYLE R8): a plan round-trips, revisions fence stale
 * writers, a set is in one plan, members follow the plan's stages, and a refused write changes
 * nothing. The memory, SQLite and PostgreSQL stores run this same suite.
 */
import { describe, expect, it } from 'vitest'
import type { PlanStore, StoredPlan } from './plan-store.js'
import { EMPTY_WAVE_STATE } from '../core/waves/wave.js'
import type { LeaseStore } from './lease-store.js'
import { fenceScope } from './lease-store.js'

const SUB = '/subscriptions/00000000-0000-0000-0000-00000000000a'
const set = (name: string) =>
  `${SUB}/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/${name}`

export function storedPlan(name: string, stages: readonly (readonly string[])[]): StoredPlan {
  const id = `${SUB}/providers/Osroll.Upgrades/rolloutPlans/${name}`
  return {
    key: id.toLowerCase(),
    id,
    name,
    subscriptionId: SUB.split('/')[2] as string,
    spec: {
      image: { kind: 'platform', publisher: 'p', offer: 'o', sku: 's', version: 'latest' },
      stages: stages.map((sets, i) => ({ name: `s${i}`, scaleSets: sets.map(set), bakeMs: 1000 })),
    },
    controls: { paused: false, cancelRequested: null },
    state: EMPTY_WAVE_STATE,
    createdAtMs: 1,
    updatedAtMs: 1,
    revision: 0,
  }
}

type WithPlans = (
  fn: (p: PlanStore, leases: LeaseStore | undefined) => Promise<void>,
) => Promise<void>

export function runPlanStoreContract(
  name: string,
  /** `leases`: the store's LeaseStore, where the backend fences writes (the SQL ones). */
  create: () => Promise<{ plans: PlanStore; leases?: LeaseStore; close: () => Promise<void> }>,
): void {
  const withPlans: WithPlans = async (fn) => {
    const { plans, leases, close } = await create()
    try {
      await fn(plans, leases)
    } finally {
      await close()
    }
  }
  describe(`PlanStore contract: ${name}`, () => {
    revisionCases(withPlans)
    membershipCases(withPlans)
    fenceCases(withPlans)
  })
}

/** A plan round-trips; revisions fence stale writers. */
function revisionCases(withPlans: WithPlans): void {
  it('round-trips a plan, finds it by member, lists it by subscription', () =>
    withPlans(async (plans) => {
      const saved = await plans.putPlan(storedPlan('waves', [['a'], ['b', 'c']]), null)
      expect(saved.revision).toBe(1)
      expect(await plans.getPlan(saved.key)).toEqual(saved)
      expect((await plans.planOfScaleSet(set('c')))?.key).toBe(saved.key)
      expect(await plans.planOfScaleSet(set('z'))).toBeUndefined()
      expect(await plans.listPlanKeys()).toEqual([saved.key])
      expect((await plans.listPlans(saved.subscriptionId.toUpperCase())).map((p) => p.key)).toEqual(
        [saved.key],
      )
      expect(await plans.listPlans('other')).toEqual([])
    }))

  it('refuses a stale revision and a second create, changing nothing', () =>
    withPlans(async (plans) => {
      const saved = await plans.putPlan(storedPlan('waves', [['a']]), null)
      await expect(plans.putPlan(storedPlan('waves', [['b']]), null)).rejects.toMatchObject({
        code: 'RevisionConflict',
      })
      const next = await plans.putPlan(
        { ...saved, controls: { paused: true, cancelRequested: null } },
        1,
      )
      expect(next.revision).toBe(2)
      await expect(plans.putPlan(storedPlan('waves', [['b']]), 1)).rejects.toMatchObject({
        code: 'RevisionConflict',
      })
      expect(await plans.getPlan(saved.key)).toEqual(next)
      expect((await plans.planOfScaleSet(set('a')))?.key).toBe(saved.key)
      expect(await plans.planOfScaleSet(set('b'))).toBeUndefined()
    }))
}

/** A set is in one plan; a plan deleted frees its sets. */
function membershipCases(withPlans: WithPlans): void {
  it('keeps a set in one plan: a second plan naming it writes nothing', () =>
    withPlans(async (plans) => {
      const one = await plans.putPlan(storedPlan('one', [['a'], ['b']]), null)
      await expect(plans.putPlan(storedPlan('two', [['c'], ['b']]), null)).rejects.toMatchObject({
        code: 'Conflict',
      })
      expect(await plans.getPlan(storedPlan('two', []).key)).toBeUndefined()
      expect(await plans.planOfScaleSet(set('c'))).toBeUndefined()
      // An update of the same plan may keep or move its own members.
      const moved = await plans.putPlan(storedPlan('one', [['b', 'd']]), one.revision)
      expect((await plans.planOfScaleSet(set('d')))?.revision).toBe(moved.revision)
      expect(await plans.planOfScaleSet(set('a'))).toBeUndefined()
      // Freed, a set may join another plan.
      await plans.putPlan(storedPlan('two', [['a']]), null)
      expect((await plans.planOfScaleSet(set('a')))?.name).toBe('two')
    }))

  it('deletes a plan with its members', () =>
    withPlans(async (plans) => {
      const saved = await plans.putPlan(storedPlan('waves', [['a']]), null)
      expect(await plans.deletePlan(saved.key)).toBe(true)
      expect(await plans.deletePlan(saved.key)).toBe(false)
      expect(await plans.getPlan(saved.key)).toBeUndefined()
      expect(await plans.planOfScaleSet(set('a'))).toBeUndefined()
      expect(await plans.listPlanKeys()).toEqual([])
    }))
}

/** A plan write under a lost lease is refused (the SQL stores fence). */
function fenceCases(withPlans: WithPlans): void {
  it('refuses a plan write under a fence whose lease moved, and changes nothing', () =>
    withPlans(async (plans, leases) => {
      if (!leases) return // the memory store runs in one process: it has no leases
      const saved = await plans.putPlan(storedPlan('waves', [['a']]), null)
      await leases.acquireLease(saved.key, 'a', 0, 10_000)
      const fenceA = { key: saved.key, holder: 'a', epoch: 1 }
      const paused = { ...saved, controls: { paused: true, cancelRequested: null } }
      const s1 = await fenceScope.run(fenceA, () => plans.putPlan(paused, saved.revision))
      expect(s1.revision).toBe(2)
      expect(await leases.acquireLease(saved.key, 'b', 10_001, 10_000)).toMatchObject({
        epoch: 2,
      })
      await expect(
        fenceScope.run(fenceA, () => plans.putPlan({ ...s1, updatedAtMs: 9 }, s1.revision)),
      ).rejects.toMatchObject({ code: 'LeaseLost' })
      expect(await plans.getPlan(saved.key)).toEqual(s1)
    }))
}
