/**
 * Load balancers and their probes (docs/api.md § Load balancers and probes): stored as resources;
 * probes are validated;
 * deleting a load balancer whose probe or backend pool a scale set uses is refused, as is a PUT
 * that removes such a probe or pool. A pool lists the instances' NIC IP configurations in it.
 */
import { isDeepStrictEqual } from 'node:util'
import { canonicalEnums, LOAD_BALANCER_ENUMS } from '../core/enums.js'
import {
  childReferenceProblems,
  childViews,
  writtenChildren,
} from '../core/load-balancer/children.js'
import { coerceScalars, LOAD_BALANCER_SCALARS } from '../core/coerce.js'
import { Errors } from '../errors.js'
import type { AppError } from '../errors.js'
import { isPlainObject } from '../core/scale-set/shape.js'
import type { ArmScaleSet } from '../core/scale-set/arm-model.js'
import { backendPoolReferences, parseBackendPoolId } from '../core/scale-set/backend-pools.js'
import { normalizeLocation } from '../core/scale-set/to-spec.js'
import {
  LB_TYPE,
  loadBalancerId,
  mergeArm,
  problemsError,
  requireLocation,
  requireObject,
} from '../arm/arm.js'
import type { StoredResource } from '../store/control-store.js'
import type { ServiceDeps } from './deps.js'
import type { NameKind } from '../core/names.js'
import { requireLinkedAccess, requireNames, requireTags } from './guards.js'
import type { Caller } from './guards.js'
import {
  poolMembers,
  poolNamesOf,
  poolUsers,
  refuseRemovingUsedPools,
  refuseRemovingUsedProbes,
} from './load-balancer-users.js'

export type LbRef = Readonly<{ sub: string; rg: string; name: string }>

export async function putLoadBalancer(
  deps: ServiceDeps,
  ref: LbRef,
  body: unknown,
  caller?: Caller,
): Promise<{ created: boolean; view: Record<string, unknown> }> {
  requireNames([
    ['subscription', ref.sub, 'subscriptionId'],
    ['resourceGroup', ref.rg, 'resourceGroupName'],
    ['loadBalancer', ref.name, 'name'],
  ])
  const id = loadBalancerId(ref.sub, ref.rg, ref.name)
  const existing = await deps.store.getResource(id)
  const { merged, sku, probes, children } = checkedLoadBalancer(id, existing, body, {
    own: ref.sub,
    caller,
  })
  if (existing) {
    await refuseRemovingUsedProbes(
      deps,
      id,
      existing,
      probes.map((p) => String(p['name'])),
    )
    refuseRemovingUsedPools(id, await poolUsers(deps, existing), poolNamesOf(children))
  }
  const now = deps.clock.nowMs()
  const { provisioningState: _state, resourceGuid: _guid, ...writable } = children
  const oldProps = existing?.body['properties'] as Record<string, unknown> | undefined
  const toStore = {
    ...merged,
    id: existing?.body['id'] ?? id,
    sku: { tier: 'Regional', ...(merged['sku'] as object | undefined), name: sku },
    properties: {
      ...writable,
      provisioningState: 'Succeeded',
      resourceGuid: oldProps?.['resourceGuid'] ?? deps.ids(),
    },
  }
  // Read-back equals write (docs/api.md § What a GET returns): the GET PUT back keeps the etag.
  if (existing && isDeepStrictEqual(writtenBody(existing.body), toStore))
    return { created: false, view: await lbView(deps, existing) }
  const stored: StoredResource = {
    id,
    type: LB_TYPE,
    subscriptionId: ref.sub,
    resourceGroup: ref.rg,
    name: existing?.name ?? ref.name,
    body: toStore,
    etag: `W/"${deps.ids()}"`,
    createdAtMs: existing?.createdAtMs ?? now,
    updatedAtMs: now,
  }
  await deps.store.putResource(stored)
  return { created: !existing, view: await lbView(deps, stored) }
}

/**
 * The PUT's body merged onto what is stored and checked: names, tags, linked access, location,
 * SKU, probes and the references between children. Throws the first problem's ARM error.
 */
