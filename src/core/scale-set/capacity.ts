/**
 * Scale out and scale in (docs/api.md § Instances and their views): bring the number of instances
 * to `capacity`. New instances
 * come from the latest model and the model's resolved image version, placed to keep zones
 * balanced; scale-in removes the highest unprotected ids of the fullest zones.
 */
import type { InstanceObservation, NewInstance } from '../rollout/types.js'
import type { ScaleSetSpec } from './spec.js'
import { chooseScaleIn, placeNewInstances } from './placement.js'

export type CapacityPlan = Readonly<{
  create: readonly NewInstance[]
  delete: readonly string[]
  nextInstanceId: number
}>

/**
 * @example capacity 5, instances 0–2, next id 3, version 1.1.0 → create 3 and 4 on 1.1.0
 * @example capacity 1, instances 0–2 (2 protected from scale-in) → delete ['1']
 */
export function planCapacity(o: {
  spec: ScaleSetSpec
  instances: readonly InstanceObservation[]
  /** One member of each maxSurge pair a rollout manages: neither counted nor removed. */
  managed: ReadonlySet<string>
  nextInstanceId: number
  imageVersion: string | null
}): CapacityPlan {
  const counted = o.instances.filter((i) => !o.managed.has(i.instanceId))
  const missing = o.spec.capacity - counted.length
  if (missing > 0 && o.imageVersion !== null) {
    const placements = placeNewInstances(
      counted,
      o.spec.zones,
      missing,
      o.spec.platformFaultDomainCount,
    )
    let next = o.nextInstanceId
    const create = placements.map((p) => ({
      instanceId: String(next++),
      ...p,
      imageVersion: o.imageVersion as string,
      modelGeneration: o.spec.modelGeneration,
    }))
    return { create, delete: [], nextInstanceId: next }
  }
  if (missing < 0) {
    return {
      create: [],
      delete: chooseScaleIn(counted, -missing),
      nextInstanceId: o.nextInstanceId,
    }
  }
  return { create: [], delete: [], nextInstanceId: o.nextInstanceId }
}
