/**
 * The invariants the simulator checks after every step (STYLE R9, issue 2): one rollout per set,
 * one batch in flight and never larger than the batch size, no batch across zones or update
 * domains unless allowed, no batch when the pre-check fails, rollback exactly when the rules
 * say, data disks never touched, images only move forward unless rolled back, no instance given
 * two new disks by one rollout, counts that add up, history that matches the fleet, no batch
 * started while paused, none counted upgraded before its minHealthyTime, batch soaks and progress
 * deadlines kept (timing-invariants.ts), ramped batches that start at one, double after a clean
 * batch and fall back to one after a failure, manual starts that roll back when asked, and every
 * rollout terminal at the end.
 */
import { verdict } from '../../src/core/health/verdict.js'
import { compareVersions } from '../../src/core/image/version.js'
import { findCandidates } from '../../src/core/rollout/batch.js'
import { isTerminal, progressOf } from '../../src/core/rollout/progress.js'
import { batchSize, exceedsPercent } from '../../src/core/rollout/thresholds.js'
import { lastBatchFailed } from '../../src/core/rollout/ramp.js'
import { versionOutcome } from '../../src/core/rollout/recovery.js'
import { policyInForce } from '../../src/core/scale-set/policy.js'
import { durabilityMismatched } from '../../src/core/scale-set/service-fabric.js'
import type { Attempt, InstanceObservation, Rollout } from '../../src/core/rollout/types.js'
import type { InstanceView } from '../../src/fabrics/types/fabric.js'
import type { SimStateStore } from '../../src/fabrics/types/sim-state.js'
import { observe } from '../../src/runtime/reconciler.js'
import type { InstanceRecord, ScaleSetState } from '../../src/store/store.js'
import type { Scenario } from './scenario.js'
import { TimingInvariants } from './timing-invariants.js'
import { WindowInvariant } from './window-invariant.js'

const RESTORED = new Set(['RollingBack', 'RolledBack', 'RollbackFailed'])

export class Invariants {
  readonly violations: string[] = []
  transitions = 0
  private before: InstanceObservation[] = []
  /** The Service Fabric cluster's durability for the set's node type before the pass. */
  private clusterDurability: string | null = null
  /** The set's stored state before the pass (faulted versions, the last platform rollout). */
  private stateBefore: ScaleSetState | null = null
  private beforeDisks = new Map<string, number>()
  private readonly dataDisks = new Map<string, string>()
  private readonly versions = new Map<string, string>()
  private readonly seen = new Map<string, Rollout>()
  private readonly disksAtStart = new Map<string, Map<string, number>>()

  /** The pause in force when this step's passes ran (set before them). */
  private pause: ScaleSetState['pauseRequest'] = null

  /** batchSoak and progressDeadline (timing-invariants.ts). */
  private readonly timing: TimingInvariants
  /** Maintenance windows (window-invariant.ts). */
  private readonly windows: WindowInvariant

  constructor(private readonly s: Scenario) {
    this.timing = new TimingInvariants((m) => this.fail(m))
    this.windows = new WindowInvariant((m) => this.fail(m))
  }

  /** A pass at this time failed (an injected store failure): the orchestrator retries it. */
  notePassFailed(nowMs: number): void {
    this.timing.passFailedAtMs = nowMs
    this.windows.passFailedAtMs = nowMs
  }

  notePause(pause: ScaleSetState['pauseRequest']): void {
    this.pause = pause ?? null
  }

  async observeBefore(
    views: readonly InstanceView[],
    records: readonly InstanceRecord[],
    sim: SimStateStore,
    clusterDurability: string | null = null,
    state: ScaleSetState | null = null,
  ): Promise<void> {
    this.before = observe(views, records)
    this.clusterDurability = clusterDurability
    this.stateBefore = state
    this.beforeDisks = new Map(
      (await sim.list(this.s.spec.key)).map((i) => [i.instanceId, i.diskCount]),
    )
  }

