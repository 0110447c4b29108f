/**
 * Virtual networks and their subnets (docs/api.md § Virtual networks and subnets): one stored
 * resource per VNet with its subnets inline, as Azure's Network API shows them; the subnet
 * routes edit that list. A PUT replaces (Network's semantics: subnets left out are removed),
 * every write passes the address rules of core/network/virtual-network.ts, and a subnet in use
 * by a scale set is neither removed nor renumbered.
 */
import { isDeepStrictEqual } from 'node:util'
import { Errors } from '../errors.js'
import type { AppError } from '../errors.js'
import { isPlainObject } from '../core/scale-set/shape.js'
import { normalizeLocation } from '../core/scale-set/to-spec.js'
import { checkVirtualNetwork } from '../core/network/virtual-network.js'
import type { SubnetPlan } from '../core/network/virtual-network.js'
import {
  SUBNET_TYPE,
  VNET_TYPE,
  problemsError,
  requireLocation,
  requireObject,
  virtualNetworkId,
} from '../arm/arm.js'
import type { StoredResource } from '../store/control-store.js'
import { SubnetAddresses } from '../runtime/subnet-addresses.js'
import type { ServiceDeps } from './deps.js'
import { requireLinkedAccess, requireNames, requireTags } from './guards.js'
import type { Caller } from './guards.js'
import { ipConfigurationIds, subnetUsers } from './subnet-usage.js'

export type VnetRef = Readonly<{ sub: string; rg: string; name: string }>
type Json = Record<string, unknown>

export async function putVirtualNetwork(
  deps: ServiceDeps,
  ref: VnetRef,
  body: unknown,
  caller?: Caller,
): Promise<{ created: boolean; view: Json }> {
  requireRefNames(ref)
  const sent = withoutReadOnly(requireObject(body))
  requireTags(sent)
  const location = requireLocation(sent)
  const id = virtualNetworkId(ref.sub, ref.rg, ref.name)
  requireLinkedAccess(sent, { own: ref.sub, caller, action: `${VNET_TYPE}/write`, scope: id })
  const existing = await deps.store.getResource(id)
  if (
    existing &&
    normalizeLocation(location) !== normalizeLocation(String(existing.body['location']))
  )
    throw Errors.OperationNotAllowed(`Changing property 'location' is not allowed.`, 'location')
  const stored = await writeVirtualNetwork(deps, ref, existing, sent)
  return { created: !existing, view: await vnetView(deps, stored) }
}

export async function getVirtualNetwork(deps: ServiceDeps, ref: VnetRef): Promise<Json> {
  return vnetView(deps, await requireVnet(deps, ref))
}

export async function listVirtualNetworks(
  deps: ServiceDeps,
  sub: string,
  rg?: string,
): Promise<Json[]> {
  const rows = await deps.store.listResources({
    type: VNET_TYPE,
    subscriptionId: sub,
    ...(rg ? { resourceGroup: rg } : {}),
  })
  return Promise.all(rows.map((r) => vnetView(deps, r)))
}

/** Deletes the VNet unless one of its subnets is in use (`InUseSubnetCannotBeDeleted`). */
export async function deleteVirtualNetwork(deps: ServiceDeps, ref: VnetRef): Promise<boolean> {
  const existing = await deps.store.getResource(virtualNetworkId(ref.sub, ref.rg, ref.name))
  if (!existing) return false
  for (const s of subnetsOf(existing.body)) await refuseInUse(deps, existing, s, 'delete')
  return deps.store.deleteResource(existing.id)
}

export async function putSubnet(
  deps: ServiceDeps,
  ref: VnetRef,
  name: string,
  body: unknown,
  caller?: Caller,
): Promise<{ created: boolean; view: Json }> {
  requireRefNames(ref)
  requireNames([['subnet', name, 'name']])
  const vnet = await requireVnet(deps, ref)
  const sent = subnetWithoutReadOnly(requireObject(body))
  requireLinkedAccess(sent, {
    own: ref.sub,
    caller,
    action: `${SUBNET_TYPE}/write`,
    scope: `${vnet.body['id'] ?? vnet.id}/subnets/${name}`,
  })
  const subnets = subnetsOf(vnet.body)
  const at = subnets.findIndex((s) => sameName(s['name'], name))
  const subnet = { ...sent, name: at >= 0 ? subnets[at]?.['name'] : name }
  const next = at >= 0 ? subnets.map((s, i) => (i === at ? subnet : s)) : [...subnets, subnet]
  const stored = await writeVirtualNetwork(deps, ref, vnet, withSubnets(vnet.body, next))
  return { created: at < 0, view: await getSubnetOf(deps, stored, name) }
}

export async function getSubnet(deps: ServiceDeps, ref: VnetRef, name: string): Promise<Json> {
  return getSubnetOf(deps, await requireVnet(deps, ref), name)
}

