/**
 * One decision of a running rollout (docs/rollouts.md R3–R7, R9): advance the current batch from
 * what is
 * observed; when it is done, apply the after-batch rule; then cancel, pause, pre-check and choose
 * the next batch — or end. Pure: the runtime persists `rollout` first, then runs `actions`.
 */
import { verdict } from '../health/verdict.js'
import { invariant } from '../problem.js'
import { durabilityMismatched } from '../scale-set/service-fabric.js'
import { formatDurationMs } from '../duration.js'
import { advanceAttempt, fail } from './attempt.js'
import { hookProgress } from './hooks.js'
import { excusedUnhealthy } from './roll-forward.js'
import { chooseBatch, findCandidates } from './batch.js'
import { rampSizeOf } from './ramp.js'
import { durabilityMismatch, unhealthyBeforeBatch, upgradedUnhealthy } from './messages.js'
import { isFailedState, isTerminal, mostImpactfulFailure } from './progress.js'
import { progressDeadlineError, progressDueAtMs } from './progress-deadline.js'
import { judgeSoak, soaks, startSoak } from './soak.js'
import { batchSize, exceedsPercent, wholePercent } from './thresholds.js'
import { WAITING_FOR_WINDOW, WINDOW_CLOSED, WINDOW_OPENED } from './window.js'
import { answersOf, StepState } from './step-state.js'
import type { Snapshot, Step } from './step-state.js'
import type { Action, Attempt, InstanceObservation, RolloutError, RolloutEvent } from './types.js'

export type { Snapshot, Step }

/**
 * Plans one step of a running rollout; a finished rollout is returned unchanged.
 * @example 10 healthy instances on 1.0.0, target 1.1.0, default policy, first pass →
 *   batch 1 = ['0','5'], actions [reimage 0 → 1.1.0, reimage 5 → 1.1.0], 8 pending
 */
export function planStep(s: Snapshot, nowMs: number): Step {
  const r0 = s.rollout
  if (r0.status !== 'RollingForward') {
    return {
      rollout: r0,
      actions: [],
      events: [],
      wakeAtMs: null,
      nextInstanceId: s.nextInstanceId,
    }
  }
  const byId = new Map(s.instances.map((i) => [i.instanceId, i]))
  const ctx = {
    rollout: r0,
    nowMs,
    observe: (id: string) => byId.get(id),
    failuresOf: (id: string) => s.failures.filter((f) => f.instanceId === id),
    gates: s.gates ?? null,
    answers: answersOf(s, r0.id),
  }
  const actions: Action[] = []
  const events: RolloutEvent[] = []
  const attempts = r0.attempts.map((a) => {
    const adv = advanceAttempt(a, ctx)
    actions.push(...adv.actions)
    events.push(...adv.events)
    return adv.attempt
  })
  const b = new StepDecider({ ...r0, attempts }, s, byId, nowMs, actions, events)
  return b.decide()
}

/** Decides a rollout's next step from its working state; every method returns the finished Step. */
class StepDecider extends StepState {
  decide(): Step {
    this.stopIfNoProgress()
    this.skipUnstartedOnCancel()
    if (this.r.attempts.some((a) => !isTerminal(a))) {
      this.refreshPending()
      return this.done(this.earliestDeadline())
    }
    if (this.r.batchesChecked < this.r.batchCount) this.afterBatch()
    if (this.r.attempts.some((a) => !isTerminal(a))) return this.done(this.earliestDeadline())
    if (this.r.ending) return this.finish(this.r.ending.status, this.r.ending.error)
    if (this.s.cancelRequestedAtMs !== null)
      return this.finish('Cancelled', null, this.s.cancelRequestedAtMs)
    if (this.s.supersededBy != null) return this.supersede(this.s.supersededBy)
    if (this.optedOut()) return this.finish('Cancelled', null)
    const soak = this.soak()
    if (soak !== null && typeof soak !== 'number') return soak
    if (this.nowMs < this.r.nextBatchAtMs || soak !== null) {
      this.refreshPending()
      const waits = [soak, this.nowMs < this.r.nextBatchAtMs ? this.r.nextBatchAtMs : null]
      return this.done(Math.min(...waits.filter((t): t is number => t !== null)))
    }
    return this.nextBatch()
  }

