/**
 * The one catalogue of reason codes (docs/rollouts.md § Reason catalogue): every stop, abort,
 * rollback, skip, wait and step a rollout records carries one of these codes, in its events,
 * its error, its instances' failures, osroll's conditions and the metrics' `reason` label.
 * Azure's codes keep Azure's names; osroll's own name what happened in one word each.
 */
import type { FailureReason } from './types.js'
import type { GateReason } from '../gates/gates.js'
import type { WaveReasonCode } from '../waves/wave.js'

/** What a reason says happened. */
export type ReasonKind =
  /** A batch or an instance began something. */
  | 'start'
  /** A step inside a state: the timeline's detail (an event whose from equals its to). */
  | 'step'
  /** Something holds the rollout or an instance until a condition, a time or an operator. */
  | 'wait'
  /** An instance failed: it is rolled back, or stays failed if rollback is off. */
  | 'rollback'
  /** An instance left the rollout without being upgraded. */
  | 'skip'
  /** The rollout stopped on a rule: it ends Faulted. */
  | 'abort'
  /** An operator or a newer version stopped the rollout: it ends Cancelled. */
  | 'stop'
  /** An instance or a rollout ended well. */
  | 'done'
  /** An operator's request, recorded when the engine acts on it. */
  | 'control'

/** Where the signal behind a reason comes from, as the reason's message names it. */
export type ReasonSignal =
  | 'probe'
  | 'deadline'
  | 'fabric'
  | 'policy'
  | 'operator'
  | 'guest'
  | 'image'
  | 'cluster'
  | 'gate'
  | 'hook'
  | 'window'
  | 'plan'
  | 'engine'

export type ReasonEntry = Readonly<{
  kind: ReasonKind
  signal: ReasonSignal
  /** What it means, in one sentence. */
  summary: string
}>

const r = (kind: ReasonKind, signal: ReasonSignal, summary: string): ReasonEntry => ({
  kind,
  signal,
  summary,
})

