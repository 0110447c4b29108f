/**
 * What one step of a running rollout decides on (`Snapshot`) and gives back (`Step`), and the
 * working state plan.ts decides it in: the rollout as it changes, the actions and events so far,
 * and how a step ends (finish, supersede, done).
 */
import type { GateInputs } from '../gates/gates.js'
import type { ScaleSetSpec } from '../scale-set/spec.js'
import type { AttemptContext } from './attempt.js'
import { minHealthyDueAtMs } from './attempt.js'
import { findCandidates } from './batch.js'
import type { HookAnswer } from './hooks.js'
import { assertRolloutInvariants } from './invariants.js'
import { isTerminal } from './progress.js'
import { progressDueAtMs } from './progress-deadline.js'
import { SUPERSEDED_CODE } from './roll-forward.js'
import type { WindowState } from './window.js'
import type {
  Action,
  EffectFailure,
  InstanceObservation,
  Rollout,
  RolloutError,
  RolloutEvent,
  RolloutStatus,
} from './types.js'

export type Snapshot = Readonly<{
  spec: ScaleSetSpec
  instances: readonly InstanceObservation[]
  rollout: Rollout
  /** When a user asked to cancel this rollout, else null. */
  cancelRequestedAtMs: number | null
  /** When a user asked to pause this rollout (and has not resumed it), else null or absent. */
  pauseRequestedAtMs?: number | null
  /** Effects that failed for good since the last pass. */
  failures: readonly EffectFailure[]
  /** Lifecycle hooks' answers since the last pass (docs/rollouts.md § Lifecycle hooks). */
  hookAnswers?: readonly HookAnswer[]
  /** The next unused instance id (maxSurge replacements take ids from here). */
  nextInstanceId: number
  /**
   * The durability the Service Fabric cluster gives the set's node type now, read before this
   * decision; absent or null when the set names no cluster or the cluster does not say.
   */
  clusterDurability?: string | null
  /**
   * Roll forward: a newer version that supersedes this rollout (roll-forward.ts `supersedes`);
   * the batch in flight finishes, then the rollout ends Cancelled with `RolloutSuperseded`.
   */
  supersededBy?: string | null
  /**
   * The health gates' verdicts for this rollout, as the runtime evaluated them
   * (docs/controls.md § Health gates); absent or null: the set has no gates.
   */
  gates?: GateInputs | null
  /**
   * The set's maintenance windows at `nowMs` (docs/rollouts.md § Maintenance windows), computed
   * by the runtime; absent or null: the set has none, always open.
   */
  window?: WindowState | null
}>

export type Step = Readonly<{
  rollout: Rollout
  actions: readonly Action[]
  events: readonly RolloutEvent[]
  /** Run again at this time even if nothing changes; null: only on a change. */
  wakeAtMs: number | null
  nextInstanceId: number
}>

/** A step's working state; the decisions are plan.ts's StepDecider, which extends it. */
export class StepState {
  constructor(
    protected r: Rollout,
    protected readonly s: Snapshot,
    protected readonly byId: ReadonlyMap<string, InstanceObservation>,
    protected readonly nowMs: number,
    protected readonly actions: Action[],
    protected readonly events: RolloutEvent[],
  ) {}

  protected attemptContext(): AttemptContext {
    return {
      rollout: this.r,
      nowMs: this.nowMs,
      observe: (id: string) => this.byId.get(id),
      failuresOf: (id: string) => this.s.failures.filter((f) => f.instanceId === id),
      gates: this.s.gates ?? null,
      answers: answersOf(this.s, this.r.id),
    }
  }

  /**
   * N of §4.2: the set's instances, minus the two sides of maxSurge pairs that are on their way
   * out (an old instance already replaced, a replacement already discarded).
   */
  protected population(): InstanceObservation[] {
    const leaving = new Set<string>()
    for (const a of this.r.attempts) {
      if (a.method !== 'surge') continue
      if (a.state === 'Succeeded') leaving.add(a.instanceId)
      else if (a.surgeInstanceId !== null) leaving.add(a.surgeInstanceId)
    }
    return this.s.instances.filter((i) => !leaving.has(i.instanceId))
  }

