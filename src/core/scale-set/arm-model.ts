/**
 * The ARM shape of a scale set, as far as osroll models it (docs/api.md § Scale set shape). Members
 * not listed here
 * are stored and returned verbatim by the API; the ones listed are validated by `validate.ts`
 * and normalised into a `ScaleSetSpec` by `to-spec.ts`.
 */
import type { ArmImageReference } from '../image/image-ref.js'

export type ArmRollingUpgradePolicy = Readonly<{
  maxBatchInstancePercent?: number
  maxUnhealthyInstancePercent?: number
  maxUnhealthyUpgradedInstancePercent?: number
  pauseTimeBetweenBatches?: string
  enableCrossZoneUpgrade?: boolean
  prioritizeUnhealthyInstances?: boolean
  rollbackFailedInstancesOnPolicyBreach?: boolean
  maxSurge?: boolean
}>

export type ArmAutomaticOSUpgradePolicy = Readonly<{
  enableAutomaticOSUpgrade?: boolean
  disableAutomaticRollback?: boolean
  useRollingUpgradePolicy?: boolean
  osRollingUpgradeDeferral?: boolean
}>

export type ArmUpgradePolicy = Readonly<{
  mode?: 'Automatic' | 'Manual' | 'Rolling'
  rollingUpgradePolicy?: ArmRollingUpgradePolicy
  automaticOSUpgradePolicy?: ArmAutomaticOSUpgradePolicy
}>

export type ArmExtension = Readonly<{
  name?: string
  properties?: Readonly<{
    publisher?: string
    type?: string
    typeHandlerVersion?: string
    autoUpgradeMinorVersion?: boolean
    settings?: Readonly<Record<string, unknown>>
    protectedSettings?: Readonly<Record<string, unknown>>
    provisionAfterExtensions?: readonly string[]
    suppressFailures?: boolean
    forceUpdateTag?: string
    enableAutomaticUpgrade?: boolean
  }>
}>

export type ArmDataDisk = Readonly<{ lun?: number; diskSizeGB?: number; createOption?: string }>

export type ArmVirtualMachineProfile = Readonly<{
  osProfile?: Readonly<{
    computerNamePrefix?: string
    adminUsername?: string
    adminPassword?: string
    customData?: string
    windowsConfiguration?: Readonly<{
      enableAutomaticUpdates?: boolean
      patchSettings?: Readonly<{ patchMode?: string }>
    }>
    linuxConfiguration?: Readonly<Record<string, unknown>>
  }>
  storageProfile?: Readonly<{
    imageReference?: ArmImageReference
    osDisk?: Readonly<Record<string, unknown>>
    dataDisks?: readonly ArmDataDisk[]
  }>
  networkProfile?: Readonly<{
    healthProbe?: Readonly<{ id?: string }>
    networkInterfaceConfigurations?: readonly unknown[]
  }>
  extensionProfile?: Readonly<{
    extensionsTimeBudget?: string
    extensions?: readonly ArmExtension[]
  }>
}>

export type ArmScaleSet = Readonly<{
  location?: string
  tags?: Readonly<Record<string, string>>
  zones?: readonly string[]
  sku?: Readonly<{ name?: string; tier?: string; capacity?: number }>
  properties?: Readonly<{
    orchestrationMode?: 'Uniform' | 'Flexible'
    upgradePolicy?: ArmUpgradePolicy
    singlePlacementGroup?: boolean
    platformFaultDomainCount?: number
    virtualMachineProfile?: ArmVirtualMachineProfile
  }>
}>

export const APPLICATION_HEALTH_PUBLISHER = 'Microsoft.ManagedServices'
export const APPLICATION_HEALTH_TYPES = ['ApplicationHealthLinux', 'ApplicationHealthWindows']
export const SERVICE_FABRIC_PUBLISHER = 'Microsoft.Azure.ServiceFabric'
export const SERVICE_FABRIC_TYPES = ['ServiceFabricNode', 'ServiceFabricLinuxNode']

/** True when the extension is the Application Health extension (either OS). */
export function isApplicationHealthExtension(ext: ArmExtension): boolean {
  return matches(ext, APPLICATION_HEALTH_PUBLISHER, APPLICATION_HEALTH_TYPES)
}

/** True when the extension is the Service Fabric node extension (either OS). */
export function isServiceFabricExtension(ext: ArmExtension): boolean {
  return matches(ext, SERVICE_FABRIC_PUBLISHER, SERVICE_FABRIC_TYPES)
}

function matches(ext: ArmExtension, publisher: string, types: readonly string[]): boolean {
  const p = ext.properties
  if (!p || typeof p.publisher !== 'string' || typeof p.type !== 'string') return false
  const type = p.type.toLowerCase()
  return (
    p.publisher.toLowerCase() === publisher.toLowerCase() &&
    types.some((t) => t.toLowerCase() === type)
  )
}
