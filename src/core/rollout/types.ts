/**
 * Rollouts: one run of the batch algorithm (docs/rollouts.md R3) that moves instances to a target
 * image
 * version and/or model generation. Everything here is plain, immutable data that the store
 * persists as is; `plan.ts` computes the next rollout from the previous one and a snapshot.
 */
import type { RollingPolicy } from '../scale-set/spec.js'
import type { RolloutKind, RolloutTrigger } from '../scale-set/policy.js'
import type { HealthState, PowerState, ProvisioningState, Verdict } from '../health/verdict.js'
import type { HookName, HookProgress, HookRecord, LifecycleHooks } from './hooks.js'

export type { RolloutKind, RolloutTrigger }

/** What the engine sees of one instance: stored facts merged with the fabric's observation. */
export type InstanceObservation = Readonly<{
  instanceId: string
  zone: string | null
  updateDomain: number
  faultDomain: number
  protectFromScaleIn: boolean
  protectFromScaleSetActions: boolean
  /** Version on the current OS disk. */
  osImageVersion: string
  /** Version of the kept previous OS disk, null when none is kept. */
  previousOsImageVersion: string | null
  modelGeneration: number
  power: PowerState
  provisioning: ProvisioningState
  provisioningError: string | null
  health: HealthState
  /** When the current OS disk was started (or the model last applied in place). */
  bootedAtMs: number
  /** Deferral (docs/rollouts.md R6): tagged `Platform.PendingOSUpgrade`, and whether approved. */
  osUpgradePending: boolean
  osUpgradeApproved: boolean
}>

export type RolloutStatus = 'RollingForward' | 'Completed' | 'Faulted' | 'Cancelled'

export type AttemptState =
  | 'Reimaging' // OS disk being replaced by one built from the target
  | 'Updating' // model applied in place (extensions re-provisioned), no new disk
  | 'Surging' // maxSurge: a replacement instance is being created from the target
  | 'PreReimage' // its batch started; waiting for the pre-reimage hook (or a deferral's end)
  | 'PostHealthy' // healthy on the new version; waiting for the post-healthy hook
  | 'WaitingHealth' // started on the new disk, waiting for healthy until deadlineAtMs
  | 'RollingBack' // failed; previous OS disk being restored
  | 'Succeeded'
  | 'Failed' // failed, left on the new image (rollback off)
  | 'RolledBack' // failed, restored to the previous disk (or surge replacement discarded)
  | 'RollbackFailed' // failed, and the restore failed too
  | 'Removed' // the instance was deleted (scale-in) while in the batch; not counted
  | 'Skipped' // the pre-reimage hook said skip: left on its version, not counted, reported

export const TERMINAL_ATTEMPT_STATES: ReadonlySet<AttemptState> = new Set([
  'Succeeded',
  'Failed',
  'RolledBack',
  'RollbackFailed',
  'Removed',
  'Skipped',
])

export type FailureReason =
  | 'HealthDeadlineExceeded'
  | 'ProvisioningFailed'
  | 'ReimageFailed'
  | 'InstanceStopped'
  | 'UnstableHealth'
  | 'ProgressDeadlineExceeded'
  | 'GateFailed'
  | 'PostHealthyHookFailed'

/** One instance's part in a rollout; an instance is tried at most once per rollout. */
export type Attempt = Readonly<{
  instanceId: string
  /** 1-based batch number. */
  batch: number
  state: AttemptState
  method: 'reimage' | 'update' | 'surge'
  fromVersion: string
  fromGeneration: number
  /** maxSurge: id of the replacement instance. */
  surgeInstanceId: string | null
  startedAtMs: number
  /** Absolute health deadline; before boot, a provisional one from the start. */
  deadlineAtMs: number
  endedAtMs: number | null
  failure: Readonly<{ reason: FailureReason; message: string }> | null
  rollbackError: string | null
  /**
   * minHealthyTime (osroll's own, docs/rollouts.md § Per-set timing): since when the instance
   * has been healthy on its new disk without a break; absent or null when it is not.
   */
  healthySinceMs?: number | null
  /** Lifecycle hooks (docs/rollouts.md § Lifecycle hooks): the hook it waits on; absent: none. */
  hook?: HookProgress | null
}>

