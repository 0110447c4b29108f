/**
 * A scale set's facts as a wave sees them (docs/rollouts.md § Waves across scale sets, W4–W5),
 * built from what the reconciler reads anyway: the set's spec, its observed instances, its
 * running rollout and its quarantined versions. Pure, so the runtime and the tests build the
 * same facts from the same state.
 */
import { compareVersions } from '../image/version.js'
import { imageLineKey, isLatest } from '../image/image-ref.js'
import type { ImageReference } from '../image/image-ref.js'
import { verdict } from '../health/verdict.js'
import { policyInForce } from '../scale-set/policy.js'
import type { ScaleSetSpec } from '../scale-set/spec.js'
import { exceedsPercent } from '../rollout/thresholds.js'
import type { InstanceObservation, Rollout } from '../rollout/types.js'
import type { SetFacts } from './wave.js'

export type SetFactsInput = Readonly<{
  spec: ScaleSetSpec
  instances: readonly InstanceObservation[]
  /** The plan's image line. */
  image: ImageReference
  version: string
  /** The set's running rollout, if any. */
  activeRolloutId: string | null
  /** The set's quarantined versions (an OS rollout the image faulted), with their records. */
  faultedVersions: readonly string[]
  /** The rollout that faulted `version` and its error, when the store still has it. */
  fault: Readonly<{ rolloutId: string | null; message: string | null }> | null
  /** The set's newest rollout, if any (its skipped instances count, W5). */
  lastRollout?: Pick<Rollout, 'id' | 'kind' | 'status' | 'target' | 'attempts'> | null
}>

/**
 * @example a 4-instance set following the plan's image, 1 instance on 1.0.0, target 1.1.0, no
 *   rollout → { exists: true, followsImage: true, rolloutId: null, faulted: null, behind: 1,
 *   skipped: null, unhealthy: null }
 */
export function setFacts(o: SetFactsInput): SetFacts {
  const { spec, version } = o
  const followsImage =
    spec.automaticOS.enabled &&
    isLatest(spec.image) &&
    imageLineKey(spec.image) === imageLineKey(o.image)
  const faulted = o.faultedVersions.includes(version)
    ? {
        rolloutId: o.fault?.rolloutId ?? null,
        message:
          `The rollout of ${version} on ${spec.key} faulted` +
          (o.fault?.message ? `: ${o.fault.message}` : '.'),
      }
    : null
  // As decideTrigger counts them (R1.7): in upgrade mode Manual, instances behind the model wait
  // for a manual upgrade, which no OS rollout makes; they do not hold the wave.
  const behind = o.instances.filter(
    (i) =>
      !i.protectFromScaleSetActions &&
      compareVersions(i.osImageVersion, version) < 0 &&
      (spec.mode !== 'Manual' || i.modelGeneration >= spec.modelGeneration),
  ).length
  return {
    exists: true,
    followsImage,
    rolloutId: o.activeRolloutId,
    faulted,
    behind,
    skipped: skippedBehind(o.lastRollout ?? null, o.instances, version),
    unhealthy: unhealthyWhy(spec, o.instances),
  }
}

/**
 * W5: the instances the set's last OS rollout to `version` ended with skipped (a pre-reimage
 * hook's answer) that are still below it, or null (a rollout running, another version, none).
 * @example rollout r1 to 1.1.0 Completed, instance 1 Skipped and on 1.0.0 →
 *   { rolloutId: 'r1', instanceIds: ['1'] }
 */
export function skippedBehind(
  last: SetFactsInput['lastRollout'] | null,
  instances: readonly InstanceObservation[],
  version: string,
): { rolloutId: string; instanceIds: string[] } | null {
  if (last == null || last.status === 'RollingForward' || last.kind !== 'OSImage') return null
  if (last.target.imageVersion !== version) return null
  const behind = new Set(
    instances
      .filter((i) => compareVersions(i.osImageVersion, version) < 0)
      .map((i) => i.instanceId),
  )
  const ids = last.attempts
    .filter((a) => a.state === 'Skipped' && behind.has(a.instanceId))
    .map((a) => a.instanceId)
  return ids.length === 0 ? null : { rolloutId: last.id, instanceIds: ids }
}

/**
 * Whether the set counts as healthy for a wave, and why not: the fleet pre-check's rule (R3.4),
 * more than the policy's `maxUnhealthyInstancePercent` unhealthy fails. This is the one place a
 * set's health is decided for a wave: per-set health gates, when a set has them, add their
 * verdict here.
 * @example 10 instances, 3 unhealthy, limit 20% → '3 of 10 instances are unhealthy (limit 20%).'
 */
export function unhealthyWhy(
  spec: ScaleSetSpec,
  instances: readonly InstanceObservation[],
): string | null {
  const limit = policyInForce(spec, 'OSImage', 'Platform').unhealthyPercentMax
  const unhealthy = instances.filter((i) => verdict(i) === 'unhealthy').length
  if (!exceedsPercent(unhealthy, instances.length, limit)) return null
  return `${unhealthy} of ${instances.length} instances of ${spec.key} are unhealthy (limit ${limit}%).`
}