function checkedLoadBalancer(
  id: string,
  existing: StoredResource | undefined,
  body: unknown,
  access: { own: string; caller: Caller | undefined },
): {
  merged: Record<string, unknown>
  sku: string
  probes: Record<string, unknown>[]
  children: Record<string, unknown>
} {
  const parsed = coerceScalars(
    canonicalEnums(requireObject(body), LOAD_BALANCER_ENUMS),
    LOAD_BALANCER_SCALARS,
  ) as Record<string, unknown>
  requireTags(parsed)
  const { id: _i, name: _n, type: _t, etag: _e, ...sent } = parsed
  const merged = (existing ? mergeArm(existing.body, sent) : sent) as Record<string, unknown>
  const mergedProps = isPlainObject(merged['properties']) ? merged['properties'] : {}
  requireNames(childNames(merged['properties']))
  requireLinkedAccess(merged, { ...access, action: `${LB_TYPE}/write`, scope: id })
  requireLocation(merged)
  const sku = (merged['sku'] as { name?: unknown } | undefined)?.name ?? 'Basic'
  if (sku !== 'Basic' && sku !== 'Standard')
    throw Errors.InvalidParameter(
      `Load balancer SKU '${String(sku)}' is not one of Basic, Standard.`,
      'sku.name',
    )
  const probes = validateProbes(mergedProps['probes'])
  const children = writtenChildren({ ...mergedProps, probes })
  const problems = childReferenceProblems(id, children)
  if (problems.length > 0) throw problemsError(problems)
  return { merged, sku, probes, children }
}

export async function getLoadBalancer(
  deps: ServiceDeps,
  ref: LbRef,
): Promise<Record<string, unknown>> {
  const r = await deps.store.getResource(loadBalancerId(ref.sub, ref.rg, ref.name))
  if (!r) throw lbNotFound(ref)
  return lbView(deps, r)
}

export async function getProbe(
  deps: ServiceDeps,
  ref: LbRef,
  probe: string,
): Promise<Record<string, unknown>> {
  const lb = await getLoadBalancer(deps, ref)
  const p = (lb['properties'] as { probes: Record<string, unknown>[] }).probes.find(
    (x) => String(x['name']).toLowerCase() === probe.toLowerCase(),
  )
  if (!p) throw Errors.NotFound(`Probe '${probe}' of load balancer '${ref.name}' was not found.`)
  return p
}

export async function deleteLoadBalancer(deps: ServiceDeps, ref: LbRef): Promise<boolean> {
  const id = loadBalancerId(ref.sub, ref.rg, ref.name)
  const existing = await deps.store.getResource(id)
  if (!existing) return false
  await refuseRemovingUsedProbes(deps, id, existing, [])
  refuseRemovingUsedPools(id, await poolUsers(deps, existing), undefined)
  return deps.store.deleteResource(id)
}

const CHILDREN = [
  'probes',
  'backendAddressPools',
  'frontendIPConfigurations',
  'loadBalancingRules',
  'inboundNatRules',
  'inboundNatPools',
  'outboundRules',
] as const

/** The names of a load balancer's child resources (probes, pools, frontends, rules). */
function childNames(props: unknown): [NameKind, unknown, string][] {
  if (!isPlainObject(props)) return []
  return CHILDREN.flatMap((kind) => {
    const list = props[kind]
    if (!Array.isArray(list)) return []
    return list.flatMap((c: unknown, i): [NameKind, unknown, string][] =>
      isPlainObject(c) && c['name'] !== undefined
        ? [['loadBalancerChild', c['name'], `properties.${kind}[${i}].name`]]
        : [],
    )
  })
}

