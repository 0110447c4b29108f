/**
 * A scale set's pass outside its rollouts (reconciler.ts): scale out or in toward its capacity,
 * delete instances a cut-off maxSurge rollout left, note what the pass saw, and release kept
 * previous OS disks once no rollout runs. New instances are built from the model's version
 * (catalog.ts `modelVersion`), capped by a rollout plan that holds the set (W3 of
 * docs/rollouts.md § Waves across scale sets).
 */
import { planCapacity } from '../core/scale-set/capacity.js'
import type { PlanGate } from '../core/rollout/start.js'
import type { InstanceObservation, Rollout } from '../core/rollout/types.js'
import { heldVersionCap } from '../core/waves/membership.js'
import type { ScaleSetState, Store } from '../store/store.js'
import { modelVersion } from './catalog.js'
import type { ImageCatalog } from './catalog.js'
import type { EffectRunner } from './effect-runner.js'
import type { Logger } from './logger.js'

/** What these passes use of the reconciler's deps. */
export type CapacityDeps = Readonly<{
  store: Store
  catalog: ImageCatalog
  effects: EffectRunner
  log: Logger
  plans?: Readonly<{ gateFor: (scaleSetKey: string) => Promise<PlanGate | null> }>
}>

/** Scale out/in toward `capacity`; instances a maxSurge rollout manages are left to it. */
export async function reconcileCapacity(
  state: ScaleSetState,
  instances: readonly InstanceObservation[],
  rollout: Rollout | null,
  deps: CapacityDeps,
): Promise<ScaleSetState> {
  // A maxSurge pair counts once: while the replacement boots, the old instance is the member;
  // once swapped, the replacement is; a discarded replacement never counts.
  const managed = new Set<string>()
  for (const a of rollout?.attempts ?? []) {
    if (a.method !== 'surge' || a.surgeInstanceId === null) continue
    managed.add(a.state === 'Succeeded' ? a.instanceId : a.surgeInstanceId)
  }
  // W3: a set held by a rollout plan builds new instances from what the plan released to it.
  const gate = (await deps.plans?.gateFor(state.key)) ?? null
  const cap = heldVersionCap(
    gate,
    instances.map((i) => i.osImageVersion),
  )
  const exactVersion = await modelVersion(deps.catalog, state, cap)
  // Creating or deleting an instance takes time on a real fabric; until it is done the fleet is
  // not what it will be, so plan no further change (else every pass would create more).
  if (deps.effects.busyWith(state.key, ['create', 'delete'])) return state
  const leftovers =
    rollout === null && instances.length > state.spec.capacity
      ? await surgeLeftovers(state.key, instances, deps)
      : []
  if (leftovers.length > 0) {
    // The last rollout swapped these out (or discarded them) and was cut off before deleting
    // them: delete them, and neither count them nor scale in a member in their place (seed 25624).
    deps.log.info({ scaleSet: state.key, delete: leftovers }, 'Deleting surged-out instances')
    deps.effects.run(effectContext(state), [{ type: 'delete', instanceIds: leftovers }])
    return state
  }
  const plan = planCapacity({
    spec: state.spec,
    instances,
    managed,
    nextInstanceId: state.nextInstanceId,
    imageVersion: exactVersion,
  })
  if (plan.create.length === 0 && plan.delete.length === 0) {
    return recordObserved(state, instances.length - managed.size, instances, exactVersion, deps)
  }
  deps.log.info(
    { scaleSet: state.key, create: plan.create.map((c) => c.instanceId), delete: plan.delete },
    'Scaling to capacity',
  )
  const saved = await deps.store.putScaleSet(
    { ...state, nextInstanceId: plan.nextInstanceId },
    state.revision,
  )
  const actions = [
    ...(plan.create.length > 0 ? [{ type: 'create' as const, instances: plan.create }] : []),
    ...(plan.delete.length > 0 ? [{ type: 'delete' as const, instanceIds: plan.delete }] : []),
  ]
  deps.effects.run(effectContext(state), actions)
  return saved
}

/**
 * Instances the last (ended) rollout meant to delete that still exist: the old member of a
 * swapped maxSurge pair, or a discarded replacement. Read only when the fleet is over capacity.
 */
async function surgeLeftovers(
  key: string,
  instances: readonly InstanceObservation[],
  deps: CapacityDeps,
): Promise<string[]> {
  const [last] = await deps.store.listRollouts(key, { limit: 1 })
  if (!last || last.status === 'RollingForward') return []
  const present = new Set(instances.map((i) => i.instanceId))
  const out: string[] = []
  for (const a of last.attempts) {
    if (a.method !== 'surge' || a.surgeInstanceId === null || a.state === 'Removed') continue
    const doomed = a.state === 'Succeeded' ? a.instanceId : a.surgeInstanceId
    if (present.has(doomed)) out.push(doomed)
  }
  return out
}

/** Saves what the pass saw when it differs from what the state says, for cheap reads. */
async function recordObserved(
  state: ScaleSetState,
  instanceCount: number,
  instances: readonly InstanceObservation[],
  exactVersion: string | null,
  deps: CapacityDeps,
): Promise<ScaleSetState> {
  const observed = {
    instanceCount,
    settled: instances.every((i) => i.provisioning !== 'creating'),
    exactVersion,
  }
  const o = state.observed
  if (
    o &&
    o.instanceCount === observed.instanceCount &&
    o.settled === observed.settled &&
    o.exactVersion === observed.exactVersion
  ) {
    return state
  }
  return deps.store.putScaleSet({ ...state, observed }, state.revision)
}

/** With no rollout running, a kept previous OS disk is garbage from an interrupted clean-up. */
export function releaseKeptDisks(
  state: ScaleSetState,
  instances: readonly InstanceObservation[],
  deps: CapacityDeps,
): void {
  const ids = instances.filter((i) => i.previousOsImageVersion !== null).map((i) => i.instanceId)
  if (ids.length === 0) return
  deps.effects.run(effectContext(state), [{ type: 'release', instanceIds: ids }])
}

/** The effects' context of a set's actions outside a rollout. */
function effectContext(state: ScaleSetState) {
  return {
    scaleSetKey: state.key,
    model: state.fabricModel,
    image: state.spec.image,
    location: state.spec.location,
  }
}
