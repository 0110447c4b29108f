/**
 * The policy in force for one rollout (docs/rollouts.md R2): the thresholds come from
 * `rollingUpgradePolicy` when automatic OS upgrades opt into it (`useRollingUpgradePolicy`) or
 * when a manual/model rollout runs on a set that has one; otherwise from the defaults.
 */
import type { RollingPolicy, ScaleSetSpec } from './spec.js'
import { DEFAULT_ROLLING_POLICY } from './spec.js'

export type RolloutTrigger = 'Platform' | 'User'
export type RolloutKind = 'OSImage' | 'Model'

/**
 * Picks the thresholds a new rollout uses; they are frozen into the rollout when it starts.
 * @example a Platform OS rollout on a set with `useRollingUpgradePolicy: false` and
 *   `maxBatchInstancePercent: 50` batches at the default 20%, not 50%.
 */
export function policyInForce(
  spec: ScaleSetSpec,
  kind: RolloutKind,
  startedBy: RolloutTrigger,
): RollingPolicy {
  const useSetPolicy =
    kind === 'OSImage' && startedBy === 'Platform'
      ? spec.automaticOS.useRollingUpgradePolicy
      : spec.rollingPolicySet
  if (!useSetPolicy) return { ...DEFAULT_ROLLING_POLICY, maxSurge: false }
  // maxSurge is Uniform-only (docs/api.md § Validation): a Flexible set never surges.
  return {
    ...spec.rolling,
    maxSurge: spec.rolling.maxSurge && spec.orchestrationMode === 'Uniform',
  }
}

/**
 * Whether failed instances are restored to their previous OS disk. Off for manual triggers
 * (the seed is explicit), with `disableAutomaticRollback`, and for model rollouts (an in-place
 * model update has no previous disk to return to; Azure does not roll those back either).
 * @example rollbackEnabled(spec, 'OSImage', 'User') === false
 */
export function rollbackEnabled(
  spec: ScaleSetSpec,
  kind: RolloutKind,
  startedBy: RolloutTrigger,
): boolean {
  if (kind !== 'OSImage' || startedBy === 'User') return false
  return !spec.automaticOS.disableAutomaticRollback
}
