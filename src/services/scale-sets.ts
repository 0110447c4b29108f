/**
 * Scale set use cases (docs/api.md § Scale set shape, § Validation, § Behaviour of every route):
 * create or update with Compute's merge and ETag
 * preconditions, validation against the catalog and the probe, model generations, the
 * orchestrator's state, delete, and the ARM views of sets and their instances.
 */
import { isDeepStrictEqual } from 'node:util'
import { canonicalEnums, SCALE_SET_ENUMS } from '../core/enums.js'
import { coerceScalars, SCALE_SET_SCALARS } from '../core/coerce.js'
import type { AppError } from '../errors.js'
import { Errors } from '../errors.js'
import type { ArmScaleSet } from '../core/scale-set/arm-model.js'
import { validateScaleSet } from '../core/scale-set/validate.js'
import { applyWriteDefaults, normalizeLocation, toScaleSetSpec } from '../core/scale-set/to-spec.js'
import { canonicalCase, isPlainObject } from '../core/scale-set/shape.js'
import { withScaleSetDefaults } from '../core/scale-set/defaults.js'
import type { ScaleSetState } from '../store/store.js'
import { modelVersion } from '../runtime/catalog.js'
import type { StoredResource } from '../store/control-store.js'
import {
  SCALE_SET_TYPE,
  keepExtensionSecrets,
  mergeArm,
  problemsError,
  scaleSetId,
  withoutReadOnly,
  withoutSecrets,
} from '../arm/arm.js'
import type { ServiceDeps } from './deps.js'
import { requireLinkedAccess, requireNames, requireTags } from './guards.js'
import type { Caller } from './guards.js'
import { capacityOf, checkInstanceQuota } from './quotas.js'
import { resolveNetwork } from './scale-set-network.js'
import { saveState, toFabricModel } from './scale-set-state.js'
import { gatherFacts } from './scale-set-facts.js'

import { SubnetAddresses } from '../runtime/subnet-addresses.js'

export type ScaleSetRef = Readonly<{ sub: string; rg: string; name: string }>

export type PutInput = Readonly<{
  ref: ScaleSetRef
  body: unknown
  apiVersion: string
  ifMatch?: string
  ifNoneMatch?: string
  /** PATCH: the set must exist. */
  patch?: boolean
  /** Who writes: a model may link only to subscriptions it may read (own one if absent). */
  caller?: Caller
}>

export type ScaleSetView = Record<string, unknown>

export async function putScaleSet(
  deps: ServiceDeps,
  input: PutInput,
): Promise<{ created: boolean; view: ScaleSetView; key: string }> {
  requireNames([
    ['subscription', input.ref.sub, 'subscriptionId'],
    ['resourceGroup', input.ref.rg, 'resourceGroupName'],
    ['scaleSet', input.ref.name, 'name'],
  ])
  const id = scaleSetId(input.ref.sub, input.ref.rg, input.ref.name)
  const key = id.toLowerCase()
  const existing = await deps.store.getResource(id)
  if (!existing && input.patch) throw notFound(input.ref)
  checkPreconditions(existing, input.ifMatch, input.ifNoneMatch)
  const { merged, facts, network } = await checkedModel(deps, input, existing, id)
  const now = deps.clock.nowMs()
  const model = applyWriteDefaults(merged, facts.facts.image?.os) as ArmScaleSet &
    Record<string, unknown>
  const state = await deps.store.getScaleSet(key)
  const generation = modelGeneration(existing, state, model)
  const body = {
    ...model,
    id: (existing?.body['id'] as string | undefined) ?? id,
    properties: {
      ...model.properties,
      uniqueId:
        (existing?.body['properties'] as Record<string, unknown> | undefined)?.['uniqueId'] ??
        deps.ids(),
      timeCreated:
        (existing?.body['properties'] as Record<string, unknown> | undefined)?.['timeCreated'] ??
        new Date(now).toISOString(),
    },
  }
  // Read-back equals write (docs/api.md § What a GET returns): a PUT of what a GET answered
  // changes nothing — no new etag, revision, model generation or rollout.
  if (existing && unchanged(existing.body, body))
    return { created: false, view: await scaleSetView(deps, existing), key }
  const resource: StoredResource = {
    id,
    type: SCALE_SET_TYPE,
    subscriptionId: input.ref.sub,
    resourceGroup: input.ref.rg,
    name: existing?.name ?? input.ref.name,
    body,
    etag: `W/"${deps.ids()}"`,
    createdAtMs: existing?.createdAtMs ?? now,
    updatedAtMs: now,
  }
  await deps.store.putResource(resource, existing ? existing.etag : null)
  const spec = toScaleSetSpec({ key, name: resource.name, model, modelGeneration: generation })
  await saveState(
    deps,
    key,
    spec,
    toFabricModel(key, resource.name, model, generation, facts.healthCheck, network),
    now,
  )
  deps.notify(key)
  const view = await scaleSetView(deps, resource, existing ? 'Updating' : 'Creating')
  return { created: !existing, view, key }
}

