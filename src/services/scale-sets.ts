/**
 * Scale set use cases (docs/api.md § Scale set shape, § Validation, § Behaviour of every route):
 * create or update with Compute's merge and ETag
 * preconditions, validation against the catalog and the probe, model generations, the
 * orchestrator's state, delete, and the ARM views of sets and their instances.
 */
import { isDeepStrictEqual } from 'node:util'
import { canonicalEnums, SCALE_SET_ENUMS } from '../core/enums.js'
import { coerceScalars, SCALE_SET_SCALARS } from '../core/coerce.js'
import { AppError, Errors } from '../errors.js'
import type { ArmDataDisk, ArmExtension, ArmScaleSet } from '../core/scale-set/arm-model.js'
import { vmShapeOf } from '../core/scale-set/vm-sizes.js'
import { isApplicationHealthExtension } from '../core/scale-set/arm-model.js'
import { validateScaleSet, extensionsOf } from '../core/scale-set/validate.js'
import { nodeTypeDurability, serviceFabricNodeTypeOf } from '../core/scale-set/service-fabric.js'
import { releaseByModel } from '../core/rollout/recovery.js'
import type { ValidationFacts } from '../core/scale-set/validate.js'
import { applyWriteDefaults, normalizeLocation, toScaleSetSpec } from '../core/scale-set/to-spec.js'
import { fromArmImageReference, isPinned } from '../core/image/image-ref.js'
import type { ImageReference } from '../core/image/image-ref.js'
import { canonicalCase, isPlainObject } from '../core/scale-set/shape.js'
import { withScaleSetDefaults } from '../core/scale-set/defaults.js'
import { parseDurationMs } from '../core/duration.js'
import type { ScaleSetSpec } from '../core/scale-set/spec.js'
import { DEFAULT_EXTENSIONS_TIME_BUDGET_MS } from '../core/scale-set/spec.js'
import type { ExtensionModel, FabricModel, HealthCheck } from '../fabrics/types/fabric.js'
import type { ScaleSetState } from '../store/store.js'
import { modelVersion } from '../runtime/catalog.js'
import type { StoredResource } from '../store/control-store.js'
import {
  SCALE_SET_TYPE,
  keepExtensionSecrets,
  loadBalancerId,
  mergeArm,
  parseProbeId,
  problemsError,
  scaleSetId,
  withoutReadOnly,
  withoutSecrets,
} from '../arm/arm.js'
import type { ServiceDeps } from './deps.js'
import { backendPoolFacts } from './load-balancers.js'
import { problem } from '../core/problem.js'
import { requireLinkedAccess, requireNames, requireTags } from './guards.js'
import type { Caller } from './guards.js'
import { capacityOf, checkInstanceQuota } from './quotas.js'
import { resolveNetwork } from './scale-set-network.js'
import { carriedFields } from './set-fields.js'
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
  const now = deps.clock.nowMs()
  const model = applyWriteDefaults(merged, facts.facts.image?.os) as ArmScaleSet &
    Record<string, unknown>
  const state = await deps.store.getScaleSet(key)
  const sameProfile =
    existing &&
    JSON.stringify(
      existing.body['properties'] &&
        (existing.body['properties'] as Record<string, unknown>)['virtualMachineProfile'],
    ) === JSON.stringify(model.properties?.virtualMachineProfile)
  const generation = state
    ? sameProfile
      ? state.spec.modelGeneration
      : state.spec.modelGeneration + 1
    : 1
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

type Facts = {
  facts: ValidationFacts
  imageProblem: AppError | null
  healthCheck: HealthCheck | null
}

async function gatherFacts(
  deps: ServiceDeps,
  model: ArmScaleSet,
  apiVersion: string,
  scaleSetId: string,
): Promise<Facts> {
  const location = normalizeLocation(typeof model.location === 'string' ? model.location : '')
  const facts: { -readonly [K in keyof ValidationFacts]: ValidationFacts[K] } = {
    apiVersion,
    fabricName: deps.fabric.name,
    extensionHandlers: deps.fabric.extensionHandlers,
    scaleSetId,
    backendPools: await backendPoolFacts(deps, model, location),
  }
  let imageProblem: AppError | null = null
  let healthCheck: HealthCheck | null = null
  const healthExt = extensionsOf(model).find(isApplicationHealthExtension)
  if (healthExt) healthCheck = extensionCheck(healthExt)
  const armRef = model.properties?.virtualMachineProfile?.storageProfile?.imageReference
  const ref = armRef ? fromArmImageReference(armRef) : undefined
  // Validation reports a location of the wrong type; here (above) it must only not throw (a 500
  // the fuzzer found).
  if (!armRef) {
    imageProblem = problemsError([
      problem(
        'properties.virtualMachineProfile.storageProfile.imageReference',
        'The scale set model needs storageProfile.imageReference.',
      ),
    ])
  } else if (ref) {
    imageProblem = await checkImage(deps, ref, location, facts)
  }
  const probeId = model.properties?.virtualMachineProfile?.networkProfile?.healthProbe?.id
  const probe = probeId ? parseProbeId(probeId) : undefined
  if (probe) {
    const lb = await deps.store.getResource(loadBalancerId(probe.sub, probe.rg, probe.lb))
    const probes = (lb?.body['properties'] as { probes?: LbProbe[] } | undefined)?.probes ?? []
    const found = probes.find((p) => p.name?.toLowerCase() === probe.probe.toLowerCase())
    const exists = found !== undefined
    if (found?.properties) healthCheck = probeCheck(found.properties)
    facts.probe = {
      exists,
      loadBalancerSku: String((lb?.body['sku'] as { name?: string } | undefined)?.name ?? 'Basic'),
    }
  }
  const nodeType = serviceFabricNodeTypeOf(model)
  // Only a Service Fabric cluster's id is looked up (it was any resource id: issue 15).
  if (nodeType) {
    const cluster = await deps.store.getResource(nodeType.clusterId)
    const durability = nodeTypeDurability(cluster?.body, nodeType.nodeTypeRef)
    if (durability !== null) facts.serviceFabricNodeTypeDurability = durability
  }
  return { facts, imageProblem, healthCheck }
}