  /**
   * progressDeadline: nothing counted upgraded for that long stops the rollout. Instances of the
   * batch in flight that have not counted yet fail and are restored like any failed instance (R4);
   * the rollout ends Faulted once they are back.
   */
  private stopIfNoProgress(): void {
    const due = progressDueAtMs(this.r)
    if (due === null || this.nowMs < due) return
    const error = progressDeadlineError(this.r)
    const ctx = this.attemptContext()
    const detail = formatDurationMs(this.r.progressDeadlineMs ?? 0)
    const attempts = this.r.attempts.map((a): Attempt => {
      if (isTerminal(a) || a.state === 'RollingBack') return a
      // Still waiting on its pre-reimage hook: never touched, so left as it is (skipped).
      if (a.state === 'PreReimage') {
        this.event(a.instanceId, a.state, 'Skipped', 'ProgressDeadlineExceeded')
        return { ...a, state: 'Skipped', endedAtMs: this.nowMs, hook: null }
      }
      const failed = fail(a, ctx, 'ProgressDeadlineExceeded', detail)
      this.event(a.instanceId, a.state, failed.state, 'ProgressDeadlineExceeded')
      const adv = advanceAttempt(failed, ctx)
      this.actions.push(...adv.actions)
      this.events.push(...adv.events)
      return adv.attempt
    })
    this.r = { ...this.r, attempts, ending: { status: 'Faulted', error } }
  }

  /**
   * Lifecycle hooks: a cancel does not wait for pre-reimage hooks (a deferral may last an hour):
   * instances still waiting on one are left on their version as skipped (reason CancelRequested).
   */
  private skipUnstartedOnCancel(): void {
    if (this.s.cancelRequestedAtMs === null) return
    if (!this.r.attempts.some((a) => a.state === 'PreReimage')) return
    const attempts = this.r.attempts.map((a): Attempt => {
      if (a.state !== 'PreReimage') return a
      this.event(a.instanceId, a.state, 'Skipped', 'CancelRequested')
      return { ...a, state: 'Skipped', endedAtMs: this.nowMs, hook: null }
    })
    this.r = { ...this.r, attempts }
  }

  /**
   * batchSoak: the soak after the last batch, if one is under way. A Step when it failed (the
   * rollout stops), the time to look again while it waits, or null once passed (or none).
   */
  private soak(): Step | number | null {
    const soak = this.r.soak ?? null
    const cfg = this.r.batchSoak
    if (soak === null || !cfg) return null
    const out = judgeSoak(soak, cfg, this.population(), this.nowMs)
    for (const c of out.changes) this.event(c.instanceId, c.from, c.to, 'SoakRestarted')
    if (out.kind === 'passed') {
      this.r = { ...this.r, soak: null }
      this.event(null, 'Soaking', 'RollingForward', 'SoakPassed')
      return null
    }
    this.r = { ...this.r, soak: out.soak }
    if (out.kind === 'waiting') return out.wakeAtMs
    this.refreshPending()
    return this.finish('Faulted', out.error, undefined, 'Soaking')
  }

  /** §4.5: failed-or-unhealthy among everything this rollout upgraded, against the threshold. */
  private afterBatch(): void {
    const r = this.r
    this.r = { ...r, batchesChecked: r.batchCount }
    if (r.pace === 'allAtOnce' || r.ending) return // ending: progressDeadline stopped it
    // Skipped by a pre-reimage hook: not upgraded, so neither counted nor failed.
    const upgraded = r.attempts.filter((a) => a.state !== 'Removed' && a.state !== 'Skipped')
    const bad = upgraded.filter((a) => isFailedState(a) || this.unhealthyNow(a))
    const threshold = r.policy.unhealthyUpgradedPercentMax
    if (upgraded.length === 0 || !exceedsPercent(bad.length, upgraded.length, threshold)) {
      this.r = { ...this.r, nextBatchAtMs: this.nowMs + r.policy.pauseBetweenBatchesMs }
      if (soaks(r)) {
        this.r = { ...this.r, soak: startSoak(r.batchCount, this.population(), this.nowMs) }
        this.event(null, 'RollingForward', 'Soaking', `Batch${r.batchCount}Soak`)
      }
      return
    }
    const worst = mostImpactfulFailure(upgraded)
    const reason = worst
      ? `${worst.reason}: ${worst.message}`
      : 'Instances are unhealthy after being upgraded.'
    const firstId = worst?.firstInstanceId ?? (bad[0] as Attempt).instanceId
    const error = upgradedUnhealthy(
      wholePercent(bad.length, upgraded.length),
      threshold,
      reason,
      firstId,
    )
    let attempts = this.r.attempts
    if (r.policy.rollbackFailedOnPolicyBreach) {
      attempts = attempts.map((a) =>
        a.state === 'Failed' && a.method === 'reimage' ? this.restore(a) : a,
      )
    }
    this.r = { ...this.r, attempts, ending: { status: 'Faulted', error } }
  }