  protected refreshPending(): void {
    const { eligible, deferred } = findCandidates(this.r, this.s.instances)
    this.r = { ...this.r, pendingIds: [...eligible, ...deferred].map((i) => i.instanceId) }
  }

  /** The next future deadline of an open attempt; past ones are handled by polling. */
  protected earliestDeadline(): number | null {
    const open = this.r.attempts.filter((a) => !isTerminal(a))
    // An attempt waiting on a hook has no deadline of its own: only a deferral's end.
    const future = [
      ...open.map((a) =>
        a.state === 'PreReimage' || a.state === 'PostHealthy'
          ? (a.hook?.notBeforeMs ?? 0)
          : a.deadlineAtMs,
      ),
      ...open.map((a) => minHealthyDueAtMs(a, this.r) ?? 0),
    ].filter((t) => t > this.nowMs)
    return future.length === 0 ? null : Math.min(...future)
  }

  protected finish(
    status: RolloutStatus,
    error: RolloutError | null,
    cancelAtMs?: number,
    from = 'RollingForward',
  ): Step {
    const cancel = status === 'Cancelled' && cancelAtMs !== undefined
    if (status === 'Completed') this.r = { ...this.r, pendingIds: [] }
    if (this.r.windowWait != null) this.r = { ...this.r, windowWait: null }
    this.r = {
      ...this.r,
      status,
      error,
      ending: null,
      endedAtMs: this.nowMs,
      lastAction: cancel ? 'Cancel' : this.r.lastAction,
      lastActionAtMs: cancel ? cancelAtMs : this.r.lastActionAtMs,
    }
    this.event(null, from, status, error?.code ?? (cancel ? 'CancelRequested' : status))
    return this.done(null)
  }

  /** Roll forward: ends Cancelled (Azure's status), recording the version that superseded it. */
  protected supersede(version: string): Step {
    this.r = {
      ...this.r,
      supersededBy: version,
      ...(this.r.windowWait != null ? { windowWait: null } : {}),
      status: 'Cancelled',
      error: null,
      ending: null,
      endedAtMs: this.nowMs,
    }
    this.event(null, 'RollingForward', 'Cancelled', SUPERSEDED_CODE)
    return this.done(null)
  }

  protected event(
    instanceId: string | null,
    from: string,
    to: string,
    reason: string,
    untilMs?: number | null,
  ): void {
    this.events.push({
      atMs: this.nowMs,
      rolloutId: this.r.id,
      scaleSetKey: this.r.scaleSetKey,
      instanceId,
      from,
      to,
      reason,
      ...(untilMs != null ? { untilMs } : {}),
    })
  }

  protected done(wakeAtMs: number | null, nextInstanceId = this.s.nextInstanceId): Step {
    // progressDeadline: look again when it passes, whatever else the rollout waits for.
    const due = progressDueAtMs(this.r)
    if (due !== null && due > this.nowMs) wakeAtMs = Math.min(wakeAtMs ?? due, due)
    const changed = this.events.length > 0 || !sameRollout(this.r, this.s.rollout)
    const rollout = changed ? { ...this.r, revision: this.s.rollout.revision + 1 } : this.r
    assertRolloutInvariants(rollout)
    return { rollout, actions: this.actions, events: this.events, wakeAtMs, nextInstanceId }
  }
}

/** Shallow equality with arrays compared element by element (attempts keep identity when unchanged). */
function sameRollout(a: Rollout, b: Rollout): boolean {
  for (const key of Object.keys(a) as (keyof Rollout)[]) {
    const x = a[key]
    const y = b[key]
    if (x === y) continue
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false
    if (x.some((v, i) => v !== y[i])) return false
  }
  return true
}

/** The hook answers to this rollout's calls (docs/rollouts.md § Lifecycle hooks). */
export function answersOf(s: Snapshot, rolloutId: string): readonly HookAnswer[] {
  return (s.hookAnswers ?? []).filter((x) => x.rolloutId === rolloutId)
}