export type { HookRecord }

export type RolloutError = Readonly<{ code: string; message: string }>

export type RolloutTarget = Readonly<{
  /** Exact image version; for model rollouts, the version a reimage would use (if any). */
  imageVersion: string | null
  modelGeneration: number
}>

export type Rollout = Readonly<{
  id: string
  scaleSetKey: string
  kind: RolloutKind
  startedBy: RolloutTrigger
  /** `batched` is the algorithm of §4.3; `allAtOnce` is upgrade mode Automatic/manualupgrade. */
  pace: 'batched' | 'allAtOnce'
  /** Restricts the rollout to these instances (manualupgrade), else null for all. */
  scope: readonly string[] | null
  target: RolloutTarget
  policy: RollingPolicy
  rollback: boolean
  deferral: boolean
  healthDeadlineMs: number
  /**
   * minHealthyTime: how long an upgraded instance must stay healthy to count as upgraded; a
   * break inside it fails the instance. Absent or 0: counted at the first healthy answer.
   */
  minHealthyTimeMs?: number
  /**
   * batchSoak (docs/rollouts.md § Per-set timing): after each batch, the set's health must stay
   * unchanged for `minMs` before the next one, within `maxMs` of the batch's end. Absent: none.
   */
  batchSoak?: BatchSoak
  /** progressDeadline: nothing counted upgraded for this long stops the rollout. Absent: none. */
  progressDeadlineMs?: number
  /**
   * Roll forward (docs/rollouts.md § Quarantine and roll forward): the bad versions (quarantined,
   * or of the rollout this one superseded) whose unhealthy instances the pre-check excuses and
   * that are upgraded first. Absent: none.
   */
  rollForwardFrom?: readonly string[]
  /** Roll forward: the newer version that superseded this rollout (it ended Cancelled). */
  supersededBy?: string | null
  /**
   * Adaptive ramp (osroll's own, docs/rollouts.md § Adaptive ramp): batches start at one instance
   * and double after each clean batch up to R3.1's size. Absent or false: R3.1's size throughout.
   */
  adaptiveRamp?: boolean
  /** With the ramp: the most instances the latest batch could take (R3.3 may pick fewer). */
  rampSize?: number
  /** Lifecycle hooks frozen at start (OS image rollouts only). Absent: none. */
  hooks?: LifecycleHooks
  status: RolloutStatus
  startedAtMs: number
  endedAtMs: number | null
  lastAction: 'Start' | 'Cancel'
  lastActionAtMs: number
  /** Batches started so far. */
  batchCount: number
  /** Batches whose after-batch check (§4.5) has run. */
  batchesChecked: number
  /** The next batch may not start before this (pauseTimeBetweenBatches). */
  nextBatchAtMs: number
  attempts: readonly Attempt[]
  /** Candidates not attempted yet, as of the last decision (for the progress counts). */
  pendingIds: readonly string[]
  /**
   * When the rollout began holding for a pause request, null or absent when it is not held
   * (osroll's own: docs/rollouts.md § Pause and resume).
   */
  pausedAtMs?: number | null
  /**
   * Upgrade mode Manual (docs/rollouts.md R1.7): this OS rollout moves only instances on the
   * latest model; the others wait for `manualupgrade`. Absent: every instance behind the target.
   */
  latestModelOnly?: boolean
  /**
   * While the rollout waits for a maintenance window (docs/rollouts.md § Maintenance windows):
   * since when, and until the next window opens (null: none opens again). Null or absent: not
   * waiting.
   */
  windowWait?: Readonly<{ sinceMs: number; untilMs: number | null }> | null
  /**
   * When the rollout last resumed from a pause hold or a wait for its maintenance window
   * (restarts the progressDeadline clock).
   */
  resumedAtMs?: number | null
  /** The batch soak under way, null or absent when none is (docs/rollouts.md § Per-set timing). */
  soak?: SoakState | null
  /** Set when the rollout must end once the breach restores finish (§4.5). */
  ending: Readonly<{ status: RolloutStatus; error: RolloutError | null }> | null
  error: RolloutError | null
  /** Monotonic revision, for optimistic concurrency in the store. */
  revision: number
}>

