/**
 * What uses a load balancer (docs/api.md § Load balancers and probes): the scale sets whose
 * health probe is one of its probes, and those whose NIC IP configurations join one of its
 * backend pools. Neither can be removed from under them, and a pool lists its members.
 */
import { Errors } from '../errors.js'
import { isPlainObject } from '../core/scale-set/shape.js'
import type { ArmScaleSet } from '../core/scale-set/arm-model.js'
import { parseBackendPoolId, poolMemberships } from '../core/scale-set/backend-pools.js'
import type { PoolMembership } from '../core/scale-set/backend-pools.js'
import { SCALE_SET_TYPE, loadBalancerId, parseProbeId } from '../arm/arm.js'
import type { StoredResource } from '../store/control-store.js'
import type { ServiceDeps } from './deps.js'

export async function refuseRemovingUsedProbes(
  deps: ServiceDeps,
  lbId: string,
  lb: StoredResource,
  keep: readonly string[],
): Promise<void> {
  const kept = new Set(keep.map((k) => k.toLowerCase()))
  const sets = await deps.store.listResources({
    type: SCALE_SET_TYPE,
    subscriptionId: lb.subscriptionId,
  })
  for (const s of sets) {
    const probeId = (
      (s.body['properties'] as Record<string, unknown> | undefined)?.['virtualMachineProfile'] as
        { networkProfile?: { healthProbe?: { id?: string } } } | undefined
    )?.networkProfile?.healthProbe?.id
    const p = probeId ? parseProbeId(probeId) : undefined
    if (
      !p ||
      loadBalancerId(p.sub, p.rg, p.lb).toLowerCase() !== lbId.toLowerCase() ||
      kept.has(p.probe.toLowerCase())
    )
      continue
    throw Errors.CannotRemoveProbeUsedByVMSS(
      `Probe ${probeId} cannot be removed: it is used as the health probe of virtual machine scale set ${s.name}.`,
      'properties.probes',
    )
  }
}

/** A scale set whose NIC IP configurations join pools of one load balancer, and how. */
type PoolUser = Readonly<{ set: StoredResource; joins: readonly PoolMembership[] }>

/** The scale sets of the load balancer's subscription that join one of its pools. */
export async function poolUsers(deps: ServiceDeps, lb: StoredResource): Promise<PoolUser[]> {
  const prefix = `${String(lb.body['id'] ?? lb.id)}/backendAddressPools/`.toLowerCase()
  const sets = await deps.store.listResources({
    type: SCALE_SET_TYPE,
    subscriptionId: lb.subscriptionId,
  })
  return sets.flatMap((set) => {
    const joins = poolMemberships(set.body as ArmScaleSet).filter((j) =>
      j.poolId.toLowerCase().startsWith(prefix),
    )
    return joins.length > 0 ? [{ set, joins }] : []
  })
}

/**
 * Each pool's read-only `backendIPConfigurations`, by the pool's lower-case id: the NIC IP
 * configuration of every instance whose scale set model joins it, with the ids Azure gives
 * them (`{set}/virtualMachines/{instance}/networkInterfaces/{nic}/ipConfigurations/{ip}`).
 */
export async function poolMembers(
  deps: ServiceDeps,
  users: readonly PoolUser[],
): Promise<Map<string, { backendIPConfigurations: { id: string }[] }>> {
  const out = new Map<string, { backendIPConfigurations: { id: string }[] }>()
  for (const { set, joins } of users) {
    const setId = String(set.body['id'] ?? set.id)
    const views = await deps.fabric.listInstances(set.id.toLowerCase())
    for (const j of joins) {
      const entry = out.get(j.poolId.toLowerCase()) ?? { backendIPConfigurations: [] }
      for (const v of views)
        entry.backendIPConfigurations.push({
          id: `${setId}/virtualMachines/${v.instanceId}/networkInterfaces/${j.nic}/ipConfigurations/${j.ipConfig}`,
        })
      out.set(j.poolId.toLowerCase(), entry)
    }
  }
  return out
}

/**
 * A pool a scale set joins cannot go: neither by a PUT that leaves it out (`keep`: the pool
 * names the PUT keeps) nor by deleting the load balancer (`keep` undefined), as Azure refuses
 * both with `LoadBalancerInUseByVirtualMachineScaleSet`.
 */
export function refuseRemovingUsedPools(
  lbId: string,
  users: readonly PoolUser[],
  keep: ReadonlySet<string> | undefined,
): void {
  for (const { set, joins } of users) {
    const gone = joins
      .map((j) => parseBackendPoolId(j.poolId)?.pool ?? j.poolId)
      .filter((name) => !keep?.has(name.toLowerCase()))
    const setId = String(set.body['id'] ?? set.id)
    const first = gone[0]
    if (first === undefined) continue
    if (keep === undefined)
      throw Errors.LoadBalancerInUseByVirtualMachineScaleSet(
        `Cannot delete load balancer ${lbId} since its child resources ${[...new Set(gone)].join(', ')} are in use by virtual machine scale set ${setId}.`,
      )
    throw Errors.LoadBalancerInUseByVirtualMachineScaleSet(
      `Cannot remove backend address pool ${first} from load balancer since it is in use by virtual machine scale set ${setId}.`,
      'properties.backendAddressPools',
    )
  }
}

/** The lower-case names of the backend pools in a load balancer's written children. */
export function poolNamesOf(children: Record<string, unknown>): Set<string> {
  const pools = Array.isArray(children['backendAddressPools'])
    ? children['backendAddressPools']
    : []
  return new Set(
    pools.flatMap((p: unknown) =>
      isPlainObject(p) && typeof p['name'] === 'string' ? [p['name'].toLowerCase()] : [],
    ),
  )
}