  async check(
    now: number,
    after: readonly InstanceView[],
    rollouts: readonly Rollout[],
    state: ScaleSetState,
    sim: SimStateStore,
  ): Promise<void> {
    const at = `t=${now}ms`
    const running = rollouts.filter((r) => r.status === 'RollingForward')
    if (running.length > 1) this.fail(`${at}: ${running.length} rollouts running at once`)
    const disks = new Map((await sim.list(this.s.spec.key)).map((i) => [i.instanceId, i.diskCount]))
    const fresh = rollouts.filter((n) => !this.seen.has(n.id))
    const seenBefore = new Map(this.seen)
    for (const r of rollouts) {
      const prev = this.seen.get(r.id)
      if (prev === undefined) this.disksAtStart.set(r.id, this.beforeDisks)
      // A rollout that ended in this step may be followed, in the same step, by one that already
      // gave some instances a newer disk (seed 77023: a crash right after an end was saved, and
      // the restarted pass started the next version's rollout at once). What the fleet shows of
      // those instances is the newer rollout's doing: judge the ended one on the others only.
      const later = new Set<string>()
      for (const n of fresh) {
        if (n.id === r.id || r.endedAtMs === null) continue
        if (n.startedAtMs >= r.endedAtMs) for (const a of n.attempts) later.add(a.instanceId)
      }
      this.checkRollout(at, r, prev, after, state, later)
      this.checkMinHealthy(at, r)
      this.timing.check(at, now, r, prev, this.before)
      this.windows.check(at, now, r, prev, state.maintenanceWindows)
      this.checkRollbackAsked(at, r, prev, after, later)
      // A paused rollout never starts a batch (the one running when it was paused finishes).
      if (prev && this.pause?.rolloutId === r.id && r.batchCount > prev.batchCount)
        this.fail(`${at} rollout ${r.id}: batch ${r.batchCount} started while paused`)
      if (prev === undefined || prev.status === 'RollingForward')
        this.checkDiskChurn(at, r, disks, later)
      this.seen.set(r.id, r)
    }
    this.checkInstances(at, after, rollouts)
    this.timing.noteHealth(now, this.before, rollouts)
    this.checkQuarantine(at, after, rollouts, fresh, seenBefore)
  }

  /**
   * docs/rollouts.md § Quarantine and roll forward: a quarantined version is never chosen
   * automatically, neither as a platform rollout's target nor as a new instance's version, nor
   * as the version that supersedes a rollout; a rollout rolls forward only from versions that
   * were quarantined or superseded.
   */
  private checkQuarantine(
    at: string,
    after: readonly InstanceView[],
    rollouts: readonly Rollout[],
    fresh: readonly Rollout[],
    seenBefore: ReadonlyMap<string, Rollout>,
  ): void {
    const before = this.stateBefore
    if (before === null) return
    const quarantined = new Set(before.faultedVersions)
    const surged = new Set<string>()
    for (const r of rollouts)
      for (const a of r.attempts) if (a.surgeInstanceId !== null) surged.add(a.surgeInstanceId)
    const existed = new Set(this.before.map((i) => i.instanceId))
    for (const v of after) {
      if (existed.has(v.instanceId) || surged.has(v.instanceId)) continue
      if (quarantined.has(v.osImageVersion))
        this.fail(`${at}: new instance ${v.instanceId} built from quarantined ${v.osImageVersion}`)
    }
    const superseded = new Set(
      rollouts.filter((r) => r.supersededBy != null).map((r) => r.target.imageVersion),
    )
    for (const r of rollouts) {
      const prev = seenBefore.get(r.id)
      if (
        r.supersededBy != null &&
        prev?.status === 'RollingForward' &&
        quarantined.has(r.supersededBy)
      )
        this.fail(`${at} rollout ${r.id}: superseded by quarantined ${r.supersededBy}`)
    }
    for (const r of fresh)
      for (const v of r.rollForwardFrom ?? [])
        if (!quarantined.has(v) && !superseded.has(v))
          this.fail(
            `${at} rollout ${r.id}: rolls forward from ${v}, neither quarantined nor superseded`,
          )
  }

