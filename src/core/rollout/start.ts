/**
 * Starting rollouts (docs/rollouts.md R1, R7): `decideTrigger` says whether the platform should
 * start one now, later (`wakeAtMs`), or not at all; `startRollout` builds it. The delays come
 * from the timing profile; the per-set jitter is a hash of the set and the target, so it is the
 * same after a restart and needs no randomness.
 */
import { compareVersions } from '../image/version.js'
import { isLatest, isPinned } from '../image/image-ref.js'
import type { RolloutKind, RolloutTrigger } from '../scale-set/policy.js'
import { policyInForce, rollbackEnabled } from '../scale-set/policy.js'
import type { ScaleSetSpec } from '../scale-set/spec.js'
import { durabilityMismatched } from '../scale-set/service-fabric.js'
import { verdict } from '../health/verdict.js'
import { rollForwardFrom } from './roll-forward.js'
import { exceedsPercent } from './thresholds.js'
import type { BatchSoak, InstanceObservation, Rollout, RolloutTarget } from './types.js'
import type { LifecycleHooks } from './hooks.js'

/** Delays of a timing profile, in ms; a delay is drawn in [min, max] per set and target. */
export type TimingProfile = Readonly<{
  firstDelayMinMs: number
  firstDelayMaxMs: number
  laterDelayMinMs: number
  laterDelayMaxMs: number
  /**
   * After a platform rollout to V ended without faulting (Completed with failed instances within
   * the threshold, or Cancelled), the next one to the same V waits this long from its end, so
   * instances that failed are retried later rather than in a tight loop.
   */
  retryDelayMs: number
}>

/** `prompt`: within seconds, with a per-set jitter of at most 30 s to spread simultaneous rollouts. */
export const PROMPT_TIMING: TimingProfile = {
  firstDelayMinMs: 0,
  firstDelayMaxMs: 30_000,
  laterDelayMinMs: 0,
  laterDelayMaxMs: 30_000,
  retryDelayMs: 10 * 60_000,
}

/** `azure`: the seed's timing — first rollout within 3 hours, later ones 30–60 minutes after eligibility. */
export const AZURE_TIMING: TimingProfile = {
  firstDelayMinMs: 0,
  firstDelayMaxMs: 3 * 3_600_000,
  laterDelayMinMs: 30 * 60_000,
  laterDelayMaxMs: 60 * 60_000,
  retryDelayMs: 60 * 60_000,
}

export type TriggerInput = Readonly<{
  spec: ScaleSetSpec
  instances: readonly InstanceObservation[]
  /** Latest eligible version for the set's image and region, with when it became eligible. */
  latest: Readonly<{ version: string; eligibleAtMs: number }> | null
  /** When automatic OS upgrades were last enabled on this set. */
  autoEnabledAtMs: number
  /** No platform OS rollout has ever started on this set: the first delay is one time per set. */
  firstSinceEnable: boolean
  /** Versions whose platform rollout ended Faulted: never retried automatically. */
  faultedVersions: ReadonlySet<string>
  /**
   * The last platform OS rollout of this set, if any: its target, when it ended, and whether a
   * cause other than the image stopped it (`held`, see recovery.ts).
   */
  lastPlatformRollout: Readonly<{ version: string; endedAtMs: number; held?: boolean }> | null
  /** The Service Fabric cluster's durability for the set's node type now, when it names one. */
  clusterDurability?: string | null
  timing: TimingProfile
  /**
   * The set is in a rollout plan (docs/rollouts.md § Waves across scale sets, W3): automatic OS
   * rollouts go no further than the version the plan released to the set's stage. Absent: the
   * set is in no plan.
   */
  planGate?: PlanGate | null
}>

/** What a rollout plan lets a set's trigger roll to: nothing yet, or one released version. */
export type PlanGate = Readonly<{ release: Readonly<{ version: string; atMs: number }> | null }>

export type StartRequest = Readonly<{
  kind: RolloutKind
  startedBy: RolloutTrigger
  target: RolloutTarget
  pace: Rollout['pace']
  scope: readonly string[] | null
  /**
   * An OS rollout's own choice of per-instance rollback (osroll's `rollouts/start`,
   * docs/rollouts.md § Rollback on every path); absent: the rule of R4 (`rollbackEnabled`).
   */
  rollback?: boolean
}>

export type TriggerDecision = Readonly<
  { type: 'start'; request: StartRequest } | { type: 'wait'; wakeAtMs: number } | { type: 'none' }
>