async function checkImage(
  deps: ServiceDeps,
  ref: ImageReference,
  location: string,
  facts: { image?: ValidationFacts['image'] },
): Promise<AppError | null> {
  const target = 'properties.virtualMachineProfile.storageProfile.imageReference'
  if (ref.kind === 'gallery') {
    const galleries = deps.catalog.galleries
    const os = await galleries.osType(ref.definitionId)
    const found = !os
      ? false
      : isPinned(ref)
        ? (await galleries.version(ref.definitionId, ref.version)) !== undefined
        : (await galleries.latestEligible(ref.definitionId, location)) !== null
    if (!found || !os) {
      const what = isPinned(ref) ? `${ref.definitionId}/versions/${ref.version}` : ref.definitionId
      return Errors.GalleryImageNotFound(
        `The gallery image '${what}' is not available in location '${location}' (no such image, or no version replicated there and included in latest).`,
        target,
      )
    }
    facts.image = { os, automaticOSUpgradeSupported: true }
    return null
  }
  if (ref.kind === 'custom') {
    return Errors.InvalidParameter(
      `Image '${ref.id}' is not supported: osroll boots platform images (publisher, offer, sku, version) and Azure Compute Gallery images (an id '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/galleries/{gallery}/images/{image}', optionally '/versions/{version}'); managed images, VHDs and shared or community gallery ids are not.`,
      target,
    )
  }
  const key = { location, publisher: ref.publisher, offer: ref.offer, sku: ref.sku }
  const versions = await deps.catalog.list(key)
  const wanted = isPinned(ref)
    ? versions.find((v) => v.version === ref.version)
    : versions[versions.length - 1]
  if (!wanted) {
    return Errors.PlatformImageNotFound(
      `The platform image '${ref.publisher}:${ref.offer}:${ref.sku}:${ref.version}' is not available. Verify that all fields in the storage profile are correct. For more details about storage profile information, please refer to https://aka.ms/storageprofile`,
      target,
    )
  }
  facts.image = {
    os: wanted.operatingSystem,
    automaticOSUpgradeSupported: wanted.automaticOSUpgradeSupported,
  }
  return null
}

async function saveState(
  deps: ServiceDeps,
  key: string,
  spec: ScaleSetSpec,
  fabricModel: FabricModel,
  now: number,
): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const current = await deps.store.getScaleSet(key)
    const enabling = spec.automaticOS.enabled && !(current?.spec.automaticOS.enabled ?? false)
    const next: ScaleSetState = {
      key,
      spec,
      fabricModel,
      autoEnabledAtMs: enabling ? now : (current?.autoEnabledAtMs ?? now),
      // The seed's 0–3 h first-rollout delay is one time per scale set: switching automatic
      // upgrades off and on again does not bring it back (issue 18, gap 5).
      firstSinceEnable: current?.firstSinceEnable ?? true,
      nextInstanceId: current?.nextInstanceId ?? 0,
      // The seed's recovery path: fix the cause (an expired SAS token, say), then re-enable
      // automatic upgrades. Switching them on again releases the versions that faulted for one
      // new automatic attempt each, without the retry delay; otherwise a faulted version is
      // never retried automatically (docs/rollouts.md R1.3, issue 18 gap 4).
      // A new model that changes the extension whose failure faulted a version releases it the
      // same way (docs/rollouts.md R1.3, issue 18 gap 4).
      ...(enabling
        ? { faultedVersions: [], lastPlatformRollout: null, faultCauses: [] }
        : releaseByModel(
            {
              faultedVersions: current?.faultedVersions ?? [],
              lastPlatformRollout: current?.lastPlatformRollout ?? null,
              faultCauses: current?.faultCauses ?? [],
            },
            current !== undefined &&
              current.fabricModel.modelGeneration !== fabricModel.modelGeneration
              ? fabricModel.extensions
              : null,
          )),
      // The quarantine's records (docs/rollouts.md § Quarantine and roll forward), joined on
      // read with the faulted versions kept above; enabling releases them all.
      ...(current?.quarantine && !enabling ? { quarantine: current.quarantine } : {}),
      ...(current?.observed ? { observed: current.observed } : {}),
      // osroll's own per-set state lives beside the model: a set PUT keeps it all (set-fields.ts).
      ...carriedFields(current),
      cancelRequestedAtMs: current?.cancelRequestedAtMs ?? null,
      revision: current?.revision ?? 0,
    }
    try {
      await deps.store.putScaleSet(next, current ? current.revision : null)
      return
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'RevisionConflict')) throw err
    }
  }
  throw Errors.Conflict(`Scale set ${key} is being changed by another writer; try again.`)
}