export type BatchSoak = Readonly<{ minMs: number; maxMs: number }>

/** Verdicts of the set's instances as the soak last saw them, by instance id. */
export type HealthPicture = Readonly<Record<string, Verdict>>

export type SoakState = Readonly<{
  /** The batch it follows. */
  batch: number
  startedAtMs: number
  /** Since when no instance's health changed (the soak's start, or the last change seen). */
  stableSinceMs: number
  health: HealthPicture
  /** The last change seen, for the error should the soak run out. */
  lastChange: Readonly<{ instanceId: string; from: string; to: string; atMs: number }> | null
}>

export type Progress = Readonly<{
  successfulInstanceCount: number
  failedInstanceCount: number
  inProgressInstanceCount: number
  pendingInstanceCount: number
}>

export type RollbackInfo = Readonly<{
  successfullyRolledbackInstanceCount: number
  failedRolledbackInstanceCount: number
  rollbackError: string | null
}>

/** Side effects a plan asks the runtime to carry out; each one is idempotent. */
export type Action = Readonly<
  | {
      type: 'reimage'
      instanceIds: readonly string[]
      imageVersion: string
      modelGeneration: number
    }
  | { type: 'update'; instanceIds: readonly string[]; modelGeneration: number }
  | { type: 'restore'; instanceIds: readonly string[] }
  | { type: 'release'; instanceIds: readonly string[] }
  | { type: 'create'; instances: readonly NewInstance[] }
  | { type: 'delete'; instanceIds: readonly string[] }
  | { type: 'markPending'; instanceIds: readonly string[] }
  | { type: 'clearPending'; instanceIds: readonly string[] }
  | {
      type: 'callHook'
      hook: HookName
      instanceId: string
      /** The attempt's call number, returned with the answer. */
      call: number
      url: string
      timeoutMs: number
      batch: number
      fromVersion: string
      targetVersion: string | null
      deferrals: number
    }
>

export type NewInstance = Readonly<{
  instanceId: string
  zone: string | null
  updateDomain: number
  faultDomain: number
  imageVersion: string
  modelGeneration: number
}>

/**
 * One recorded state change, for history and per-instance timelines (§4.6). An event whose
 * `from` equals its `to` is a step inside a state, not a change of it
 * (docs/rollouts.md § Per-instance timeline): e.g. `Reimaging → Reimaging, DiskSwapped` when the
 * fabric's reimage returned, `WaitingHealth → WaitingHealth, FirstHealthy`.
 */
export type RolloutEvent = Readonly<{
  atMs: number
  rolloutId: string
  scaleSetKey: string
  instanceId: string | null
  from: string
  to: string
  reason: string
  /** `StartedOnNewDisk`: when the instance started on its new disk, as the fabric says. */
  bootedAtMs?: number
  /** A lifecycle hook's answer this event records (docs/rollouts.md § Lifecycle hooks). */
  hook?: HookRecord
  /** `MaintenanceWindowClosed`: when the next window opens (absent: none opens again). */
  untilMs?: number
}>

/**
 * A rollout plan's event (docs/rollouts.md § Waves across scale sets): keyed by the plan, its
 * `rolloutId` names the plan's wave, not a stored rollout.
 */
export function isPlanEvent(e: Pick<RolloutEvent, 'scaleSetKey'>): boolean {
  return /\/providers\/osroll\.upgrades\/rolloutplans\//.test(e.scaleSetKey)
}

/** An effect that failed for good (after the runtime's retries), fed to the next plan. */
export type EffectFailure = Readonly<{
  instanceId: string
  action: Action['type']
  message: string
}>