export async function listSubnets(deps: ServiceDeps, ref: VnetRef): Promise<Json[]> {
  const vnet = await requireVnet(deps, ref)
  return Promise.all(subnetsOf(vnet.body).map((s) => subnetView(deps, vnet, s)))
}

/** Removes the subnet unless it is in use; false when there was none. */
export async function deleteSubnet(
  deps: ServiceDeps,
  ref: VnetRef,
  name: string,
): Promise<boolean> {
  const vnet = await deps.store.getResource(virtualNetworkId(ref.sub, ref.rg, ref.name))
  const subnets = vnet ? subnetsOf(vnet.body) : []
  if (!vnet || !subnets.some((s) => sameName(s['name'], name))) return false
  const next = subnets.filter((s) => !sameName(s['name'], name))
  await writeVirtualNetwork(deps, ref, vnet, withSubnets(vnet.body, next))
  return true
}

/**
 * What Azure answers for members a client left out, stored with the VNet so that a GET shows
 * them and the SDK's GET → PUT, which sends them back, changes nothing.
 */
const VNET_DEFAULTS = { enableDdosProtection: false, enableVmProtection: false }
const SUBNET_DEFAULTS = {
  privateEndpointNetworkPolicies: 'Disabled',
  privateLinkServiceNetworkPolicies: 'Enabled',
}

/** Validates the address plan, refuses changes to subnets in use, and stores the VNet. */
async function writeVirtualNetwork(
  deps: ServiceDeps,
  ref: VnetRef,
  existing: StoredResource | undefined,
  body: Json,
): Promise<StoredResource> {
  const id = String(existing?.body['id'] ?? virtualNetworkId(ref.sub, ref.rg, ref.name))
  const subnets = subnetsOf(body, true)
  requireNames(subnets.map((s, i) => ['subnet', s['name'], `properties.subnets[${i}].name`]))
  const problem = checkVirtualNetwork({
    name: existing?.name ?? ref.name,
    id,
    addressPrefixes: (propsOf(body)['addressSpace'] as Json | undefined)?.['addressPrefixes'],
    subnets: subnets.map((s, i): SubnetPlan => plannedSubnet(s, i)),
  })
  if (problem) throw problemsError([problem])
  if (existing) await refuseInUseChanges(deps, existing, subnets)
  const now = deps.clock.nowMs()
  const props = propsOf(body)
  const written = {
    ...body,
    id,
    properties: {
      ...VNET_DEFAULTS,
      ...props,
      subnets: subnets.map((s) => ({ ...s, properties: { ...SUBNET_DEFAULTS, ...propsOf(s) } })),
      resourceGuid: propsOf(existing?.body ?? {})['resourceGuid'] ?? deps.ids(),
    },
  }
  // Read-back equals write (docs/api.md § What a GET returns): the GET PUT back keeps the etag.
  if (existing && isDeepStrictEqual(existing.body, written)) return existing
  const stored: StoredResource = {
    id,
    type: VNET_TYPE,
    subscriptionId: ref.sub,
    resourceGroup: ref.rg,
    name: existing?.name ?? ref.name,
    body: written,
    etag: `W/"${deps.ids()}"`,
    createdAtMs: existing?.createdAtMs ?? now,
    updatedAtMs: now,
  }
  await deps.store.putResource(stored, existing ? existing.etag : null)
  return stored
}

/** Subnets of the stored VNet that the new list removes or renumbers must not be in use. */
async function refuseInUseChanges(
  deps: ServiceDeps,
  existing: StoredResource,
  next: readonly Json[],
): Promise<void> {
  for (const old of subnetsOf(existing.body)) {
    const now = next.find((s) => sameName(s['name'], old['name']))
    if (!now) await refuseInUse(deps, existing, old, 'delete')
    else if (JSON.stringify(prefixesOf(now)) !== JSON.stringify(prefixesOf(old)))
      await refuseInUse(deps, existing, old, 'update')
  }
}

async function refuseInUse(
  deps: ServiceDeps,
  vnet: StoredResource,
  subnet: Json,
  change: 'delete' | 'update',
): Promise<void> {
  const name = String(subnet['name'])
  const users = await subnetUsers(deps, `${vnet.body['id'] ?? vnet.id}/subnets/${name}`)
  if (users.length === 0) return
  const by =
    users.slice(0, 3).join(', ') + (users.length > 3 ? ` and ${users.length - 3} more` : '')
  if (change === 'delete')
    throw Errors.InUseSubnetCannotBeDeleted(
      `Subnet ${name} is in use by ${by} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.`,
    )
  throw Errors.InUseSubnetCannotBeUpdated(
    `Subnet ${name} is in use by ${by} and its address prefix cannot be changed. Delete the resources within the subnet first.`,
    'properties.addressPrefix',
  )
}

