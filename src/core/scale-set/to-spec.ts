/**
 * ARM model → the engine's `ScaleSetSpec`, in one mapper (STYLE R14): ARM's names at the edge,
 * osroll's inside. Assumes `validateScaleSet` found no problem.
 */
import { parseDurationMs } from '../duration.js'
import { fromArmImageReference } from '../image/image-ref.js'
import type { ArmScaleSet } from './arm-model.js'
import type { HealthSource, ScaleSetSpec } from './spec.js'
import {
  DEFAULT_AUTOMATIC_OS_POLICY,
  DEFAULT_EXTENSIONS_TIME_BUDGET_MS,
  DEFAULT_ROLLING_POLICY,
} from './spec.js'
import { healthSources, serviceFabricExtension } from './validate.js'
import { serviceFabricNodeTypeOf } from './service-fabric.js'

/**
 * @example toScaleSetSpec({ key: '/subscriptions/s/…/web', name: 'web', modelGeneration: 1,
 *   model: { location: 'westus', sku: { capacity: 10 }, properties: { upgradePolicy: { mode: 'Rolling' } } } })
 *   → { mode: 'Rolling', capacity: 10, rolling: { batchPercentMax: 20, … }, … }
 */
export function toScaleSetSpec(o: {
  key: string
  name: string
  model: ArmScaleSet
  modelGeneration: number
}): ScaleSetSpec {
  const { model } = o
  const props = model.properties ?? {}
  const up = props.upgradePolicy ?? {}
  const rp = up.rollingUpgradePolicy
  const ap = up.automaticOSUpgradePolicy ?? {}
  const d = DEFAULT_ROLLING_POLICY
  const vmp = props.virtualMachineProfile ?? {}
  const ref = vmp.storageProfile?.imageReference
  const image = (ref && fromArmImageReference(ref)) ?? { kind: 'custom' as const, id: '' }
  const health = healthSources(model)
  const source: HealthSource = health.extension ? 'extension' : health.probe ? 'probe' : 'none'
  const budget = vmp.extensionProfile?.extensionsTimeBudget
  return {
    key: o.key.toLowerCase(),
    name: o.name,
    location: normalizeLocation(model.location ?? ''),
    zones: [...(model.zones ?? [])],
    capacity: model.sku?.capacity ?? 0,
    orchestrationMode: props.orchestrationMode ?? 'Uniform',
    mode: up.mode ?? 'Manual',
    rolling: {
      batchPercentMax: rp?.maxBatchInstancePercent ?? d.batchPercentMax,
      unhealthyPercentMax: rp?.maxUnhealthyInstancePercent ?? d.unhealthyPercentMax,
      unhealthyUpgradedPercentMax:
        rp?.maxUnhealthyUpgradedInstancePercent ?? d.unhealthyUpgradedPercentMax,
      pauseBetweenBatchesMs: parseDurationMs(rp?.pauseTimeBetweenBatches ?? 'PT0S') ?? 0,
      crossZone: rp?.enableCrossZoneUpgrade ?? d.crossZone,
      prioritizeUnhealthy: rp?.prioritizeUnhealthyInstances ?? d.prioritizeUnhealthy,
      rollbackFailedOnPolicyBreach:
        rp?.rollbackFailedInstancesOnPolicyBreach ?? d.rollbackFailedOnPolicyBreach,
      maxSurge: rp?.maxSurge ?? d.maxSurge,
    },
    rollingPolicySet: rp !== undefined,
    automaticOS: {
      enabled: ap.enableAutomaticOSUpgrade ?? DEFAULT_AUTOMATIC_OS_POLICY.enabled,
      disableAutomaticRollback: ap.disableAutomaticRollback ?? false,
      useRollingUpgradePolicy: ap.useRollingUpgradePolicy ?? false,
      deferral: ap.osRollingUpgradeDeferral ?? false,
    },
    image,
    modelGeneration: o.modelGeneration,
    serviceFabric: serviceFabricExtension(model) !== undefined,
    serviceFabricNodeType: serviceFabricNodeTypeOf(model),
    healthSource: source,
    platformFaultDomainCount:
      props.platformFaultDomainCount ?? ((model.zones ?? []).length > 0 ? 1 : 5),
    extensionsTimeBudgetMs: budget
      ? (parseDurationMs(budget) ?? DEFAULT_EXTENSIONS_TIME_BUDGET_MS)
      : DEFAULT_EXTENSIONS_TIME_BUDGET_MS,
  }
}

/**
 * Azure compares regions without case or spaces: 'West US' and 'westus' are the same region.
 * @example normalizeLocation('West US 2') === 'westus2'
 */
export function normalizeLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase()
}

/**
 * The defaults Azure fills in on write: with automatic OS upgrades on a Windows image,
 * `enableAutomaticUpdates` omitted becomes false (docs/api.md § Validation).
 */
export function applyWriteDefaults(
  model: ArmScaleSet,
  os: 'Windows' | 'Linux' | undefined,
): ArmScaleSet {
  const auto = model.properties?.upgradePolicy?.automaticOSUpgradePolicy?.enableAutomaticOSUpgrade
  const vmp = model.properties?.virtualMachineProfile
  const win = vmp?.osProfile?.windowsConfiguration
  if (auto !== true || os !== 'Windows' || win?.enableAutomaticUpdates !== undefined) return model
  return {
    ...model,
    properties: {
      ...model.properties,
      virtualMachineProfile: {
        ...vmp,
        osProfile: {
          ...vmp?.osProfile,
          windowsConfiguration: { ...win, enableAutomaticUpdates: false },
        },
      },
    },
  }
}