/** What a fabric needs of the ARM model (one mapper, STYLE R14). */
export function toFabricModel(
  key: string,
  name: string,
  model: ArmScaleSet,
  generation: number,
  healthCheck: HealthCheck | null = null,
  network: FabricModel['network'] = null,
): FabricModel {
  const vmp = model.properties?.virtualMachineProfile ?? {}
  const extensions: ExtensionModel[] = extensionsOf(model).map((e) => ({
    name: String(e.name),
    publisher: String(e.properties?.publisher),
    type: String(e.properties?.type),
    typeHandlerVersion: String(e.properties?.typeHandlerVersion ?? '1.0'),
    settings: e.properties?.settings ?? {},
    protectedSettings: e.properties?.protectedSettings ?? {},
    provisionAfterExtensions: e.properties?.provisionAfterExtensions ?? [],
    suppressFailures: e.properties?.suppressFailures ?? false,
  }))
  const spec = toScaleSetSpec({ key, name, model, modelGeneration: generation })
  const budget = vmp.extensionProfile?.extensionsTimeBudget
  return {
    scaleSetKey: key,
    computerNamePrefix: vmp.osProfile?.computerNamePrefix ?? name.slice(0, 9),
    modelGeneration: generation,
    customData: vmp.osProfile?.customData ?? null,
    dataDiskLuns: (vmp.storageProfile?.dataDisks ?? []).map((d) => Number(d.lun)),
    ...dataDiskSizes(vmp.storageProfile?.dataDisks ?? []),
    ...sizeOf(model),
    extensions,
    healthSource: spec.healthSource,
    healthCheck,
    extensionsTimeBudgetMs: budget
      ? (parseDurationMs(budget) ?? DEFAULT_EXTENSIONS_TIME_BUDGET_MS)
      : DEFAULT_EXTENSIONS_TIME_BUDGET_MS,
    ...(network ? { network } : {}),
  }
}

/** The model's VM size, when it names one (docs/api.md § VM sizes). */
function sizeOf(model: ArmScaleSet): Pick<FabricModel, 'vmSize'> {
  const shape = vmShapeOf(model)
  return shape ? { vmSize: shape } : {}
}

/** `diskSizeGB` by lun, for the disks that give one; nothing when none does. */
function dataDiskSizes(disks: readonly ArmDataDisk[]): Pick<FabricModel, 'dataDiskSizesGB'> {
  const sized = disks.flatMap((d) =>
    typeof d.diskSizeGB === 'number' ? [[String(d.lun), d.diskSizeGB] as const] : [],
  )
  return sized.length > 0 ? { dataDiskSizesGB: Object.fromEntries(sized) } : {}
}

type LbProbe = { name?: string; properties?: Record<string, unknown> }

/** A load-balancer probe as a health check: binary, flips after `probeThreshold` results. */
function probeCheck(p: Record<string, unknown>): HealthCheck {
  return {
    protocol: String(p['protocol'] ?? 'Tcp').toLowerCase() as HealthCheck['protocol'],
    port: Number(p['port']),
    requestPath: String(p['requestPath'] ?? '/'),
    intervalMs: Number(p['intervalInSeconds'] ?? 15) * 1000,
    threshold: Number(p['probeThreshold'] ?? 1),
    mode: 'binary',
    gracePeriodMs: 0,
  }
}

/**
 * The Application Health extension as a health check (docs/rollouts.md R5): 1.x is binary, 2.x
 * rich;
 * defaults interval 5 s, 1 probe, grace period = interval × probes.
 */
function extensionCheck(ext: ArmExtension): HealthCheck {
  const s = ext.properties?.settings ?? {}
  const intervalS = Number(s['intervalInSeconds'] ?? 5)
  const probes = Number(s['numberOfProbes'] ?? 1)
  const major = Number(String(ext.properties?.typeHandlerVersion ?? '1.0').split('.')[0])
  return {
    protocol: String(s['protocol'] ?? 'http').toLowerCase() as HealthCheck['protocol'],
    port: Number(s['port']),
    requestPath: String(s['requestPath'] ?? '/'),
    intervalMs: intervalS * 1000,
    threshold: probes,
    mode: major >= 2 ? 'rich' : 'binary',
    gracePeriodMs: Number(s['gracePeriod'] ?? intervalS * probes) * 1000,
  }
}