  /**
   * Every rollout ends: one still running when the simulation went idle is stuck; one running when
   * the step cap hit must not be older than its worst case — a batch per instance, each waiting
   * the full health deadline, the pause and a slow boot.
   */
  finish(
    rollouts: readonly Rollout[],
    pendingFaults: number,
    hitMaxSteps: boolean,
    nowMs: number,
  ): void {
    const worstBatchMs =
      this.s.healthDeadlineMs +
      this.s.spec.rolling.pauseBetweenBatchesMs +
      (this.s.settings?.batchSoakMaxMs ?? 0) +
      // a batch may wait for the next maintenance window: at most a week with weekly ranges
      (this.s.windows ? 7 * 24 * 3_600_000 : 0) +
      120_000
    const boundMs = (this.s.spec.capacity * 2 + 10) * worstBatchMs
    for (const r of rollouts) {
      if (r.status !== 'RollingForward') continue
      const waitingApproval = r.deferral && r.pendingIds.length > 0 && r.attempts.every(isTerminal)
      if (!hitMaxSteps && pendingFaults === 0 && !waitingApproval) {
        this.fail(
          `rollout ${r.id} still RollingForward when the simulation went idle (batch ${r.batchCount})`,
        )
      } else if (hitMaxSteps && nowMs - r.startedAtMs > boundMs) {
        this.fail(
          `rollout ${r.id} ran ${nowMs - r.startedAtMs} ms, more than its bound of ${boundMs} ms`,
        )
      }
    }
  }

  /** minHealthyTime: no instance counts as upgraded before it stayed healthy that long. */
  private checkMinHealthy(at: string, r: Rollout): void {
    const min = r.minHealthyTimeMs ?? 0
    // All at once (upgrade mode Automatic, manualupgrade) waits for no health, as on Azure.
    if (min === 0 || r.pace !== 'batched') return
    for (const a of r.attempts) {
      if (a.state !== 'Succeeded' || a.method === 'surge') continue
      const since = a.healthySinceMs ?? null
      if (since === null || (a.endedAtMs ?? 0) - since < min)
        this.fail(
          `${at} rollout ${r.id}: instance ${a.instanceId} counted upgraded after ${since === null ? 'no' : (a.endedAtMs ?? 0) - since} ms healthy, before its minHealthyTime of ${min} ms`,
        )
    }
  }

  /**
   * Rollback on every path (docs/rollouts.md § Rollback on every path): a manual start that asked
   * for rollback never leaves a failed instance on the new image unless its restore failed.
   */
  private checkRollbackAsked(
    at: string,
    r: Rollout,
    prev: Rollout | undefined,
    after: readonly InstanceView[],
    later: ReadonlySet<string>,
  ): void {
    if (r.kind !== 'OSImage' || r.startedBy !== 'User' || !r.rollback) return
    // The fleet is judged in the step the rollout ends (a later rollout may move it on).
    const ending = r.status !== 'RollingForward' && prev?.status !== r.status
    const byId = new Map(ending ? after.map((v) => [v.instanceId, v]) : [])
    for (const a of r.attempts) {
      if (a.method !== 'reimage' || a.failure === null || a.state === 'RollbackFailed') continue
      if (a.state === 'Failed')
        this.fail(`${at} rollout ${r.id}: ${a.instanceId} failed and left on the new image`)
      const v = byId.get(a.instanceId)
      if (
        a.state === 'RolledBack' &&
        !later.has(a.instanceId) &&
        v &&
        r.status !== 'RollingForward'
      )
        if (v.osImageVersion === r.target.imageVersion && a.fromVersion !== v.osImageVersion)
          this.fail(`${at} rollout ${r.id}: ${a.instanceId} rolled back but runs the new image`)
    }
  }

