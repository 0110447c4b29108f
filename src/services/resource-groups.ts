/**
 * Resource groups (docs/api.md § Resource groups): Microsoft.Resources' containers. A group
 * exists once created, its location never changes, it lists what it holds, and deleting it
 * deletes that first, in dependency order (group-members.ts). A resource under a group that does
 * not exist is `ResourceGroupNotFound`, unless implicit groups are on (docs/operations.md
 * § Resource groups); groups that resources of an older osroll imply are adopted at start.
 */
import { AppError, Errors } from '../errors.js'
import { normalizeLocation } from '../core/scale-set/to-spec.js'
import { RESOURCE_GROUP_TYPE, requireLocation, requireObject, resourceGroupId } from '../arm/arm.js'
import type { StoredResource } from '../store/control-store.js'
import type { ServiceDeps } from './deps.js'
import { requireNames, requireTags } from './guards.js'
import { GROUP_MEMBERS } from './group-members.js'

export type GroupRef = Readonly<{ sub: string; rg: string }>
export type GroupView = Record<string, unknown>

/** PUT: creates the group (201) or replaces its tags and `managedBy` (200). */
export async function putResourceGroup(
  deps: ServiceDeps,
  ref: GroupRef,
  body: unknown,
): Promise<{ created: boolean; view: GroupView }> {
  requireGroupNames(ref)
  const b = requireObject(body)
  requireTags(b)
  const location = normalizeLocation(requireLocation(b))
  const existing = await deps.store.getResource(resourceGroupId(ref.sub, ref.rg))
  if (existing) requireSameLocation(existing, location)
  const stored = await saveGroup(deps, ref, existing, {
    location,
    ...tagsAndManager(b),
  })
  return { created: !existing, view: groupView(stored) }
}

/** PATCH: changes `tags` and `managedBy` where sent; the location may only be repeated. */
export async function patchResourceGroup(
  deps: ServiceDeps,
  ref: GroupRef,
  body: unknown,
): Promise<GroupView> {
  const existing = await requireResourceGroup(deps, ref)
  const b = requireObject(body)
  requireTags(b)
  if (b['location'] !== undefined)
    requireSameLocation(existing, normalizeLocation(requireLocation(b)))
  const stored = await saveGroup(deps, ref, existing, { ...existing.body, ...tagsAndManager(b) })
  return groupView(stored)
}

export async function getResourceGroup(deps: ServiceDeps, ref: GroupRef): Promise<GroupView> {
  return groupView(await requireResourceGroup(deps, ref))
}

export async function resourceGroupExists(deps: ServiceDeps, ref: GroupRef): Promise<boolean> {
  return (await deps.store.getResource(resourceGroupId(ref.sub, ref.rg))) !== undefined
}

/** The stored group, or `ResourceGroupNotFound` with Azure's message. */
export async function requireResourceGroup(
  deps: ServiceDeps,
  ref: GroupRef,
): Promise<StoredResource> {
  const r = await deps.store.getResource(resourceGroupId(ref.sub, ref.rg))
  if (!r) throw resourceGroupNotFound(ref.rg)
  return r
}

export function resourceGroupNotFound(rg: string): AppError {
  return Errors.ResourceGroupNotFound(`Resource group '${rg}' could not be found.`)
}

/** The groups of a subscription, by name; `top` keeps the first ones. */
export async function listResourceGroups(
  deps: ServiceDeps,
  sub: string,
  top?: number,
): Promise<GroupView[]> {
  const rows = await deps.store.listResources({ type: RESOURCE_GROUP_TYPE, subscriptionId: sub })
  return rows.slice(0, top ?? rows.length).map(groupView)
}

/**
 * `…/resourceGroups/{rg}/resources`: what the group holds, as ARM's generic resources, in the
 * order of the member table (scale sets, load balancers, …).
 */
export async function listGroupResources(
  deps: ServiceDeps,
  ref: GroupRef,
  top?: number,
): Promise<Record<string, unknown>[]> {
  await requireResourceGroup(deps, ref)
  const out: Record<string, unknown>[] = []
  for (const m of GROUP_MEMBERS) {
    const rows = await deps.store.listResources({
      type: m.type,
      subscriptionId: ref.sub,
      resourceGroup: ref.rg,
    })
    out.push(...rows.map((r) => genericView(m.type, r)))
  }
  return out.slice(0, top ?? out.length)
}

/**
 * Deletes what the group holds, type by type in dependency order, each through its type's own
 * delete (a scale set's instances go with it), then the group. A resource that cannot go (a
 * load balancer whose probe a set of another group uses) stops it with that resource's error:
 * what went before is gone, and the group and the rest stay.
 */
export async function deleteResourceGroup(deps: ServiceDeps, ref: GroupRef): Promise<void> {
  const group = await requireResourceGroup(deps, ref)
  for (const m of GROUP_MEMBERS) {
    const rows = await deps.store.listResources({
      type: m.type,
      subscriptionId: ref.sub,
      resourceGroup: ref.rg,
    })
    for (const r of rows) await m.remove(deps, r)
  }
  await deps.store.deleteResource(group.id)
  // Sets of other groups may have followed a gallery image of this one.
  for (const key of await deps.store.listScaleSetKeys()) deps.notify(key)
}

/**
 * Implicit groups (docs/operations.md § Resource groups): the group a resource PUT names, made
 * in the resource's location. True when this call made it (a refused request takes it back with
 * `forgetResourceGroup`); false when it existed or another writer made it first.
 */
