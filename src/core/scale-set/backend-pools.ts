/**
 * The load-balancer backend pools a scale set's NIC IP configurations join
 * (docs/api.md § Load balancers and probes): each `loadBalancerBackendAddressPools` item must be `{id}` naming an
 * existing pool of an existing load balancer in the set's region. An item without an id (`{}`)
 * used to be accepted and meant nothing (issue 18 §2); Azure refuses it, and so does osroll.
 */
import type { Problem } from '../problem.js'
import { problem } from '../problem.js'
import { missingReferenceId, referenceNotFound } from '../load-balancer/children.js'
import type { ArmScaleSet } from './arm-model.js'
import { isPlainObject } from './shape.js'

const POOL_ID =
  /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/loadBalancers\/[^/]+)\/backendAddressPools\/([^/]+)$/i

/** One pool reference of the model: where it is and the id it names (as sent). */
export type BackendPoolReference = Readonly<{ path: string; ref: unknown }>

/**
 * The load balancer id and pool name of a backend pool id, or undefined when it names none.
 * @example parseBackendPoolId(`${lb}/backendAddressPools/pool`) → { loadBalancerId: lb, pool: 'pool' }
 */
export function parseBackendPoolId(
  id: string,
): { loadBalancerId: string; pool: string } | undefined {
  const m = POOL_ID.exec(id)
  return m ? { loadBalancerId: m[1] as string, pool: m[2] as string } : undefined
}

/**
 * Every `loadBalancerBackendAddressPools` item of every NIC IP configuration, with its path.
 * @example backendPoolReferences(set with one NIC, one IP configuration, one pool)
 *   → [{ path: 'properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations[0]
 *        .properties.ipConfigurations[0].properties.loadBalancerBackendAddressPools[0]', ref: { id } }]
 */
export function backendPoolReferences(model: ArmScaleSet): BackendPoolReference[] {
  const nics =
    model.properties?.virtualMachineProfile?.networkProfile?.networkInterfaceConfigurations
  const base = 'properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations'
  return listOf(nics).flatMap((nic, i) =>
    listOf(field(field(nic, 'properties'), 'ipConfigurations')).flatMap((ip, j) => {
      const at = `${base}[${i}].properties.ipConfigurations[${j}].properties.loadBalancerBackendAddressPools`
      const pools = field(field(ip, 'properties'), 'loadBalancerBackendAddressPools')
      if (pools === undefined || pools === null) return []
      if (!Array.isArray(pools)) return [{ path: at, ref: pools }]
      return pools.map((ref: unknown, k) => ({ path: `${at}[${k}]`, ref }))
    }),
  )
}

/** A NIC IP configuration of the model that joins a backend pool, by the names instances use. */
export type PoolMembership = Readonly<{ nic: string; ipConfig: string; poolId: string }>

/**
 * Which backend pools each named NIC IP configuration of the model joins: what a pool's
 * read-only `backendIPConfigurations` lists for every instance. Items without a well-formed
 * pool id are left out (the model was checked when written).
 * See docs/api.md § Load balancers and probes.
 * @example poolMemberships(set whose NIC 'nic', IP configuration 'ip' joins `${lb}/backendAddressPools/pool`)
 *   → [{ nic: 'nic', ipConfig: 'ip', poolId: `${lb}/backendAddressPools/pool` }]
 */
export function poolMemberships(model: ArmScaleSet): PoolMembership[] {
  const nics =
    model.properties?.virtualMachineProfile?.networkProfile?.networkInterfaceConfigurations
  return listOf(nics).flatMap((nic) =>
    listOf(field(field(nic, 'properties'), 'ipConfigurations')).flatMap((ip) => {
      const nicName = field(nic, 'name')
      const ipName = field(ip, 'name')
      if (typeof nicName !== 'string' || typeof ipName !== 'string') return []
      const pools = listOf(field(field(ip, 'properties'), 'loadBalancerBackendAddressPools'))
      return pools.flatMap((ref) => {
        const id = field(ref, 'id')
        return typeof id === 'string' && parseBackendPoolId(id)
          ? [{ nic: nicName, ipConfig: ipName, poolId: id }]
          : []
      })
    }),
  )
}

/**
 * Problems of the model's pool references. `exists` answers for a well-formed pool id (lower
 * case) whether that pool exists in the set's region; `scaleSetId` names the set in Azure's
 * message.
 * @example checkBackendPools(model, { exists: new Map([[id, false]]), scaleSetId })
 *   → [{ code: 'InvalidResourceReference', message: 'Resource … referenced by resource … was not found. …' }]
 */
export function checkBackendPools(
  model: ArmScaleSet,
  o: { exists?: ReadonlyMap<string, boolean>; scaleSetId?: string },
): Problem[] {
  return backendPoolReferences(model).flatMap(({ path, ref }): Problem[] => {
    if (!path.endsWith(']')) return [typeProblem(path, 'an array')]
    if (!isPlainObject(ref)) return [typeProblem(path, 'an object')]
    const id = ref['id']
    if (id === undefined || id === null || id === '') return [missingReferenceId(path)]
    if (typeof id !== 'string') return [typeProblem(`${path}.id`, 'a string')]
    if (!parseBackendPoolId(id)) return [wrongType(id, path)]
    if (o.exists?.get(id.toLowerCase()) === false)
      return [
        problem(
          `${path}.id`,
          referenceNotFound(id, o.scaleSetId ?? 'the scale set'),
          'InvalidResourceReference',
        ),
      ]
    return []
  })
}

/** Azure's parser on an id of another resource type (a NAT rule's, a probe's, not an id). */
function wrongType(id: string, path: string): Problem {
  return {
    ...problem(`${path}.id`, 'Cannot parse the request.', 'InvalidRequestFormat'),
    details: [
      problem(
        `${path}.id`,
        `Reference Id ${id} is referencing resource of a wrong type. The Id is expected to reference resources of type loadBalancers/backendAddressPools. Path ${path}.`,
        'InvalidJsonReferenceWrongType',
      ),
    ],
  }
}

function typeProblem(path: string, expected: string): Problem {
  return problem(
    path,
    `Error converting value at path '${path}': expected ${expected}.`,
    'InvalidRequestContent',
  )
}

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}

function field(value: unknown, key: string): unknown {
  return isPlainObject(value) ? value[key] : undefined
}