  /**
   * Adaptive ramp (docs/rollouts.md § Adaptive ramp): a ramped batch never exceeds R3.1's size
   * nor its ramp size; the first and every one after a batch with a failed instance has one
   * instance; after a clean batch the ramp size doubles, capped at R3.1's size.
   */
  private checkRamp(tag: string, r: Rollout, prev: Rollout | undefined, cap: number): void {
    const ids = r.attempts.filter((a) => a.batch === r.batchCount)
    const ramp = r.rampSize
    if (ramp === undefined) return this.fail(`${tag}: ramped batch ${r.batchCount} without a size`)
    if (ids.length > cap || ramp > cap)
      this.fail(`${tag}: ramped batch of ${ids.length} (ramp ${ramp}) > the policy's ${cap}`)
    if (ids.length > ramp) this.fail(`${tag}: batch of ${ids.length} > its ramp size ${ramp}`)
    const earlier = { batchCount: r.batchCount - 1, attempts: r.attempts }
    const expected =
      r.batchCount === 1 || lastBatchFailed(earlier) ? 1 : Math.min(cap, 2 * (prev?.rampSize ?? 1))
    if (ramp !== expected)
      this.fail(
        `${tag}: ramp size ${ramp} for batch ${r.batchCount}, not ${expected} (previous ${prev?.rampSize})`,
      )
    if (expected === 1 && ids.length !== 1)
      this.fail(`${tag}: batch ${r.batchCount} after a failure has ${ids.length} instances`)
  }

  private checkRollout(
    at: string,
    r: Rollout,
    prev: Rollout | undefined,
    after: readonly InstanceView[],
    state: ScaleSetState,
    later: ReadonlySet<string>,
  ): void {
    const tag = `${at} rollout ${r.id}`
    if (prev && r.revision < prev.revision)
      this.fail(`${tag}: revision went back ${prev.revision} → ${r.revision}`)
    if (prev && prev.status !== 'RollingForward' && r.revision !== prev.revision)
      this.fail(`${tag}: changed after ending ${prev.status}`)
    const ids = r.attempts.map((a) => a.instanceId)
    if (new Set(ids).size !== ids.length)
      this.fail(`${tag}: an instance was tried twice: ${ids.join(',')}`)
    this.transitions += countTransitions(prev, r)
    const open = r.attempts.filter((a) => !isTerminal(a))
    // Only the restores that follow a breach (rollbackFailedInstancesOnPolicyBreach) may reach back.
    const breachRestore = (a: Attempt): boolean => r.ending !== null && a.state === 'RollingBack'
    if (open.some((a) => a.batch !== r.batchCount && !breachRestore(a)))
      this.fail(`${tag}: attempts of an earlier batch still in flight`)
    if ((prev?.batchCount ?? 0) + 1 < r.batchCount)
      this.fail(`${tag}: two batches started in one pass`)
    if (r.batchCount > (prev?.batchCount ?? 0)) this.checkNewBatch(tag, r, prev)
    this.checkRollbackRules(tag, r)
    this.checkCounts(tag, r)
    if (prev === undefined) this.checkStart(tag, r)
    if (r.status !== 'RollingForward' && (prev === undefined || prev.status === 'RollingForward'))
      this.checkVersionOutcome(tag, r, state)
    const nodeType = this.s.spec.serviceFabricNodeType
    const mismatched =
      nodeType && this.clusterDurability !== null && this.clusterDurability !== nodeType.durability
    if (
      r.status === 'Faulted' &&
      (prev === undefined || prev.status === 'RollingForward') &&
      r.error?.message.startsWith('Durability Mismatch') === true &&
      !mismatched
    )
      this.fail(`${tag}: faulted for a durability mismatch the cluster does not show`)
    if (r.status !== 'RollingForward' && (prev === undefined || prev.status === 'RollingForward')) {
      this.checkHistory(
        tag,
        r,
        after.filter((v) => !later.has(v.instanceId)),
        state,
      )
    }
  }