async function vnetView(deps: ServiceDeps, r: StoredResource): Promise<Json> {
  const props = propsOf(r.body)
  return {
    ...r.body,
    id: r.body['id'] ?? r.id,
    name: r.name,
    type: VNET_TYPE,
    etag: r.etag,
    properties: {
      ...props,
      provisioningState: 'Succeeded',
      subnets: await Promise.all(subnetsOf(r.body).map((s) => subnetView(deps, r, s))),
    },
  }
}

async function getSubnetOf(deps: ServiceDeps, vnet: StoredResource, name: string): Promise<Json> {
  const s = subnetsOf(vnet.body).find((x) => sameName(x['name'], name))
  if (!s) throw Errors.NotFound(`Resource ${vnet.body['id'] ?? vnet.id}/subnets/${name} not found.`)
  return subnetView(deps, vnet, s)
}

/** A subnet as Azure shows it, with the IP configurations of the instances using it. */
async function subnetView(deps: ServiceDeps, vnet: StoredResource, s: Json): Promise<Json> {
  const id = `${vnet.body['id'] ?? vnet.id}/subnets/${String(s['name'])}`
  const claims = await new SubnetAddresses(deps.store).ofSubnet(id)
  const configs = await ipConfigurationIds(deps, claims)
  return {
    ...s,
    id,
    etag: vnet.etag,
    type: SUBNET_TYPE,
    properties: {
      ...propsOf(s),
      provisioningState: 'Succeeded',
      ...(configs.length > 0 ? { ipConfigurations: configs.map((c) => ({ id: c })) } : {}),
    },
  }
}

async function requireVnet(deps: ServiceDeps, ref: VnetRef): Promise<StoredResource> {
  const r = await deps.store.getResource(virtualNetworkId(ref.sub, ref.rg, ref.name))
  if (!r) throw vnetNotFound(ref)
  return r
}

function vnetNotFound(ref: VnetRef): AppError {
  return Errors.ResourceNotFound(
    `The Resource 'Microsoft.Network/virtualNetworks/${ref.name}' under resource group '${ref.rg}' was not found.`,
  )
}

function requireRefNames(ref: VnetRef): void {
  requireNames([
    ['subscription', ref.sub, 'subscriptionId'],
    ['resourceGroup', ref.rg, 'resourceGroupName'],
    ['virtualNetwork', ref.name, 'name'],
  ])
}

function plannedSubnet(s: Json, i: number): SubnetPlan {
  return { name: String(s['name']), prefixes: prefixesOf(s), target: `properties.subnets[${i}]` }
}

/** A subnet's prefixes: `addressPrefix`, or `addressPrefixes` when that is absent. */
function prefixesOf(s: Json): unknown[] {
  const p = propsOf(s)
  if (p['addressPrefix'] !== undefined) return [p['addressPrefix']]
  return Array.isArray(p['addressPrefixes']) ? p['addressPrefixes'] : []
}

/**
 * The VNet's subnets. `strict`: a body being written, whose list must be an array of objects
 * with distinct names (case-insensitive), each stripped of its read-only members.
 */
function subnetsOf(body: Readonly<Json>, strict = false): Json[] {
  const list = propsOf(body)['subnets']
  if (list === undefined) return []
  if (!strict) return list as Json[]
  if (!Array.isArray(list) || !list.every(isPlainObject))
    throw Errors.InvalidRequestContent(
      'properties.subnets must be an array of objects.',
      'properties.subnets',
    )
  const seen = new Set<string>()
  return list.map((s, i) => {
    const key = String(s['name']).toLowerCase()
    if (seen.has(key))
      throw Errors.InvalidParameter(
        `Subnet name '${String(s['name'])}' is used twice.`,
        `properties.subnets[${i}].name`,
      )
    seen.add(key)
    return subnetWithoutReadOnly(s)
  })
}

function withSubnets(body: Readonly<Json>, subnets: readonly Json[]): Json {
  return { ...body, properties: { ...propsOf(body), subnets } }
}

function propsOf(body: Readonly<Json>): Json {
  const p = body['properties']
  return isPlainObject(p) ? p : {}
}

/** A VNet body without what a client may send back but never sets (GET → PUT is a no-op). */
function withoutReadOnly(body: Json): Json {
  const { id: _i, name: _n, type: _t, etag: _e, ...rest } = body
  if (!isPlainObject(rest['properties'])) return rest
  const { provisioningState: _p, resourceGuid: _g, ...props } = rest['properties']
  return { ...rest, properties: props }
}

function subnetWithoutReadOnly(s: Json): Json {
  const { id: _i, type: _t, etag: _e, ...rest } = s
  if (!isPlainObject(rest['properties'])) return rest
  const { provisioningState: _p, ipConfigurations: _c, ...props } = rest['properties']
  return { ...rest, properties: props }
}

function sameName(a: unknown, b: unknown): boolean {
  return String(a).toLowerCase() === String(b).toLowerCase()
}