export const REASONS = {
  // A batch, as `Batch<N>` and `Batch<N>Soak` (the number is the batch's).
  Batch: r('start', 'engine', 'The instance was chosen for batch N and its upgrade requested.'),
  BatchSoak: r('wait', 'engine', "After batch N the set's health must stay stable for the soak."),
  // Steps inside a state (the per-instance timeline).
  DiskSwapped: r('step', 'fabric', 'The fabric replaced the OS disk with one from the target.'),
  ModelApplied: r('step', 'fabric', 'The fabric applied the latest model in place.'),
  StartedOnNewDisk: r('step', 'fabric', 'The instance started on its new OS disk.'),
  FirstHealthy: r('step', 'probe', 'The health source first reported the instance healthy.'),
  PreviousDiskSwapped: r('step', 'fabric', 'The fabric put the previous OS disk back.'),
  PreviousDiskReleased: r('step', 'fabric', 'The previous OS disk, kept for rollback, was freed.'),
  OSUpgradePending: r('wait', 'guest', 'The upgrade waits for approval (deferral, R6).'),
  ApprovedByRequest: r(
    'control',
    'operator',
    'approveRollingUpgrade approved the deferred upgrade.',
  ),
  ApprovedByGuest: r(
    'control',
    'guest',
    "The guest's StartRequests approved the deferred upgrade.",
  ),
  NotBeforeReached: r('control', 'guest', "The scheduled event's NotBefore passed."),
  // Instance outcomes.
  Healthy: r('done', 'probe', 'The instance stayed healthy for minHealthyTime: upgraded.'),
  PreviousDiskRestored: r('done', 'fabric', 'The failed instance runs its previous OS disk again.'),
  InstanceDeleted: r('skip', 'operator', 'The instance was deleted or scaled in mid-rollout.'),
  HealthDeadlineExceeded: r('rollback', 'deadline', 'Not healthy before the health deadline.'),
  UnstableHealth: r('rollback', 'probe', 'Healthy, then unhealthy within minHealthyTime.'),
  ProvisioningFailed: r('rollback', 'fabric', 'An extension or the provisioning failed.'),
  ReimageFailed: r('rollback', 'fabric', 'The fabric could not reimage the instance.'),
  InstanceStopped: r('rollback', 'fabric', 'The instance stopped during its upgrade.'),
  ProgressDeadlineExceeded: r(
    'rollback',
    'deadline',
    'Nothing became healthy for the progressDeadline: the waiting instances failed.',
  ),
  RollbackFailedInstancesOnPolicyBreach: r(
    'rollback',
    'policy',
    'The upgraded-instance limit was breached and the policy rolls failed instances back.',
  ),
  RestoreFailed: r('rollback', 'fabric', 'The previous OS disk could not be restored.'),
  HealthyAndGatesPassed: r('done', 'gate', 'Healthy and every health gate passed: upgraded.'),
  GateFailed: r(
    'rollback',
    'gate',
    'A health gate failed the instance or its batch (the gate code says why).',
  ),
  // Why a health gate failed (docs/controls.md § Health gates), quoted in GateFailed's message.
  GateThresholdNotMet: r('rollback', 'gate', "A prometheus gate's value failed its comparison."),
  GateCohortRegressed: r(
    'rollback',
    'gate',
    'The upgraded cohort is worse than baseline × (1 + tolerance).',
  ),
  GateWebhookRefused: r('rollback', 'gate', 'The gate webhook answered something other than 2xx.'),
  GateUnreachable: r('rollback', 'gate', "The gate's server could not be reached (fails closed)."),
  GateTimeout: r('rollback', 'gate', 'No verdict within the gate timeout (fails closed).'),
  GateNoData: r('rollback', 'gate', 'The gate query returned no sample until its timeout.'),
  GateQueryFailed: r(
    'rollback',
    'gate',
    'The server refused the query or answered what a gate cannot use.',
  ),
  // Lifecycle hooks' answers (docs/rollouts.md § Lifecycle hooks), as `<Hook><Answer>`.
  PreReimageContinue: r(
    'start',
    'hook',
    'The pre-reimage hook said continue: the reimage goes ahead.',
  ),
  PreReimageDefer: r(
    'wait',
    'hook',
    'The pre-reimage hook deferred the instance until its retryAfter.',
  ),
  PreReimageSkip: r(
    'skip',
    'hook',
    'The pre-reimage hook skipped the instance: it stays on its version.',
  ),
  PostHealthyContinue: r('done', 'hook', 'The post-healthy hook said continue: upgraded.'),
  PostHealthyFail: r(
    'rollback',
    'hook',
    'The post-healthy hook failed the instance (its answer quoted).',
  ),
  PostHealthyHookFailed: r(
    'rollback',
    'hook',
    "The post-healthy hook's fail, as the instance's failure.",
  ),
  // Maintenance windows (docs/rollouts.md § Maintenance windows).
  MaintenanceWindowClosed: r(
    'wait',
    'window',
    'No window is open: the next batch waits until one opens (untilMs).',
  ),
  MaintenanceWindowOpened: r('control', 'window', 'A window opened: the rollout goes on.'),
  InsideMaintenanceWindow: r('control', 'window', 'A window is open: batches may start.'),
  // Why a rollout plan's wave stopped (docs/rollouts.md § Waves across scale sets).
  ScaleSetNotFound: r('abort', 'plan', 'A set of the stage no longer exists.'),
  ScaleSetLeftPlanImage: r('abort', 'plan', "A set of the stage no longer runs the plan's image."),
  ScaleSetRolloutFaulted: r(
    'abort',
    'plan',
    "A set's rollout of the stage faulted (its error quoted).",
  ),
  ScaleSetUnhealthy: r(
    'abort',
    'plan',
    'A set of the stage did not stay healthy for the bake time.',
  ),
  ScaleSetInstancesSkipped: r(
    'abort',
    'plan',
    "A set's rollout of the stage ended with instances its pre-reimage hook skipped (named).",
  ),
  ScaleSetGateFailed: r(
    'abort',
    'plan',
    "A set's health gates, asked again after the stage's bake time, failed (the gate quoted).",
  ),
  CancelledByUser: r('stop', 'operator', 'The plan was cancelled: the wave in flight ended.'),
  SoakRestarted: r('wait', 'probe', "An instance's health changed during the soak: it restarts."),
  SoakPassed: r('done', 'probe', "The set's health stayed stable for the soak."),
  // Rollout ends and controls.
  Completed: r('done', 'engine', 'Every instance in scope is upgraded.'),
  Cancelled: r('stop', 'operator', 'The rollout was cancelled.'),
  CancelRequested: r('stop', 'operator', 'rollingUpgrades/cancel: the batch in flight finished.'),
  RolloutSuperseded: r('stop', 'image', 'A newer version superseded the stuck rollout.'),
  PauseRequested: r('control', 'operator', 'Paused: no new batch starts until resumed.'),
  ResumeRequested: r('control', 'operator', 'Resumed where it stopped.'),
  // osroll's conditions when nothing is wrong (core/rollout/conditions.ts, the Paused condition).
  NoFailedInstances: r('done', 'engine', 'No instance of the rollout has failed.'),
  NotPaused: r('control', 'operator', 'No pause is asked for.'),
  FinishingBatch: r('control', 'operator', 'Paused once the batch in flight finishes.'),
  MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade: r(
    'abort',
    'policy',
    "Before the first batch, more of the set was unhealthy than maxUnhealthyInstancePercent (Azure's code).",
  ),
  MaxUnhealthyInstancePercentExceededInRollingUpgrade: r(
    'abort',
    'policy',
    "Before a later batch, more of the set was unhealthy than maxUnhealthyInstancePercent (Azure's code).",
  ),
  MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade: r(
    'abort',
    'policy',
    "More upgraded instances failed than maxUnhealthyUpgradedInstancePercent (Azure's code).",
  ),
  OperationNotAllowed: r(
    'abort',
    'cluster',
    "A Service Fabric set's durability no longer matches its cluster (Azure's code).",
  ),
  SoakNotStable: r('abort', 'deadline', "The set's health did not stay stable by the soak's max."),
} as const satisfies Record<string, ReasonEntry>

export type ReasonCode = keyof typeof REASONS

/**
 * The catalogue's code for a reason as recorded (`Batch3` and `Batch3Soak` are the catalogue's
 * `Batch` and `BatchSoak`), or null when it is not in the catalogue.
 * @example reasonCode('Batch12Soak') → 'BatchSoak'; reasonCode('Healthy') → 'Healthy'
 */
export function reasonCode(recorded: string): ReasonCode | null {
  const batch = /^Batch\d+(Soak)?$/.exec(recorded)
  if (batch) return batch[1] ? 'BatchSoak' : 'Batch'
  if (recorded === 'Batch' || recorded === 'BatchSoak') return null // recorded with a number
  return Object.hasOwn(REASONS, recorded) ? (recorded as ReasonCode) : null
}

/**
 * An instance's failure reason as a catalogue code: it compiles only while every
 * `FailureReason` is catalogued.
 */
export function failureCode(reason: FailureReason): ReasonCode {
  return reason
}

/** A health gate's failure reason as a catalogue code: compiles only while each is catalogued. */
export function gateCode(reason: GateReason): ReasonCode {
  return reason
}

/** A wave's stop reason as a catalogue code: compiles only while each is catalogued. */
export function waveCode(reason: WaveReasonCode): ReasonCode {
  return reason
}