/** The model generation of a write: the same while the VM profile is, else the next one. */
function modelGeneration(
  existing: StoredResource | undefined,
  state: ScaleSetState | undefined,
  model: ArmScaleSet,
): number {
  const sameProfile =
    existing &&
    JSON.stringify(
      existing.body['properties'] &&
        (existing.body['properties'] as Record<string, unknown>)['virtualMachineProfile'],
    ) === JSON.stringify(model.properties?.virtualMachineProfile)
  return state ? (sameProfile ? state.spec.modelGeneration : state.spec.modelGeneration + 1) : 1
}

/**
 * The model a PUT or PATCH would store, checked: the body merged onto the stored model (secrets
 * kept), its links, location, every validation problem, its network and the instance quota.
 */
async function checkedModel(
  deps: ServiceDeps,
  input: PutInput,
  existing: StoredResource | undefined,
  id: string,
) {
  if (!isPlainObject(input.body))
    throw Errors.InvalidRequestContent('The request body must be a JSON object.')
  const sent = withoutReadOnly(
    coerceScalars(
      canonicalEnums(canonicalCase(input.body), SCALE_SET_ENUMS),
      SCALE_SET_SCALARS,
    ) as Record<string, unknown>,
  )
  requireTags(sent)
  const merged = (
    existing ? keepExtensionSecrets(existing.body, mergeArm(existing.body, sent)) : sent
  ) as ArmScaleSet
  requireLinkedAccess(merged, {
    own: input.ref.sub,
    caller: input.caller,
    action: `${SCALE_SET_TYPE}/write`,
    scope: id,
  })
  if (
    existing &&
    typeof sent['location'] === 'string' &&
    normalizeLocation(sent['location']) !== normalizeLocation(String(existing.body['location']))
  ) {
    throw Errors.OperationNotAllowed(`Changing property 'location' is not allowed.`, 'location')
  }
  const facts = await gatherFacts(deps, merged, input.apiVersion, id)
  const problems = validateScaleSet(merged, facts.facts)
  if (problems.length > 0) throw problemsError(problems)
  if (facts.imageProblem) throw facts.imageProblem
  const network = await resolveNetwork(deps, merged, id)
  await checkInstanceQuota(deps, {
    sub: input.ref.sub,
    id,
    capacity: merged.sku?.capacity ?? 0,
    previous: capacityOf(existing?.body),
  })
  return { merged, facts, network }
}

export async function getScaleSet(deps: ServiceDeps, ref: ScaleSetRef): Promise<ScaleSetView> {
  const r = await deps.store.getResource(scaleSetId(ref.sub, ref.rg, ref.name))
  if (!r) throw notFound(ref)
  return scaleSetView(deps, r)
}

export async function listScaleSets(
  deps: ServiceDeps,
  sub: string,
  rg?: string,
): Promise<ScaleSetView[]> {
  const rows = await deps.store.listResources({
    type: SCALE_SET_TYPE,
    subscriptionId: sub,
    ...(rg ? { resourceGroup: rg } : {}),
  })
  return Promise.all(rows.map((r) => scaleSetView(deps, r)))
}