/**
 * Whether to start a platform rollout, when no rollout is running. OS image rollouts come first
 * (they apply the latest model too, except in upgrade mode Manual, where they move only the
 * instances already on it: R1.7); then model rollouts for upgrade modes Rolling/Automatic.
 * @example latest 1.1.0 eligible at t=0, instances on 1.0.0, prompt timing, jitter 12 s →
 *   { type: 'wait', wakeAtMs: 12_000 }, then at 12 s { type: 'start', … }
 */
export function decideTrigger(t: TriggerInput, nowMs: number): TriggerDecision {
  const os = decideOsRollout(t, nowMs)
  if (os.type !== 'none') return os
  return decideModelRollout(t.spec, t.instances)
}

/**
 * The latest version a set's trigger may use under its plan's gate (W3): the released version
 * when the set's region has it (an older release than latest is rolled to, not skipped), its
 * delay counted from the release; nothing before a release or while the region lacks it.
 * @example latest 1.2.0 eligible at 5, released 1.1.0 at 9 → { version: '1.1.0', eligibleAtMs: 9 };
 *   released 1.3.0 → null; no gate → latest as it is
 */
export function gatedLatest(
  latest: TriggerInput['latest'],
  gate: PlanGate | null | undefined,
): TriggerInput['latest'] {
  if (gate === undefined || gate === null) return latest
  const r = gate.release
  if (latest === null || r === null) return null
  const order = compareVersions(r.version, latest.version)
  if (order > 0) return null
  return {
    version: r.version,
    eligibleAtMs: order === 0 ? Math.max(latest.eligibleAtMs, r.atMs) : r.atMs,
  }
}

function decideOsRollout(t: TriggerInput, nowMs: number): TriggerDecision {
  const { spec } = t
  const latest = gatedLatest(t.latest, t.planGate)
  if (!spec.automaticOS.enabled || !isLatest(spec.image) || latest === null) return { type: 'none' }
  if (t.faultedVersions.has(latest.version)) return { type: 'none' }
  // R1.7: in upgrade mode Manual only instances on the latest model are moved by an OS rollout.
  const behind = t.instances.some(
    (i) =>
      !i.protectFromScaleSetActions &&
      compareVersions(i.osImageVersion, latest.version) < 0 &&
      (spec.mode !== 'Manual' || i.modelGeneration >= spec.modelGeneration),
  )
  if (!behind) return { type: 'none' }
  const fraction = jitterFraction(`${spec.key}|${latest.version}`)
  const [min, max, from] = t.firstSinceEnable
    ? [
        t.timing.firstDelayMinMs,
        t.timing.firstDelayMaxMs,
        Math.max(t.autoEnabledAtMs, latest.eligibleAtMs),
      ]
    : [t.timing.laterDelayMinMs, t.timing.laterDelayMaxMs, latest.eligibleAtMs]
  let dueAtMs = from + min + Math.floor(fraction * (max - min))
  const last = t.lastPlatformRollout
  if (last !== null && last.version === latest.version) {
    // Held (R1.3): retried, without the retry delay, once what stopped it is gone.
    if (last.held === true && !causeGone(t)) return { type: 'none' }
    if (last.held !== true) dueAtMs = Math.max(dueAtMs, last.endedAtMs + t.timing.retryDelayMs)
  }
  if (nowMs < dueAtMs) return { type: 'wait', wakeAtMs: dueAtMs }
  return {
    type: 'start',
    request: {
      kind: 'OSImage',
      startedBy: 'Platform',
      target: { imageVersion: latest.version, modelGeneration: spec.modelGeneration },
      pace: 'batched',
      scope: null,
    },
  }
}

/**
 * R1.3: a rollout held by the fleet's health or a durability mismatch may start again once the
 * fleet passes the pre-check of R3.4 (unhealthy instances within the policy's limit) and the
 * cluster's durability matches the set's.
 * @example 10 instances, 3 unhealthy, limit 20% → false; 2 unhealthy → true
 */
function causeGone(t: TriggerInput): boolean {
  if (durabilityMismatched(t.spec.serviceFabricNodeType, t.clusterDurability)) return false
  const limit = policyInForce(t.spec, 'OSImage', 'Platform').unhealthyPercentMax
  const unhealthy = t.instances.filter((i) => verdict(i) === 'unhealthy').length
  return !exceedsPercent(unhealthy, t.instances.length, limit)
}

