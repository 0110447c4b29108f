/**
 * The normalised scale set the engine reads: ARM members translated once, with defaults applied
 * and durations in milliseconds (docs/rollouts.md R2 defaults: 20 / 20 / 20 / PT0S).
 */
import type { ImageReference } from '../image/image-ref.js'
import type { ServiceFabricNodeType } from './service-fabric.js'

export type UpgradeMode = 'Automatic' | 'Manual' | 'Rolling'
export type HealthSource = 'probe' | 'extension' | 'none'

/** `rollingUpgradePolicy` with defaults applied; percentages are integers 0–100. */
export type RollingPolicy = Readonly<{
  batchPercentMax: number
  unhealthyPercentMax: number
  unhealthyUpgradedPercentMax: number
  pauseBetweenBatchesMs: number
  crossZone: boolean
  prioritizeUnhealthy: boolean
  rollbackFailedOnPolicyBreach: boolean
  maxSurge: boolean
}>

export type AutomaticOSUpgradePolicy = Readonly<{
  enabled: boolean
  disableAutomaticRollback: boolean
  useRollingUpgradePolicy: boolean
  deferral: boolean
}>

export type ScaleSetSpec = Readonly<{
  /** Lower-cased ARM id: the key of every per-set structure. */
  key: string
  name: string
  location: string
  zones: readonly string[]
  capacity: number
  orchestrationMode: 'Uniform' | 'Flexible'
  mode: UpgradeMode
  /** The rolling policy as written, defaults filled in. */
  rolling: RollingPolicy
  /** Whether the client set `rollingUpgradePolicy` at all (docs/rollouts.md R2). */
  rollingPolicySet: boolean
  automaticOS: AutomaticOSUpgradePolicy
  image: ImageReference
  /** Bumped by every change to `virtualMachineProfile`. */
  modelGeneration: number
  serviceFabric: boolean
  /** The cluster node type the Service Fabric extension names, when it names a cluster id. */
  serviceFabricNodeType?: ServiceFabricNodeType | null
  healthSource: HealthSource
  platformFaultDomainCount: number
  extensionsTimeBudgetMs: number
}>

export const DEFAULT_ROLLING_POLICY: RollingPolicy = {
  batchPercentMax: 20,
  unhealthyPercentMax: 20,
  unhealthyUpgradedPercentMax: 20,
  pauseBetweenBatchesMs: 0,
  crossZone: false,
  prioritizeUnhealthy: false,
  rollbackFailedOnPolicyBreach: false,
  maxSurge: false,
}

export const DEFAULT_AUTOMATIC_OS_POLICY: AutomaticOSUpgradePolicy = {
  enabled: false,
  disableAutomaticRollback: false,
  useRollingUpgradePolicy: false,
  deferral: false,
}

/** Azure's default `extensionsTimeBudget`, PT1H30M. */
export const DEFAULT_EXTENSIONS_TIME_BUDGET_MS = 90 * 60_000