export async function createImplicitGroup(
  deps: ServiceDeps,
  ref: GroupRef,
  location: string,
): Promise<boolean> {
  try {
    await saveGroup(deps, ref, undefined, { location: normalizeLocation(location) }, null)
    return true
  } catch (err) {
    if (err instanceof AppError && err.code === 'PreconditionFailed') return false
    throw err
  }
}

/** Takes back a group that a refused request made implicitly. */
export async function forgetResourceGroup(deps: ServiceDeps, ref: GroupRef): Promise<void> {
  await deps.store.deleteResource(resourceGroupId(ref.sub, ref.rg))
}

/**
 * At start, on a store that has no group yet: makes the groups that resources written by an
 * osroll with implicit groups live in, each in the location of its oldest resource, so an
 * upgrade keeps every resource reachable. Returns how many it made.
 */
export async function adoptResourceGroups(deps: ServiceDeps): Promise<number> {
  if ((await deps.store.listResources({ type: RESOURCE_GROUP_TYPE })).length > 0) return 0
  const oldest = new Map<string, StoredResource>()
  for (const m of GROUP_MEMBERS)
    for (const r of await deps.store.listResources({ type: m.type })) {
      const key = `${r.subscriptionId}/${r.resourceGroup ?? ''}`.toLowerCase()
      const seen = oldest.get(key)
      if (r.resourceGroup && (!seen || r.createdAtMs < seen.createdAtMs)) oldest.set(key, r)
    }
  let made = 0
  for (const r of oldest.values()) {
    const ref = { sub: subscriptionOf(r), rg: groupNameOf(r) }
    const location = typeof r.body['location'] === 'string' ? r.body['location'] : 'westus'
    if (await createImplicitGroup(deps, ref, location)) made++
  }
  return made
}

function requireGroupNames(ref: GroupRef): void {
  requireNames([
    ['subscription', ref.sub, 'subscriptionId'],
    ['resourceGroup', ref.rg, 'resourceGroupName'],
  ])
}

function requireSameLocation(existing: StoredResource, location: string): void {
  const current = String(existing.body['location'])
  if (current !== location)
    throw Errors.InvalidResourceGroupLocation(
      `Invalid resource group location '${location}'. The Resource group already exists in location '${current}'.`,
      'location',
    )
}

/** The members a PUT or PATCH sets besides the location: `tags` and `managedBy`. */
function tagsAndManager(b: Record<string, unknown>): Record<string, unknown> {
  const managedBy = b['managedBy']
  if (managedBy !== undefined && managedBy !== null && typeof managedBy !== 'string')
    throw Errors.InvalidRequestContent('managedBy must be a string (a resource id).', 'managedBy')
  return {
    ...(b['tags'] !== undefined ? { tags: b['tags'] } : {}),
    ...(typeof managedBy === 'string' ? { managedBy } : {}),
  }
}

async function saveGroup(
  deps: ServiceDeps,
  ref: GroupRef,
  existing: StoredResource | undefined,
  body: Record<string, unknown>,
  expectedEtag?: null,
): Promise<StoredResource> {
  const now = deps.clock.nowMs()
  const id = String(existing?.body['id'] ?? resourceGroupId(ref.sub, ref.rg))
  const stored: StoredResource = {
    id,
    type: RESOURCE_GROUP_TYPE,
    subscriptionId: ref.sub,
    resourceGroup: existing?.name ?? ref.rg,
    name: existing?.name ?? ref.rg,
    body: { ...body, id },
    etag: `W/"${deps.ids()}"`,
    createdAtMs: existing?.createdAtMs ?? now,
    updatedAtMs: now,
  }
  await deps.store.putResource(stored, expectedEtag)
  return stored
}

function groupView(r: StoredResource): GroupView {
  const b = r.body
  return {
    id: String(b['id'] ?? r.id),
    name: r.name,
    type: RESOURCE_GROUP_TYPE,
    location: b['location'],
    ...(b['managedBy'] !== undefined ? { managedBy: b['managedBy'] } : {}),
    ...(b['tags'] !== undefined ? { tags: b['tags'] } : {}),
    properties: { provisioningState: 'Succeeded' },
  }
}

/**
 * A resource as ARM's generic list shows it. The name of a child type joins its parents' names,
 * as ARM does: a gallery version is `gallery/image/1.0.0`.
 */
function genericView(type: string, r: StoredResource): Record<string, unknown> {
  const b = r.body
  const id = String(b['id'] ?? r.id)
  const afterProvider = id.split('/').slice(7)
  const name = afterProvider.filter((_, i) => i % 2 === 1).join('/') || r.name
  const optional = ['tags', 'sku', 'kind', 'managedBy', 'identity', 'zones'] as const
  return {
    id,
    name,
    type,
    location: b['location'],
    ...Object.fromEntries(optional.filter((k) => b[k] !== undefined).map((k) => [k, b[k]])),
  }
}

/** The group's name as first written, from a resource's own id (the store lower-cases keys). */
function groupNameOf(r: StoredResource): string {
  const m = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\//i.exec(String(r.body['id'] ?? ''))
  return m?.[1] ?? (r.resourceGroup as string)
}

function subscriptionOf(r: StoredResource): string {
  const m = /^\/subscriptions\/([^/]+)\//i.exec(String(r.body['id'] ?? ''))
  return m?.[1] ?? r.subscriptionId
}