  /**
   * R1.3: the platform never starts a version it faulted (until a release), and restarts a held
   * one only once its cause is gone: the fleet within the pre-check's limit, durability matching.
   */
  private checkStart(tag: string, r: Rollout): void {
    const before = this.stateBefore
    const ramped =
      before?.upgradeSettings?.adaptiveRamp === true &&
      r.pace === 'batched' &&
      !before.spec.serviceFabric
    if (before !== null && (r.adaptiveRamp === true) !== ramped)
      this.fail(`${tag}: adaptive ramp ${r.adaptiveRamp === true} though the set says ${ramped}`)
    if (r.kind === 'OSImage' && r.startedBy === 'User') {
      // A manual start's rollback is what it asked for, else Azure's: none (R1.4).
      const asked = this.s.faults.filter(
        (f) => f.atMs === r.startedAtMs && f.fault.kind === 'manualStart',
      )
      const f = asked.length === 1 ? asked[0]?.fault : undefined
      if (f?.kind === 'manualStart' && r.rollback !== (f.rollback ?? false))
        this.fail(`${tag}: manual start asked for rollback ${f.rollback}, got ${r.rollback}`)
    }
    const version = r.target.imageVersion
    if (before === null || r.kind !== 'OSImage' || r.startedBy !== 'Platform' || version === null)
      return
    if (before.faultedVersions.includes(version))
      this.fail(`${tag}: started faulted version ${version} without a release`)
    const last = before.lastPlatformRollout
    if (last?.held !== true || last.version !== version) return
    const unhealthy = this.before.filter((i) => verdict(i) === 'unhealthy').length
    const limit = policyInForce(before.spec, 'OSImage', 'Platform').unhealthyPercentMax
    if (exceedsPercent(unhealthy, this.before.length, limit))
      this.fail(
        `${tag}: held version ${version} retried with ${unhealthy}/${this.before.length} unhealthy`,
      )
    if (durabilityMismatched(before.spec.serviceFabricNodeType, this.clusterDurability))
      this.fail(`${tag}: held version ${version} retried during a durability mismatch`)
  }

  /** R1.3: a rollout stopped by the fleet's health or durability holds its version, never faults it. */
  private checkVersionOutcome(tag: string, r: Rollout, state: ScaleSetState): void {
    const version = r.target.imageVersion
    // Any trigger: a manual start the image faulted quarantines its version too.
    if (r.kind !== 'OSImage' || version === null) return
    const outcome = versionOutcome(r)
    const wasFaulted = this.stateBefore?.faultedVersions.includes(version) ?? false
    const isFaulted = state.faultedVersions.includes(version)
    if (outcome === 'faulted' && !isFaulted)
      this.fail(`${tag}: ${r.error?.code} did not block version ${version}`)
    if (outcome !== 'faulted' && isFaulted && !wasFaulted)
      this.fail(`${tag}: ${r.status} (${r.error?.code ?? 'no error'}) blocked version ${version}`)
  }

  private checkNewBatch(tag: string, r: Rollout, prev: Rollout | undefined): void {
    const batch = r.attempts.filter((a) => a.batch === r.batchCount)
    const ids = batch.map((a) => a.instanceId)
    const prevAttempts = r.attempts.filter((a) => a.batch < r.batchCount)
    if (prevAttempts.some((a) => !isTerminal(a)))
      this.fail(`${tag}: batch ${r.batchCount} started before batch ${r.batchCount - 1} ended`)
    if (prev && prev.status !== 'RollingForward')
      this.fail(`${tag}: batch started after the rollout ended`)
    const nodeType = this.s.spec.serviceFabricNodeType
    if (
      nodeType &&
      this.clusterDurability !== null &&
      this.clusterDurability !== nodeType.durability
    )
      this.fail(
        `${tag}: batch ${r.batchCount} started though the cluster's durability ${this.clusterDurability} differs from the set's ${nodeType.durability}`,
      )
    const leaving = new Set<string>()
    for (const a of prevAttempts)
      if (a.method === 'surge')
        leaving.add(a.state === 'Succeeded' ? a.instanceId : (a.surgeInstanceId as string))
    const population = this.before.filter((i) => !leaving.has(i.instanceId))
    const candidates = findCandidates({ ...r, attempts: prevAttempts }, this.before)
    const eligible = new Set(candidates.eligible.map((i) => i.instanceId))
    for (const id of ids)
      if (!eligible.has(id))
        this.fail(`${tag}: instance ${id} was not a candidate of batch ${r.batchCount}`)
    // R1.7: in upgrade mode Manual an OS rollout never moves an instance behind the model.
    if (r.kind === 'OSImage' && this.s.spec.mode === 'Manual')
      for (const id of ids) {
        const i = this.before.find((b) => b.instanceId === id)
        if (i && i.modelGeneration < r.target.modelGeneration)
          this.fail(
            `${tag}: upgrade mode Manual, yet instance ${id} (model ${i.modelGeneration} < ${r.target.modelGeneration}) is in batch ${r.batchCount}`,
          )
      }
    if (r.pace !== 'batched') return
    // Roll forward: instances unhealthy on a version the rollout rolls forward from are excused.
    const from = new Set(r.rollForwardFrom ?? [])
    const unhealthy = population.filter(
      (i) => verdict(i) === 'unhealthy' && !from.has(i.osImageVersion),
    ).length
    if (exceedsPercent(unhealthy, population.length, r.policy.unhealthyPercentMax)) {
      this.fail(
        `${tag}: batch ${r.batchCount} started with ${unhealthy}/${population.length} unhealthy (> ${r.policy.unhealthyPercentMax}%)`,
      )
    }
    const members = this.before.filter((i) => ids.includes(i.instanceId))
    const cap = batchSize(population.length, r.policy.batchPercentMax)
    if (r.adaptiveRamp === true) this.checkRamp(tag, r, prev, cap)
    if (
      !this.s.spec.serviceFabric &&
      ids.length > batchSize(population.length, r.policy.batchPercentMax)
    ) {
      this.fail(
        `${tag}: batch of ${ids.length} > batch size ${batchSize(population.length, r.policy.batchPercentMax)} of N=${population.length}`,
      )
    }
    if (new Set(members.map((i) => i.updateDomain)).size > 1)
      this.fail(`${tag}: batch ${ids.join(',')} spans update domains`)
    if (!r.policy.crossZone && new Set(members.map((i) => i.zone)).size > 1)
      this.fail(`${tag}: batch ${ids.join(',')} spans zones`)
  }

