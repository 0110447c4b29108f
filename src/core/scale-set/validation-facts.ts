/**
 * What scale set validation decides on (the facts the service looks up), what it says (Azure's
 * messages, word for word) and where (the model's paths), and the readers of the model that its
 * checks and to-spec.ts share.
 */
import type { ArmExtension, ArmScaleSet } from './arm-model.js'
import { isApplicationHealthExtension, isServiceFabricExtension } from './arm-model.js'

export type ValidationFacts = Readonly<{
  /** The request's `api-version`, e.g. `2024-07-01` (a `-preview` suffix is allowed). */
  apiVersion: string
  fabricName: string
  /** `publisher.type`, lower-cased, of every extension handler the fabric provides. */
  extensionHandlers: ReadonlySet<string>
  /** What the catalog knows of the referenced image; undefined when not looked up. */
  image?: Readonly<{ os: 'Windows' | 'Linux'; automaticOSUpgradeSupported: boolean }>
  /** The referenced probe, when `healthProbe.id` is well formed. */
  probe?: Readonly<{ exists: boolean; loadBalancerSku: string }>
  /** Durability of the Service Fabric node type the extension names, when found. */
  serviceFabricNodeTypeDurability?: string
  /** Per well-formed backend pool id (lower case): whether it exists in the set's region. */
  backendPools?: ReadonlyMap<string, boolean>
  /** The set's resource id, named by Azure's messages about what it references. */
  scaleSetId?: string
}>

export const MESSAGES = {
  notLatest:
    "virtualMachineScaleSets with Automatic OS Upgrade enabled must use Platform or Gallery Image with version set to 'latest'.",
  skuUnsupported:
    'Automatic OS Upgrade cannot be enabled on virtualMachineScaleSets configured with a Platform Image.',
  /** The seed: "Application health probes are not supported with Service Fabric scale sets." */
  serviceFabricProbe:
    'Application health probes are not supported for Service Fabric scale sets: remove properties.virtualMachineProfile.networkProfile.healthProbe (Service Fabric gates upgrades on its own health).',
  noHealthAuto:
    'Automatic OS Upgrade is not supported for this Virtual Machine Scale Set because a health probe or health extension was not specified.',
  noHealthRolling:
    'Rolling Upgrade mode is not supported for this Virtual Machine Scale Set because a health probe or health extension was not provided.',
  bothHealth:
    'Automatic OS Upgrade is not supported for this Virtual Machine Scale Set because both a health probe and a health extension were provided. Remove the health probe or health extension prior to enabling automatic OS upgrade.',
  windowsUpdates:
    'windowsConfiguration.enableAutomaticUpdates cannot be set to true if upgradePolicy.automaticOSUpgradePolicy.enableAutomaticOSUpgrade is already true, starting from APIversion 2019-03-01',
} as const

export const P_UPGRADE = 'properties.upgradePolicy'
export const P_AUTO = `${P_UPGRADE}.automaticOSUpgradePolicy`
export const P_ROLLING = `${P_UPGRADE}.rollingUpgradePolicy`
export const P_VMP = 'properties.virtualMachineProfile'
export const P_EXT = `${P_VMP}.extensionProfile.extensions`

/**
 * Service Fabric scale set: an extension of the SF publisher
 * (docs/api.md § Service Fabric clusters).
 */
export function serviceFabricExtension(model: ArmScaleSet): ArmExtension | undefined {
  return extensionsOf(model).find(isServiceFabricExtension)
}

/** The health source the model declares (probe and/or Application Health extension). */
export function healthSources(model: ArmScaleSet): { probe: boolean; extension: boolean } {
  const probeId = model.properties?.virtualMachineProfile?.networkProfile?.healthProbe?.id
  return {
    probe: typeof probeId === 'string' && probeId !== '',
    extension: extensionsOf(model).some(isApplicationHealthExtension),
  }
}

export function extensionsOf(model: ArmScaleSet): readonly ArmExtension[] {
  return model.properties?.virtualMachineProfile?.extensionProfile?.extensions ?? []
}

/** `YYYY-MM-DD[-preview]` ≥ `minimum`; dates compare as strings. */
export function apiVersionAtLeast(apiVersion: string, minimum: string): boolean {
  return apiVersion.slice(0, 10) >= minimum
}