function validateProbes(value: unknown): Record<string, unknown>[] {
  if (value === undefined) return []
  if (!Array.isArray(value))
    throw Errors.InvalidRequestContent('properties.probes must be an array.', 'properties.probes')
  const names = new Set<string>()
  return value.map((p: unknown, i) => {
    const target = `properties.probes[${i}]`
    if (!isPlainObject(p) || typeof p['name'] !== 'string' || p['name'] === '')
      throw Errors.InvalidParameter('Every probe needs a name.', `${target}.name`)
    if (names.has(p['name'].toLowerCase()))
      throw Errors.InvalidParameter(`Probe name '${p['name']}' is used twice.`, `${target}.name`)
    names.add(p['name'].toLowerCase())
    const q = (isPlainObject(p['properties']) ? p['properties'] : {}) as Record<string, unknown>
    const protocol = q['protocol']
    if (protocol !== 'Http' && protocol !== 'Https' && protocol !== 'Tcp')
      throw Errors.InvalidParameter(
        `Probe protocol '${String(protocol)}' is not one of Http, Https, Tcp.`,
        `${target}.properties.protocol`,
      )
    const port = q['port']
    if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
      throw Errors.InvalidParameter(
        'Probe port must be an integer from 1 to 65535.',
        `${target}.properties.port`,
      )
    if (
      protocol !== 'Tcp' &&
      (typeof q['requestPath'] !== 'string' || !q['requestPath'].startsWith('/'))
    ) {
      throw Errors.InvalidParameter(
        `An ${protocol} probe needs a requestPath starting with '/'.`,
        `${target}.properties.requestPath`,
      )
    }
    const interval = q['intervalInSeconds'] ?? 15
    if (!Number.isInteger(interval) || (interval as number) < 5)
      throw Errors.InvalidParameter(
        'intervalInSeconds must be an integer of at least 5.',
        `${target}.properties.intervalInSeconds`,
      )
    const threshold = q['probeThreshold'] ?? 1
    if (!Number.isInteger(threshold) || (threshold as number) < 1)
      throw Errors.InvalidParameter(
        'probeThreshold must be a positive integer.',
        `${target}.properties.probeThreshold`,
      )
    return {
      ...p,
      properties: {
        ...q,
        intervalInSeconds: interval,
        probeThreshold: threshold,
        numberOfProbes: q['numberOfProbes'] ?? threshold,
      },
    }
  })
}

/**
 * For each well-formed backend pool id the scale set model references (lower case): whether
 * that pool exists on a load balancer in `location` (docs/api.md § Load balancers and probes).
 */
export async function backendPoolFacts(
  deps: ServiceDeps,
  model: ArmScaleSet,
  location: string,
): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>()
  for (const { ref } of backendPoolReferences(model)) {
    const id = isPlainObject(ref) && typeof ref['id'] === 'string' ? ref['id'] : undefined
    const parsed = id ? parseBackendPoolId(id) : undefined
    if (!id || !parsed || out.has(id.toLowerCase())) continue
    const lb = await deps.store.getResource(parsed.loadBalancerId)
    const props = lb && isPlainObject(lb.body['properties']) ? lb.body['properties'] : {}
    const pools = Array.isArray(props['backendAddressPools']) ? props['backendAddressPools'] : []
    const here =
      lb !== undefined && normalizeLocation(String(lb.body['location'] ?? '')) === location
    const found = pools.some(
      (p: unknown) =>
        isPlainObject(p) && String(p['name']).toLowerCase() === parsed.pool.toLowerCase(),
    )
    out.set(id.toLowerCase(), here && found)
  }
  return out
}

/**
 * A stored body as this build writes it: one stored before children were normalised (rule
 * defaults, no read-only members) compares equal to its GET PUT back.
 */
function writtenBody(body: Record<string, unknown>): Record<string, unknown> {
  const props = isPlainObject(body['properties']) ? body['properties'] : {}
  const sku = isPlainObject(body['sku']) ? body['sku'] : {}
  return { ...body, sku: { tier: 'Regional', ...sku }, properties: writtenChildren(props) }
}

async function lbView(deps: ServiceDeps, r: StoredResource): Promise<Record<string, unknown>> {
  const id = String(r.body['id'] ?? r.id)
  const props = isPlainObject(r.body['properties']) ? r.body['properties'] : {}
  const members = await poolMembers(deps, await poolUsers(deps, r))
  return {
    ...r.body,
    id,
    name: r.name,
    type: LB_TYPE,
    etag: r.etag,
    sku: { tier: 'Regional', ...(r.body['sku'] as object | undefined) },
    properties: childViews(id, r.etag, props as Record<string, unknown>, members),
  }
}

function lbNotFound(ref: LbRef): AppError {
  return Errors.ResourceNotFound(
    `The Resource 'Microsoft.Network/loadBalancers/${ref.name}' under resource group '${ref.rg}' was not found.`,
  )
}