  private restore(a: Attempt): Attempt {
    this.actions.push({ type: 'restore', instanceIds: [a.instanceId] })
    this.event(a.instanceId, a.state, 'RollingBack', 'RollbackFailedInstancesOnPolicyBreach')
    return { ...a, state: 'RollingBack', endedAtMs: null }
  }

  private unhealthyNow(a: Attempt): boolean {
    if (a.state !== 'Succeeded') return false
    const id = a.method === 'surge' ? (a.surgeInstanceId as string) : a.instanceId
    const obs = this.byId.get(id)
    return obs !== undefined && verdict(obs) === 'unhealthy'
  }

  private optedOut(): boolean {
    const { kind, startedBy } = this.r
    return kind === 'OSImage' && startedBy === 'Platform' && !this.s.spec.automaticOS.enabled
  }

  private nextBatch(): Step {
    if (this.s.pauseRequestedAtMs != null) {
      // Paused: no new batch (nor the pre-check before it) while there is one to start.
      if (findCandidates(this.r, this.s.instances).eligible.length > 0) return this.hold()
    } else if (this.r.pausedAtMs != null) {
      this.r = {
        ...this.r,
        pausedAtMs: null,
        ...(this.r.progressDeadlineMs ? { resumedAtMs: this.nowMs } : {}),
      }
      this.event(null, 'Paused', 'RollingForward', 'ResumeRequested')
    }
    // Maintenance windows: outside one, no batch starts (nor its pre-check) while one could.
    const window = this.s.window ?? null
    if (window !== null && !window.open) {
      if (findCandidates(this.r, this.s.instances).eligible.length > 0)
        return this.waitForWindow(window.nextOpenAtMs)
    } else if (this.r.windowWait != null) this.windowOpened()
    const r = this.r
    const population = this.population()
    // Roll forward: instances the bad version broke neither count nor wait (roll-forward.ts).
    const excused = excusedUnhealthy(r, population)
    if (r.pace === 'batched') {
      const unhealthy = population.filter(
        (i) => verdict(i) === 'unhealthy' && !excused.has(i.instanceId),
      ).length
      const threshold = r.policy.unhealthyPercentMax
      if (exceedsPercent(unhealthy, population.length, threshold)) {
        const percent = wholePercent(unhealthy, population.length)
        this.refreshPending()
        return this.finish('Faulted', unhealthyBeforeBatch(r.batchCount === 0, percent, threshold))
      }
    }
    const { eligible, deferred } = findCandidates(r, this.s.instances)
    const unmarked = deferred.filter((i) => !i.osUpgradePending).map((i) => i.instanceId)
    if (unmarked.length > 0) this.actions.push({ type: 'markPending', instanceIds: unmarked })
    if (eligible.length === 0) {
      this.r = { ...this.r, pendingIds: deferred.map((i) => i.instanceId) }
      return deferred.length > 0 ? this.done(null) : this.finish('Completed', null)
    }
    // Upgrade mode Automatic and manualupgrade move every candidate at once (§4.8). The adaptive
    // ramp (docs/rollouts.md § Adaptive ramp) only ever lowers R3.1's size.
    const size = rampSizeOf(r, batchSize(population.length, r.policy.batchPercentMax))
    const picked =
      r.pace === 'allAtOnce'
        ? eligible.map((i) => i.instanceId)
        : chooseBatch(eligible, {
            size,
            zones: this.s.spec.zones,
            crossZone: r.policy.crossZone,
            prioritizeUnhealthy: r.policy.prioritizeUnhealthy,
            serviceFabric: this.s.spec.serviceFabric,
            ...(excused.size > 0 ? { first: excused } : {}),
          })
    invariant(picked.length > 0, 'a batch is chosen from a non-empty candidate list')
    const mismatch = this.durabilityMismatch()
    if (mismatch !== null) {
      this.refreshPending()
      return this.finish('Faulted', mismatch)
    }
    return this.startBatch(picked, eligible, deferred, r.adaptiveRamp === true ? size : null)
  }

  /** Holds a paused rollout: recorded once, then no wake-up until the pause is lifted. */
  private hold(): Step {
    if (this.r.pausedAtMs == null) {
      this.r = { ...this.r, pausedAtMs: this.nowMs }
      this.event(null, 'RollingForward', 'Paused', 'PauseRequested')
    }
    this.refreshPending()
    return this.done(null)
  }

