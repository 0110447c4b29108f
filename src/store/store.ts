/**
 * The Store interface: everything the orchestrator persists. Every write that records a decision
 * happens before the action it describes (docs/architecture.md § One pass of the reconciler);
 * rollouts and scale sets carry a
 * `revision` for optimistic concurrency, so a stale writer fails with `RevisionConflict`.
 */
import type { LifecycleHooks } from '../core/rollout/hooks.js'
import type { QuarantineRecord } from '../core/rollout/quarantine.js'
import type { FaultCause } from '../core/rollout/recovery.js'
import type { ScaleSetSpec } from '../core/scale-set/spec.js'
import type { Rollout, RolloutEvent } from '../core/rollout/types.js'
import type { MaintenanceWindows } from '../core/rollout/window.js'
import type { FabricModel } from '../fabrics/types/fabric.js'
import type { HealthGate } from '../core/gates/gates.js'

/** The orchestrator's view of one scale set: its spec plus the facts it decides on. */
export type ScaleSetState = Readonly<{
  key: string
  spec: ScaleSetSpec
  fabricModel: FabricModel
  /** When automatic OS upgrades were last switched on (ms). */
  autoEnabledAtMs: number
  /** No platform OS rollout has ever started on this set (the first delay is one time per set). */
  firstSinceEnable: boolean
  /** Next instance id; ids are never reused. */
  nextInstanceId: number
  /**
   * The quarantined versions: those whose OS rollout (any trigger) the image faulted. Never
   * chosen automatically, for a rollout or a new instance (docs/rollouts.md R1.3,
   * docs/rollouts.md § Quarantine and roll forward).
   */
  faultedVersions: readonly string[]
  /**
   * Why each quarantined version is: the rollout, when, its error. Absent on sets stored before
   * it existed, and for versions quarantined then (core/rollout/quarantine.ts derives them).
   */
  quarantine?: readonly QuarantineRecord[]
  /**
   * The last platform OS rollout that ended: its target and end time (retry delay, §4.1), and
   * whether something other than the image stopped it (`held`: retried once the cause is gone,
   * docs/rollouts.md R1.3).
   */
  lastPlatformRollout: Readonly<{ version: string; endedAtMs: number; held?: boolean }> | null
  /** For faulted versions, the extension whose failure faulted each (docs/rollouts.md R1.3). */
  faultCauses?: readonly FaultCause[]
  /**
   * What the last reconcile pass saw (written only when it changes), so that reads of the set
   * need not list its instances: how many, whether all were settled (none being created), and
   * the version the model resolves to (`exactVersion`).
   */
  observed?: Readonly<{ instanceCount: number; settled: boolean; exactVersion: string | null }>
  /** Set by `rollingUpgrades/cancel`; cleared when the rollout ends. */
  cancelRequestedAtMs: number | null
  /**
   * Set by osroll's pause, for that rollout only; cleared by resume and when the rollout ends
   * (docs/rollouts.md § Pause and resume). Absent on sets stored before it existed.
   */
  pauseRequest?: Readonly<{ rolloutId: string; atMs: number }> | null
  /**
   * osroll's per-set timing (docs/rollouts.md § Per-set timing), frozen into each rollout when
   * it starts; absent: the server's `--health-deadline`, no minHealthyTime, soak or progressDeadline.
   */
  upgradeSettings?: UpgradeSettings | null
  /**
   * The set's health gates (docs/controls.md § Health gates), judged beside its health source;
   * absent, null or empty: none.
   */
  healthGates?: readonly HealthGate[] | null
  /**
   * The rollout started on this set whose end is not recorded on the set yet: set when it
   * starts, cleared with the end's records (quarantine, retry delay), so that a crash between
   * the rollout's last save and the set's write loses no end. Absent on sets stored before it
   * existed. See docs/architecture.md § Recording a rollout's end.
   */
  openRollout?: string | null
  /**
   * osroll's lifecycle hooks (docs/rollouts.md § Lifecycle hooks), frozen into each OS image
   * rollout when it starts; absent: none.
   */
  lifecycleHooks?: LifecycleHooks | null
  /**
   * osroll's maintenance windows (docs/rollouts.md § Maintenance windows), read by every pass;
   * absent or null: none, batches start at any time.
   */
  maintenanceWindows?: MaintenanceWindows | null
  revision: number
}>

