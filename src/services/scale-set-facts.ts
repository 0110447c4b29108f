/**
 * What validating a scale set model needs looked up (core/scale-set/validate.ts' facts): the
 * probe and its load balancer, backend pools, the Service Fabric node type, the image in the
 * catalog, and the health check the fabric will run.
 */
import type { AppError } from '../errors.js'
import { Errors } from '../errors.js'
import type { ArmScaleSet } from '../core/scale-set/arm-model.js'
import { isApplicationHealthExtension } from '../core/scale-set/arm-model.js'
import { extensionsOf } from '../core/scale-set/validate.js'
import { nodeTypeDurability, serviceFabricNodeTypeOf } from '../core/scale-set/service-fabric.js'
import type { ValidationFacts } from '../core/scale-set/validate.js'
import { normalizeLocation } from '../core/scale-set/to-spec.js'
import { fromArmImageReference, isPinned } from '../core/image/image-ref.js'
import type { ImageReference } from '../core/image/image-ref.js'
import type { HealthCheck } from '../fabrics/types/fabric.js'
import { loadBalancerId, parseProbeId, problemsError } from '../arm/arm.js'
import type { ServiceDeps } from './deps.js'
import { backendPoolFacts } from './load-balancers.js'
import { problem } from '../core/problem.js'
import { extensionCheck, probeCheck } from './scale-set-state.js'

type LbProbe = { name?: string; properties?: Record<string, unknown> }

type Facts = {
  facts: ValidationFacts
  imageProblem: AppError | null
  healthCheck: HealthCheck | null
}

export async function gatherFacts(
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