  private checkRollbackRules(tag: string, r: Rollout): void {
    const breach =
      r.policy.rollbackFailedOnPolicyBreach && (r.ending !== null || r.status === 'Faulted')
    for (const a of r.attempts) {
      const failedState = a.state === 'Failed' || RESTORED.has(a.state)
      if (failedState !== (a.failure !== null))
        this.fail(
          `${tag}: instance ${a.instanceId} is ${a.state} with failure ${JSON.stringify(a.failure)}`,
        )
      if (a.method !== 'reimage' || a.failure === null) continue
      if (RESTORED.has(a.state) && !r.rollback && !breach)
        this.fail(`${tag}: instance ${a.instanceId} restored though rollback is off`)
      if (a.state === 'Failed' && r.rollback)
        this.fail(
          `${tag}: instance ${a.instanceId} failed and was not restored though rollback is on`,
        )
    }
  }

  private checkCounts(tag: string, r: Rollout): void {
    const p = progressOf(r)
    // Removed and Skipped (docs/rollouts.md § Lifecycle hooks) count in none of the four.
    const counted = r.attempts.filter((a) => a.state !== 'Removed' && a.state !== 'Skipped').length
    const sum =
      p.successfulInstanceCount +
      p.failedInstanceCount +
      p.inProgressInstanceCount +
      p.pendingInstanceCount
    if (sum !== counted + r.pendingIds.length)
      this.fail(`${tag}: counts ${JSON.stringify(p)} do not add up`)
    const tried = new Set(r.attempts.map((a) => a.instanceId))
    if (r.pendingIds.some((id) => tried.has(id)))
      this.fail(`${tag}: a pending instance was already tried`)
    if (r.status !== 'RollingForward' && p.inProgressInstanceCount !== 0)
      this.fail(`${tag}: ${r.status} with instances in progress`)
    if (r.status === 'Completed' && p.pendingInstanceCount !== 0)
      this.fail(`${tag}: Completed with pending instances`)
    if ((r.status === 'Faulted') !== (r.error !== null))
      this.fail(`${tag}: ${r.status} with error ${JSON.stringify(r.error)}`)
  }

