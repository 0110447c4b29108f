/**
 * Rollout plans (docs/rollouts.md § Waves across scale sets): the plan's spec and controls, which
 * the API writes, and its wave status, which the plan's reconciler writes, in one record with a
 * revision. A scale set is a member of at most one plan; the store keeps that index, so a set's
 * pass finds its plan's gate in one read.
 */
import type { WaveControls, WavePlanSpec, WavePlanState } from '../core/waves/wave.js'

export type StoredPlan = Readonly<{
  /** Lower-cased ARM id: the key (also the key of the plan's lease and reconcile passes). */
  key: string
  /** The id and name as created. */
  id: string
  name: string
  subscriptionId: string
  spec: WavePlanSpec
  controls: WaveControls
  state: WavePlanState
  createdAtMs: number
  updatedAtMs: number
  /** Bumped by every write; a write names the revision it read (optimistic concurrency). */
  revision: number
}>

export interface PlanStore {
  listPlanKeys(): Promise<readonly string[]>
  listPlans(subscriptionId: string): Promise<readonly StoredPlan[]>
  getPlan(key: string): Promise<StoredPlan | undefined>
  /**
   * Creates (`expectedRevision` null) or replaces a plan and its members (every set of its
   * stages). Refused with `RevisionConflict` when the stored revision differs, and with
   * `Conflict` when a member is in another plan; either writes nothing.
   */
  putPlan(plan: StoredPlan, expectedRevision: number | null): Promise<StoredPlan>
  /** Deletes a plan and its members; false when there was none. */
  deletePlan(key: string): Promise<boolean>
  /** The plan whose stages list the set, if any. */
  planOfScaleSet(scaleSetKey: string): Promise<StoredPlan | undefined>
}

/** Every member of a plan: the sets of all its stages. */
export function planMembers(plan: Pick<StoredPlan, 'spec'>): string[] {
  return plan.spec.stages.flatMap((s) => s.scaleSets)
}
