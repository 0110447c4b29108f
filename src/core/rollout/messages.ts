/**
 * Azure's rollout error codes and messages (docs/rollouts.md R3, R7), built in one place so that
 * the
 * text users paste into search engines stays verbatim.
 */
import { formatDurationMs } from '../duration.js'
import { durabilityMismatchMessage } from '../scale-set/service-fabric.js'
import type { FailureReason, RolloutError } from './types.js'

export const CODES = {
  beforeRollingUpgrade: 'MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade',
  inRollingUpgrade: 'MaxUnhealthyInstancePercentExceededInRollingUpgrade',
  upgradedUnhealthy: 'MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade',
  /** The code validation answers a durability mismatch with (docs/api.md § Validation). */
  durabilityMismatch: 'OperationNotAllowed',
} as const

/**
 * A Service Fabric set whose extension's durability no longer matches its cluster's node type
 * (docs/rollouts.md R3.4): the same code and message validation gives on write.
 * @example durabilityMismatch('nt1', 'Silver', 'Gold').message starts with
 *   'Durability Mismatch Detected for NodeType nt1.'
 */
export function durabilityMismatch(
  nodeTypeRef: string,
  setDurability: string,
  clusterDurability: string,
): RolloutError {
  return {
    code: CODES.durabilityMismatch,
    message: durabilityMismatchMessage(nodeTypeRef, setDurability, clusterDurability),
  }
}

/**
 * The pre-check failure (§4.3): before the first batch, or before a later one.
 * @example unhealthyBeforeBatch(true, 30, 20).code === 'MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade'
 */
export function unhealthyBeforeBatch(
  first: boolean,
  percent: number,
  threshold: number,
): RolloutError {
  if (first) {
    return {
      code: CODES.beforeRollingUpgrade,
      message: `Rolling Upgrade failed due to exceeding the MaxUnhealthyInstancePercent value (defined in the RollingUpgradePolicy) before any batch was attempted. ${percent}% of instances are in an unhealthy state - more than the threshold of ${threshold}%.`,
    }
  }
  return {
    code: CODES.inRollingUpgrade,
    message: `Rolling Upgrade failed after exceeding the MaxUnhealthyInstancePercent value defined in the RollingUpgradePolicy. ${percent}% of instances are in an unhealthy state - more than the threshold of ${threshold}%.`,
  }
}

/**
 * The after-batch failure (§4.5), Azure's message verbatim.
 * @example upgradedUnhealthy(50, 20, 'HealthDeadlineExceeded: …', '0').message starts with
 *   'Rolling Upgrade failed after exceeding the MaxUnhealthyUpgradedInstancePercent value'
 */
export function upgradedUnhealthy(
  percent: number,
  threshold: number,
  reason: string,
  firstInstanceId: string,
): RolloutError {
  reason = reason.replace(/\.+$/, '')
  return {
    code: CODES.upgradedUnhealthy,
    message: `Rolling Upgrade failed after exceeding the MaxUnhealthyUpgradedInstancePercent value defined in the RollingUpgradePolicy. ${percent}% of instances are in an unhealthy state after being upgraded - more than the threshold of ${threshold}%. The most impactful error is: ${reason}. First failed instance ID is: ${firstInstanceId}.`,
  }
}

/** The per-instance failure text recorded on an attempt. */
export function failureMessage(
  reason: FailureReason,
  instanceId: string,
  deadlineMs: number,
  detail: string | null,
): string {
  switch (reason) {
    case 'HealthDeadlineExceeded':
      return `Instance ${instanceId} did not become healthy within ${formatDurationMs(deadlineMs)} of starting on the new OS disk.`
    case 'ProvisioningFailed':
      return detail ?? `Provisioning of instance ${instanceId} failed.`
    case 'ReimageFailed':
      return `Reimage of instance ${instanceId} failed: ${detail ?? 'unknown error'}`
    case 'InstanceStopped':
      return `Instance ${instanceId} stopped while being upgraded.`
    case 'UnstableHealth':
      return `Instance ${instanceId} became healthy on the new OS disk, then unhealthy before its minHealthyTime ${detail ?? ''} had passed.`
    case 'GateFailed':
      return detail ?? `Instance ${instanceId} failed a health gate.`
    case 'PostHealthyHookFailed':
      return `The post-healthy hook failed instance ${instanceId}: ${detail ?? 'no reason given'}`
    case 'ProgressDeadlineExceeded':
      return `Instance ${instanceId} had not counted as upgraded when the rollout's progressDeadline ${detail ?? ''} passed with no instance counted; the rollout stopped.`
  }
}