/** Deletes the set, its instances (fabric), its state and its resource. */
export async function deleteScaleSet(deps: ServiceDeps, ref: ScaleSetRef): Promise<boolean> {
  const id = scaleSetId(ref.sub, ref.rg, ref.name)
  const key = id.toLowerCase()
  const existing = await deps.store.getResource(id)
  if (!existing) return false
  const views = await deps.fabric.listInstances(key)
  await deps.store.deleteResource(id)
  await deps.store.deleteScaleSet(key)
  await deps.fabric.deleteInstances(
    key,
    views.map((v) => v.instanceId),
  )
  await new SubnetAddresses(deps.store).release(key) // its subnets' addresses are free again
  return true
}

/** The stored resource of a set, or a 404 naming it. */
export async function requireScaleSet(
  deps: ServiceDeps,
  ref: ScaleSetRef,
): Promise<{ resource: StoredResource; state: ScaleSetState }> {
  const id = scaleSetId(ref.sub, ref.rg, ref.name)
  const resource = await deps.store.getResource(id)
  const state = await deps.store.getScaleSet(id.toLowerCase())
  if (!resource || !state) throw notFound(ref)
  return { resource, state }
}

export function notFound(ref: ScaleSetRef): AppError {
  return Errors.ResourceNotFound(
    `The Resource 'Microsoft.Compute/virtualMachineScaleSets/${ref.name}' under resource group '${ref.rg}' was not found.`,
  )
}

/**
 * The scale set as ARM shows it. `written`: the answer to the PUT or PATCH that just wrote it,
 * never `Succeeded` (the write is still to be rolled out): Azure answers `Creating` or `Updating`.
 */
async function scaleSetView(
  deps: ServiceDeps,
  r: StoredResource,
  written?: 'Creating' | 'Updating',
): Promise<ScaleSetView> {
  const body = withoutSecrets(r.body as Record<string, unknown>)
  const key = r.id.toLowerCase()
  const state = await deps.store.getScaleSet(key)
  // What the orchestrator last observed, so that a GET costs the same for 10 or 10,000
  // instances; before its first pass, ask the fabric.
  const observed = state?.observed ?? (state ? await observeNow(deps, state) : undefined)
  const settled =
    observed !== undefined && observed.settled && observed.instanceCount === state?.spec.capacity
  const provisioningState = settled
    ? (written ?? 'Succeeded')
    : r.createdAtMs === r.updatedAtMs
      ? 'Creating'
      : 'Updating'
  // No `exactVersion` here: Azure shows it on instances, not on the set's model (issue 18 §4).
  const withDefaults = withScaleSetDefaults(body as ArmScaleSet & Record<string, unknown>)
  return {
    ...withDefaults,
    id: body['id'] ?? r.id,
    name: r.name,
    type: SCALE_SET_TYPE,
    etag: r.etag,
    properties: { ...withDefaults.properties, provisioningState },
  }
}

/** Whether writing `next` over `stored` would change the model, Azure's defaults aside. */
function unchanged(stored: Record<string, unknown>, next: Record<string, unknown>): boolean {
  return isDeepStrictEqual(
    withScaleSetDefaults(stored as ArmScaleSet),
    withScaleSetDefaults(next as ArmScaleSet),
  )
}

async function observeNow(
  deps: ServiceDeps,
  state: ScaleSetState,
): Promise<NonNullable<ScaleSetState['observed']>> {
  const views = await deps.fabric.listInstances(state.key)
  return {
    instanceCount: views.length,
    settled: views.every((v) => v.provisioning !== 'creating'),
    exactVersion: await modelVersion(deps.catalog, state),
  }
}

function checkPreconditions(
  existing: StoredResource | undefined,
  ifMatch?: string,
  ifNoneMatch?: string,
): void {
  if (ifNoneMatch === '*' && existing)
    throw Errors.PreconditionFailed('The resource exists and If-None-Match is *.')
  if (ifMatch !== undefined && ifMatch !== '*' && existing?.etag !== ifMatch) {
    throw Errors.PreconditionFailed(
      `The ETag '${ifMatch}' does not match the resource's current ETag.`,
    )
  }
  if (ifMatch === '*' && !existing)
    throw Errors.PreconditionFailed('The resource does not exist and If-Match is *.')
}