export type { HealthGate }

export type UpgradeSettings = Readonly<{
  healthDeadlineMs?: number
  minHealthyTimeMs?: number
  /** batchSoak's min and max: both or neither (the API refuses one alone). */
  batchSoakMinMs?: number
  batchSoakMaxMs?: number
  progressDeadlineMs?: number
  /** docs/rollouts.md § Adaptive ramp: batches from one instance, doubling after clean ones. */
  adaptiveRamp?: boolean
}>

/** Control-plane facts about an instance that the fabric does not know. */
export type InstanceRecord = Readonly<{
  instanceId: string
  protectFromScaleIn: boolean
  protectFromScaleSetActions: boolean
  osUpgradePending: boolean
  osUpgradeApproved: boolean
}>

export interface Store {
  listScaleSetKeys(): Promise<readonly string[]>
  getScaleSet(key: string): Promise<ScaleSetState | undefined>
  /**
   * Writes the set; `expectedRevision` null means create. Returns it with the new revision. With
   * `onlyWithRollout`, the write is also refused (`RevisionConflict`) unless that rollout exists:
   * made in the same turn as its `createRollout`, it lands only if the rollout was created.
   */
  putScaleSet(
    state: ScaleSetState,
    expectedRevision: number | null,
    o?: Readonly<{ onlyWithRollout?: string }>,
  ): Promise<ScaleSetState>
  /**
   * Deletes the set's state, instance records, and all its rollouts with their events (the
   * running one included): a set created again under the same name starts with no history.
   */
  deleteScaleSet(key: string): Promise<void>

  listInstanceRecords(key: string): Promise<readonly InstanceRecord[]>
  putInstanceRecords(key: string, records: readonly InstanceRecord[]): Promise<void>

  getActiveRollout(key: string): Promise<Rollout | undefined>
  getRollout(id: string): Promise<Rollout | undefined>
  /**
   * Adds a new rollout with the events of its first decision, atomically; fails with
   * `OperationNotAllowed` when the set already has a running one.
   */
  createRollout(rollout: Rollout, events?: readonly RolloutEvent[]): Promise<void>
  /**
   * Saves a rollout whose stored revision is `expectedRevision`, else `RevisionConflict`, with
   * the events of the decision, atomically (one transaction, one fsync).
   */
  saveRollout(
    rollout: Rollout,
    expectedRevision: number,
    events?: readonly RolloutEvent[],
  ): Promise<void>
  /** Newest first; `before` pages by start time then id. */
  listRollouts(
    key: string,
    o: { limit: number; before?: { startedAtMs: number; id: string } },
  ): Promise<readonly Rollout[]>

  /**
   * Deletes a set's ended rollouts (and their events) that started before `beforeMs`, except the
   * newest `keepLast`; returns how many went. The running rollout is never deleted.
   */
  pruneRollouts(key: string, o: { beforeMs: number; keepLast: number }): Promise<number>

  /**
   * Deletes up to `limit` rollouts (with their events) whose set no longer exists: ones a pass
   * created while the set was being deleted. Returns how many went.
   */
  pruneOrphanRollouts(limit: number): Promise<number>

  appendEvents(events: readonly RolloutEvent[]): Promise<void>
  listEvents(rolloutId: string): Promise<readonly RolloutEvent[]>
  /** Events of every set after sequence number `afterSeq`, in order (`/events` streams them). */
  listEventsAfter(
    afterSeq: number,
    limit: number,
  ): Promise<readonly Readonly<{ seq: number; event: RolloutEvent }>[]>
  /** The sequence number of the newest event (0 when there is none): where "now" is. */
  lastEventSeq(): Promise<number>
}