  /** When a rollout ends, what it says about each instance must be true of the fleet. */
  private checkHistory(
    tag: string,
    r: Rollout,
    after: readonly InstanceView[],
    state: ScaleSetState,
  ): void {
    const byId = new Map(after.map((v) => [v.instanceId, v]))
    for (const a of r.attempts) {
      const v = byId.get(a.instanceId)
      const expectVersion = (version: string | null): void => {
        if (v && version !== null && v.osImageVersion !== version) {
          this.fail(
            `${tag}: history says ${a.instanceId} ${a.state} but it runs ${v.osImageVersion}, not ${version}`,
          )
        }
      }
      if (a.method === 'surge') {
        const newcomer = byId.get(a.surgeInstanceId as string)
        // The replacement may since have been scaled in (highest ids go first); the old one must be gone.
        if (a.state === 'Succeeded' && v !== undefined)
          this.fail(`${tag}: surge ${a.instanceId}→${a.surgeInstanceId} not swapped`)
        if (a.state === 'RolledBack' && newcomer !== undefined)
          this.fail(`${tag}: failed surge instance ${a.surgeInstanceId} not deleted`)
        continue
      }
      if (r.kind !== 'OSImage') continue
      // A reimage that failed before the disk was replaced leaves the instance where it was.
      const neverReplaced = a.failure?.reason === 'ReimageFailed'
      if (a.state === 'Succeeded' || (a.state === 'Failed' && !neverReplaced))
        expectVersion(r.target.imageVersion)
      if (a.state === 'RolledBack') expectVersion(a.fromVersion)
    }
    if (r.status === 'Completed' && r.kind === 'OSImage' && r.scope === null) {
      const behind = findCandidates(r, observe(after, [])).eligible.filter(
        (i) => !r.attempts.some((a) => a.instanceId === i.instanceId),
      )
      if (behind.length > 0 && !r.deferral && state.spec.capacity > 0) {
        const protectedIds = new Set(
          this.before.filter((i) => i.protectFromScaleSetActions).map((i) => i.instanceId),
        )
        const unexplained = behind.filter((i) => !protectedIds.has(i.instanceId))
        if (unexplained.length > 0)
          this.fail(
            `${tag}: Completed but ${unexplained.map((i) => i.instanceId).join(',')} still behind`,
          )
      }
    }
  }

  private checkDiskChurn(
    at: string,
    r: Rollout,
    disks: ReadonlyMap<string, number>,
    later: ReadonlySet<string>,
  ): void {
    const start = this.disksAtStart.get(r.id)
    if (!start || r.kind !== 'OSImage') return
    for (const a of r.attempts) {
      if (later.has(a.instanceId)) continue
      const was = start.get(a.instanceId)
      const now = disks.get(a.instanceId)
      if (was !== undefined && now !== undefined && now - was > 1) {
        this.fail(
          `${at} rollout ${r.id}: instance ${a.instanceId} got ${now - was} new OS disks in one rollout`,
        )
      }
    }
  }

  private checkInstances(
    at: string,
    after: readonly InstanceView[],
    rollouts: readonly Rollout[],
  ): void {
    const restored = new Set<string>()
    for (const r of rollouts)
      for (const a of r.attempts) if (RESTORED.has(a.state)) restored.add(a.instanceId)
    for (const v of after) {
      const disks = JSON.stringify(v.dataDisks)
      const known = this.dataDisks.get(v.instanceId)
      if (known !== undefined && known !== disks)
        this.fail(`${at}: data disks of ${v.instanceId} changed: ${known} → ${disks}`)
      this.dataDisks.set(v.instanceId, disks)
      const was = this.versions.get(v.instanceId)
      if (
        was !== undefined &&
        compareVersions(v.osImageVersion, was) < 0 &&
        !restored.has(v.instanceId)
      ) {
        this.fail(
          `${at}: ${v.instanceId} went back from ${was} to ${v.osImageVersion} without a rollback`,
        )
      }
      this.versions.set(v.instanceId, v.osImageVersion)
    }
  }

  private fail(message: string): void {
    if (this.violations.length < 20) this.violations.push(message)
  }
}

function countTransitions(prev: Rollout | undefined, r: Rollout): number {
  const before = new Map<string, Attempt>((prev?.attempts ?? []).map((a) => [a.instanceId, a]))
  let n = 0
  for (const a of r.attempts) if (before.get(a.instanceId)?.state !== a.state) n++
  return n
}
