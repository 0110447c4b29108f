/**
 * Azure's resource providers read a JSON string where they expect a boolean or an integer
 * (`"singlePlacementGroup": "false"`, `"capacity": "3"`; ARM templates often send them so) and
 * answer with the real type. osroll converts those members before validating, so a body is
 * validated, stored and returned with one JSON type per member. Only an exact spelling converts;
 * anything else (`"maybe"`, `"2.5"`, `" 3"`) is left as sent, for validation to refuse.
 */
import { rewriteAt } from './enums.js'

/** The JSON type a member is read as. */
export type ScalarType = 'boolean' | 'integer'

/**
 * A member path (`a.b[].c`; `[]` walks every array item, names match without case) and its type.
 */
export type ScalarRule = readonly [path: string, type: ScalarType]

/**
 * `value` as a `type` when it is a string spelling one exactly; else `value`. Booleans are
 * `true`/`false` in any case; integers are decimal digits with an optional sign, within the
 * safe integer range.
 * @example coerceScalar('False', 'boolean') → false; coerceScalar('-20', 'integer') → -20;
 *   coerceScalar('2.5', 'integer') → '2.5'
 */
export function coerceScalar(value: unknown, type: ScalarType): unknown {
  if (typeof value !== 'string') return value
  if (type === 'boolean') {
    const lower = value.toLowerCase()
    return lower === 'true' ? true : lower === 'false' ? false : value
  }
  if (!/^[+-]?\d+$/.test(value)) return value
  const n = Number(value)
  return Number.isSafeInteger(n) ? n : value
}

/**
 * `body` with the members named by `rules` in their JSON types; the body is copied, never changed.
 * @example coerceScalars({ sku: { capacity: '3' } }, [['sku.capacity', 'integer']])
 *   → { sku: { capacity: 3 } }
 */
export function coerceScalars(body: unknown, rules: readonly ScalarRule[]): unknown {
  return rules.reduce((b, [path, type]) => rewriteAt(b, path, (v) => coerceScalar(v, type)), body)
}

const VMP = 'properties.virtualMachineProfile'
const ROLLING = 'properties.upgradePolicy.rollingUpgradePolicy'
const AUTOMATIC_OS = 'properties.upgradePolicy.automaticOSUpgradePolicy'

/** Boolean and integer members of a scale set body (Microsoft.Compute/virtualMachineScaleSets). */
export const SCALE_SET_SCALARS: readonly ScalarRule[] = [
  ['sku.capacity', 'integer'],
  ['properties.singlePlacementGroup', 'boolean'],
  ['properties.overprovision', 'boolean'],
  ['properties.doNotRunExtensionsOnOverprovisionedVMs', 'boolean'],
  ['properties.platformFaultDomainCount', 'integer'],
  ['properties.zoneBalance', 'boolean'],
  [`${ROLLING}.maxBatchInstancePercent`, 'integer'],
  [`${ROLLING}.maxUnhealthyInstancePercent`, 'integer'],
  [`${ROLLING}.maxUnhealthyUpgradedInstancePercent`, 'integer'],
  [`${ROLLING}.enableCrossZoneUpgrade`, 'boolean'],
  [`${ROLLING}.prioritizeUnhealthyInstances`, 'boolean'],
  [`${ROLLING}.rollbackFailedInstancesOnPolicyBreach`, 'boolean'],
  [`${ROLLING}.maxSurge`, 'boolean'],
  [`${AUTOMATIC_OS}.enableAutomaticOSUpgrade`, 'boolean'],
  [`${AUTOMATIC_OS}.disableAutomaticRollback`, 'boolean'],
  [`${AUTOMATIC_OS}.useRollingUpgradePolicy`, 'boolean'],
  [`${AUTOMATIC_OS}.osRollingUpgradeDeferral`, 'boolean'],
  [`${VMP}.osProfile.windowsConfiguration.enableAutomaticUpdates`, 'boolean'],
  [`${VMP}.storageProfile.osDisk.diskSizeGB`, 'integer'],
  [`${VMP}.storageProfile.dataDisks[].lun`, 'integer'],
  [`${VMP}.storageProfile.dataDisks[].diskSizeGB`, 'integer'],
  [`${VMP}.extensionProfile.extensions[].properties.autoUpgradeMinorVersion`, 'boolean'],
  [`${VMP}.extensionProfile.extensions[].properties.enableAutomaticUpgrade`, 'boolean'],
  [`${VMP}.extensionProfile.extensions[].properties.suppressFailures`, 'boolean'],
]

/** Integer members of a load balancer body (Microsoft.Network/loadBalancers). */
export const LOAD_BALANCER_SCALARS: readonly ScalarRule[] = [
  ['properties.probes[].properties.port', 'integer'],
  ['properties.probes[].properties.intervalInSeconds', 'integer'],
  ['properties.probes[].properties.numberOfProbes', 'integer'],
  ['properties.probes[].properties.probeThreshold', 'integer'],
]