function decideModelRollout(
  spec: ScaleSetSpec,
  instances: readonly InstanceObservation[],
): TriggerDecision {
  if (spec.mode === 'Manual') return { type: 'none' }
  const behind = instances.some(
    (i) => !i.protectFromScaleSetActions && i.modelGeneration < spec.modelGeneration,
  )
  if (!behind) return { type: 'none' }
  return {
    type: 'start',
    request: {
      kind: 'Model',
      startedBy: 'Platform',
      target: modelTarget(spec),
      pace: spec.mode === 'Rolling' ? 'batched' : 'allAtOnce',
      scope: null,
    },
  }
}

/** The target of a model rollout: the latest generation, and the pinned version if any. */
export function modelTarget(spec: ScaleSetSpec): RolloutTarget {
  return {
    imageVersion: isPinned(spec.image) && spec.image.kind !== 'custom' ? spec.image.version : null,
    modelGeneration: spec.modelGeneration,
  }
}

/**
 * A new rollout in `RollingForward`, with the policy in force frozen into it (§4.2).
 * @example startRollout({ id: 'r1', spec, request, healthDeadlineMs: 300_000, nowMs: 0 }).policy.batchPercentMax === 20
 */
export function startRollout(o: {
  id: string
  spec: ScaleSetSpec
  request: StartRequest
  healthDeadlineMs: number
  /** The set's minHealthyTime (osroll's own), 0 or absent for none. */
  minHealthyTimeMs?: number
  /** The set's batchSoak and progressDeadline (osroll's own), absent for none. */
  batchSoak?: BatchSoak | null
  progressDeadlineMs?: number | null
  /** Roll forward: the set's quarantined versions (and a superseded one), see roll-forward.ts. */
  rollForwardFrom?: readonly string[]
  /** The set's adaptive ramp (osroll's own), for batched rollouts of sets other than SF ones. */
  adaptiveRamp?: boolean
  /** The set's lifecycle hooks (docs/rollouts.md § Lifecycle hooks), for OS image rollouts. */
  hooks?: LifecycleHooks | null
  nowMs: number
}): Rollout {
  const { spec, request } = o
  const from =
    request.kind === 'OSImage'
      ? rollForwardFrom(request.target.imageVersion, o.rollForwardFrom ?? [], null)
      : []
  // A Service Fabric set takes one whole update domain per batch (R3.3): no ramp to shrink it.
  const ramp = o.adaptiveRamp === true && request.pace === 'batched' && !spec.serviceFabric
  return {
    id: o.id,
    scaleSetKey: spec.key,
    kind: request.kind,
    startedBy: request.startedBy,
    pace: request.pace,
    scope: request.scope,
    target: request.target,
    policy: policyInForce(spec, request.kind, request.startedBy),
    rollback:
      request.kind === 'OSImage' && request.rollback !== undefined
        ? request.rollback
        : rollbackEnabled(spec, request.kind, request.startedBy),
    deferral: request.kind === 'OSImage' && spec.automaticOS.deferral,
    ...(request.kind === 'OSImage' && spec.mode === 'Manual' ? { latestModelOnly: true } : {}),
    healthDeadlineMs: o.healthDeadlineMs,
    ...(o.minHealthyTimeMs ? { minHealthyTimeMs: o.minHealthyTimeMs } : {}),
    ...(o.batchSoak ? { batchSoak: o.batchSoak } : {}),
    ...(o.progressDeadlineMs ? { progressDeadlineMs: o.progressDeadlineMs } : {}),
    ...(from.length > 0 ? { rollForwardFrom: from } : {}),
    ...(ramp ? { adaptiveRamp: true } : {}),
    ...(o.hooks && request.kind === 'OSImage' && hasHook(o.hooks) ? { hooks: o.hooks } : {}),
    status: 'RollingForward',
    startedAtMs: o.nowMs,
    endedAtMs: null,
    lastAction: 'Start',
    lastActionAtMs: o.nowMs,
    batchCount: 0,
    batchesChecked: 0,
    nextBatchAtMs: o.nowMs,
    attempts: [],
    pendingIds: [],
    ending: null,
    error: null,
    revision: 0,
  }
}

function hasHook(h: LifecycleHooks): boolean {
  return h.preReimage !== undefined || h.postHealthy !== undefined
}

/**
 * A stable fraction in [0, 1) from a string (FNV-1a, 32 bits).
 * @example jitterFraction('a') === jitterFraction('a'); jitterFraction('a') !== jitterFraction('b')
 */
export function jitterFraction(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h / 0x1_0000_0000
}