  /**
   * Waits for the next maintenance window: recorded once (with when it opens), then a wake-up
   * when it opens. The batch in flight, if any, already finished: windows gate only starts.
   */
  private waitForWindow(untilMs: number | null): Step {
    const wait = this.r.windowWait ?? null
    if (wait === null) {
      this.r = { ...this.r, windowWait: { sinceMs: this.nowMs, untilMs } }
      this.event(null, 'RollingForward', WAITING_FOR_WINDOW, WINDOW_CLOSED, untilMs)
    } else if (wait.untilMs !== untilMs) {
      // The windows changed while the rollout waited: the new next opening.
      this.r = { ...this.r, windowWait: { ...wait, untilMs } }
    }
    this.refreshPending()
    return this.done(untilMs)
  }

  /** The window opened: the wait ends and, as after a resume, the progressDeadline restarts. */
  private windowOpened(): void {
    this.r = {
      ...this.r,
      windowWait: null,
      ...(this.r.progressDeadlineMs ? { resumedAtMs: this.nowMs } : {}),
    }
    this.event(null, WAITING_FOR_WINDOW, 'RollingForward', WINDOW_OPENED)
  }

  /**
   * R3.4: the seed says a durability mismatch between the cluster and the set's Service Fabric
   * extension makes upgrades fail; it may appear after the rollout started (the node type moved
   * to Gold, the extension still says Silver), so it is checked before every batch.
   */
  private durabilityMismatch(): RolloutError | null {
    const nodeType = this.s.spec.serviceFabricNodeType
    const cluster = this.s.clusterDurability
    if (!nodeType || !durabilityMismatched(nodeType, cluster)) return null
    return durabilityMismatch(nodeType.nodeTypeRef, nodeType.durability, cluster as string)
  }

  private startBatch(
    picked: readonly string[],
    eligible: readonly InstanceObservation[],
    deferred: readonly InstanceObservation[],
    rampSize: number | null,
  ): Step {
    const r = this.r
    const batch = r.batchCount + 1
    let nextId = this.s.nextInstanceId
    const approvedPending: string[] = []
    const fresh = picked.map((id): Attempt => {
      const obs = this.byId.get(id) as InstanceObservation
      if (obs.osUpgradePending) approvedPending.push(id)
      const method = this.methodFor(obs)
      const hooked = r.hooks?.preReimage !== undefined
      const state = hooked
        ? 'PreReimage'
        : method === 'surge'
          ? 'Surging'
          : method === 'reimage'
            ? 'Reimaging'
            : 'Updating'
      this.event(id, 'Pending', state, `Batch${batch}`)
      return {
        instanceId: id,
        batch,
        state,
        method,
        fromVersion: obs.osImageVersion,
        fromGeneration: obs.modelGeneration,
        surgeInstanceId: method === 'surge' ? String(nextId++) : null,
        startedAtMs: this.nowMs,
        deadlineAtMs: this.nowMs + r.healthDeadlineMs,
        endedAtMs: null,
        failure: null,
        rollbackError: null,
        ...(hooked ? { hook: hookProgress('preReimage', this.nowMs) } : {}),
      }
    })
    if (approvedPending.length > 0)
      this.actions.push({ type: 'clearPending', instanceIds: approvedPending })
    const ctx = {
      rollout: r,
      nowMs: this.nowMs,
      observe: (id: string) => this.byId.get(id),
      failuresOf: () => [],
    }
    for (const a of fresh) this.actions.push(...advanceAttempt(a, ctx).actions)
    const pickedSet = new Set(picked)
    const pendingIds = [...eligible, ...deferred]
      .map((i) => i.instanceId)
      .filter((id) => !pickedSet.has(id))
    this.r = {
      ...r,
      attempts: [...r.attempts, ...fresh],
      batchCount: batch,
      pendingIds,
      ...(rampSize !== null ? { rampSize } : {}),
    }
    return this.done(this.earliestDeadline(), nextId)
  }

  private methodFor(obs: InstanceObservation): Attempt['method'] {
    const r = this.r
    if (r.kind === 'OSImage') return r.policy.maxSurge && r.pace === 'batched' ? 'surge' : 'reimage'
    const image = r.target.imageVersion
    return image !== null && obs.osImageVersion !== image ? 'reimage' : 'update'
  }
}
