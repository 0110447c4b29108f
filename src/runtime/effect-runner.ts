/**
 * Carries out a plan's actions against the fabric and the store (STYLE R2: the plan was saved
 * first). Each action is split per instance and runs at most once at a time per instance; a call
 * has a timeout, a retryable failure is retried with backoff up to a cap, and a final failure is
 * kept for the next plan, which decides what it means. Completion wakes the scale set up again.
 */
import type { Action, EffectFailure } from '../core/rollout/types.js'
import { AppError } from '../errors.js'
import { isTransientStoreError } from '../store/transient.js'
import { noteEffect } from './effect-notes.js'
import type { Fabric } from '../fabrics/types/fabric.js'
import type { Store } from '../store/store.js'
import type { ImageCatalog } from './catalog.js'
import type { Clock } from './clock.js'
import type { Logger } from './logger.js'
import type { SubnetAddresses } from './subnet-addresses.js'
import type { HookAnswer } from '../core/rollout/hooks.js'
import type { HookCaller } from './hook-caller.js'
import { actionUnits } from './effect-units.js'
import type { Artifacts, EffectContext, Unit } from './effect-units.js'

export type { Artifacts, EffectContext } from './effect-units.js'

export type EffectRunnerDeps = Readonly<{
  fabric: Fabric
  store: Store
  catalog: ImageCatalog
  clock: Clock
  log: Logger
  /** Called when an effect of `scaleSetKey` settles, so the set is reconciled again. */
  onSettled: (scaleSetKey: string) => void
  /** Per-call timeout (default 10 minutes: a local reimage copies a disk and boots). */
  callTimeoutMs?: number
  /** Retries of a retryable failure (default 3), with backoff from 250 ms doubling. */
  retries?: number
  /**
   * Subnet addresses (subnet-addresses.ts): claimed before an instance of a set that names a
   * subnet is created, given back once it is deleted. Absent (the simulator): no claims.
   */
  addresses?: SubnetAddresses
  /**
   * Lifecycle hooks' caller (hook-caller.ts; the simulator's own). Absent: a call answers
   * `connection` at once, so the hook's default applies.
   */
  hooks?: HookCaller
  /** Told of each hook call's result (metrics.ts); optional. */
  onHookResult?: (hook: string, kind: string) => void
}>

/** A fabric call in flight: what its deadline aborts and rejects. */
type Call = { controller: AbortController; deadline: number; reject: (err: unknown) => void }

export class EffectRunner {
  private readonly inFlight = new Map<string, Promise<void>>()
  /** What runs per set (lane key → action type), so per-set questions need not scan them all. */
  private readonly bySet = new Map<string, Map<string, Action['type']>>()
  private readonly failures = new Map<string, EffectFailure[]>()
  /** Hook answers not yet taken by a pass, per set; a call is not repeated while its answer waits. */
  private readonly answers = new Map<string, HookAnswer[]>()
  /** Sets forgotten (deleted) while effects of theirs still ran: what those learn is dropped. */
  private readonly forgotten = new Set<string>()
  private readonly closing = new AbortController()

  constructor(private readonly deps: EffectRunnerDeps) {}

  /**
   * Starts the catalog lookups that `run` will need for these actions, so that they overlap the
   * save of the decision (persist-before-act allows reads); hand the result to `run`.
   */
  prefetch(ctx: EffectContext, actions: readonly Action[]): Artifacts {
    const artifacts: Artifacts = new Map()
    for (const a of actions) {
      const versions =
        a.type === 'reimage'
          ? [a.imageVersion]
          : a.type === 'create'
            ? a.instances.map((n) => n.imageVersion)
            : []
      for (const v of versions) {
        if (artifacts.has(v)) continue
        const p = this.deps.catalog.artifact(ctx.image, v, ctx.location)
        p.catch(() => undefined) // seen by whoever awaits it; unused if the save fails
        artifacts.set(v, p)
      }
    }
    return artifacts
  }

  /** Starts the actions that are not already running; returns at once. */
  run(ctx: EffectContext, actions: readonly Action[], prefetched?: Artifacts): void {
    if (this.closing.signal.aborted || actions.length === 0) return
    // The calls started here start together, so their first attempts share one deadline and
    // one AbortController (creating one per call was ≈ 2 µs each, docs/performance.md).
    const together = new AbortController()
    const deadline = this.deps.clock.nowMs() + this.timeoutMs
    this.forgotten.delete(ctx.scaleSetKey) // the set is driven again (re-created)
    for (const unit of actionUnits(this.deps, ctx, actions, prefetched ?? new Map(), (a) =>
      this.hookUnit(ctx, a),
    )) {
      // One fabric call at a time per instance; store-only actions (deferral tags) and hook
      // calls run beside it.
      const lane =
        unit.type === 'markPending' || unit.type === 'clearPending'
          ? 'store'
          : unit.type === 'callHook'
            ? 'hook'
            : 'fabric'
      const key = `${ctx.scaleSetKey}|${unit.instanceId}|${lane}`
      if (this.inFlight.has(key)) continue
      if (unit.answered?.()) continue
      let types = this.bySet.get(ctx.scaleSetKey)
      if (!types) this.bySet.set(ctx.scaleSetKey, (types = new Map()))
      types.set(key, unit.type)
      const p = this.execute(ctx, unit, together, deadline).finally(() => {
        this.inFlight.delete(key)
        const types = this.bySet.get(ctx.scaleSetKey)
        types?.delete(key)
        if (!types || types.size === 0) {
          this.bySet.delete(ctx.scaleSetKey)
          this.forgotten.delete(ctx.scaleSetKey)
        }
        this.deps.onSettled(ctx.scaleSetKey)
      })
      this.inFlight.set(key, p)
    }
  }

  /** Final failures since the last call, for the next plan of this set. */
  takeFailures(scaleSetKey: string): EffectFailure[] {
    const list = this.failures.get(scaleSetKey) ?? []
    this.failures.delete(scaleSetKey)
    return list
  }

  /** Hook answers since the last call, for the next plan of this set. */
  takeHookAnswers(scaleSetKey: string): HookAnswer[] {
    const list = this.answers.get(scaleSetKey) ?? []
    this.answers.delete(scaleSetKey)
    return list
  }

  /**
   * Drops what the runner keeps for a set that is gone (its failures and hook answers not taken
   * yet); what its effects still in flight learn later is dropped too, not kept for a next pass
   * that never comes.
   */
  forget(scaleSetKey: string): void {
    this.failures.delete(scaleSetKey)
    this.answers.delete(scaleSetKey)
    if (this.busy(scaleSetKey) > 0) this.forgotten.add(scaleSetKey)
  }

  /** Effects running for a set (used to tell "in flight" from "never started"). */
  busy(scaleSetKey: string): number {
    return this.bySet.get(scaleSetKey)?.size ?? 0
  }

  /** Stops retrying and starts nothing new (shutdown, or a simulated crash). */
  close(): void {
    this.closing.abort(new Error('effect runner closed'))
  }

  /** Whether an effect of one of these types is running for the set (e.g. a create). */
  busyWith(scaleSetKey: string, types: readonly Action['type'][]): boolean {
    for (const t of this.bySet.get(scaleSetKey)?.values() ?? []) if (types.includes(t)) return true
    return false
  }

  /** Resolves when no effect is running (tests, the simulator, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()])
  }

  private async execute(
    ctx: EffectContext,
    unit: Unit,
    together: AbortController,
    deadline: number,
  ): Promise<void> {
    const scaleSetKey = ctx.scaleSetKey
    const retries = this.deps.retries ?? 3
    for (let attempt = 0; ; attempt++) {
      if (this.closing.signal.aborted) return
      try {
        // A retry starts later, on its own deadline.
        if (attempt === 0) await this.withTimeout(unit.run, together, deadline)
        else
          await this.withTimeout(
            unit.run,
            new AbortController(),
            this.deps.clock.nowMs() + this.timeoutMs,
          )
        await noteEffect(this.deps, ctx, unit.type, unit.instanceId)
        return
      } catch (err) {
        if (err instanceof AppError && err.code === 'LeaseLost') {
          // Another replica drives the set now; what this one was doing is not a failure of it.
          this.deps.log.warn(
            { scaleSet: scaleSetKey, instanceIds: [unit.instanceId], action: unit.type },
            'Effect fenced off: lease lost',
          )
          return
        }
        // A store that lost its connection is not the instance's fault: retry it like the fabric.
        const retryable = (err instanceof AppError && err.retryable) || isTransientStoreError(err)
        const message = err instanceof Error ? err.message : String(err)
        const log = {
          scaleSet: scaleSetKey,
          instanceIds: [unit.instanceId],
          action: unit.type,
          attempt,
          reason: message,
        }
        if (retryable && attempt < retries) {
          this.deps.log.warn(log, 'Effect failed, retrying')
          const backoffMs = 250 * 2 ** attempt
          const slept = await this.deps.clock
            .sleepUntil(this.deps.clock.nowMs() + backoffMs, this.closing.signal)
            .then(
              () => true,
              () => false,
            )
          if (!slept) return
          continue
        }
        this.deps.log.error(log, 'Effect failed')
        if (this.forgotten.has(scaleSetKey)) return
        const list = this.failures.get(scaleSetKey) ?? []
        list.push({ instanceId: unit.instanceId, action: unit.type, message })
        this.failures.set(scaleSetKey, list)
        return
      }
    }
  }

  private get timeoutMs(): number {
    return this.deps.callTimeoutMs ?? 600_000
  }

  /**
   * Runs a fabric call under the per-call timeout. One sleeper on the injected clock watches the
   * earliest deadline instead of a timer, an abort listener and a race per call: those were
   * ≈ 3 µs of a fleet rollout's every effect (docs/performance.md). The deadlines are the clock's
   * time, so a manual clock (tests, the simulator) decides when a call times out.
   */
  private async withTimeout(
    run: (signal: AbortSignal) => Promise<void>,
    controller: AbortController,
    deadline: number,
  ): Promise<void> {
    let call!: Call
    const done = new Promise<void>((resolve, reject) => {
      call = { controller, deadline, reject }
      run(controller.signal).then(resolve, reject)
    })
    this.calls.add(call)
    this.armSweep(deadline)
    try {
      await done
    } finally {
      // A finished call is not aborted: that would build a DOMException per effect.
      this.calls.delete(call)
      if (this.calls.size === 0) this.disarmSweep()
    }
  }

  private readonly calls = new Set<Call>()
  /** The sleeper that fires at the earliest deadline of `calls` (or none). */
  private sweep: { atMs: number; stop: AbortController } | null = null

  private armSweep(deadline: number): void {
    if (this.sweep && this.sweep.atMs <= deadline) return
    this.disarmSweep()
    const sweep = { atMs: deadline, stop: new AbortController() }
    this.sweep = sweep
    this.deps.clock.sleepUntil(deadline, sweep.stop.signal).then(
      () => {
        if (this.sweep !== sweep) return
        this.sweep = null
        this.expire()
      },
      () => undefined,
    )
  }

  private disarmSweep(): void {
    if (!this.sweep) return
    this.sweep.stop.abort()
    this.sweep = null
  }

  private expire(): void {
    const now = this.deps.clock.nowMs()
    let next = Infinity
    for (const call of this.calls) {
      if (call.deadline > now) {
        next = Math.min(next, call.deadline)
        continue
      }
      this.calls.delete(call)
      const err = new Error(`timed out after ${this.timeoutMs} ms`)
      // Calls that share a controller share its deadline: the first to expire aborts it for all.
      if (!call.controller.signal.aborted) call.controller.abort(err)
      call.reject(err)
    }
    if (next !== Infinity) this.armSweep(next)
  }

  /** A hook call: its result (never an exception) waits for the next pass. */
  private hookUnit(ctx: EffectContext, a: Extract<Action, { type: 'callHook' }>): Unit {
    const key = ctx.scaleSetKey
    const rolloutId = ctx.rolloutId ?? null
    const same = (x: HookAnswer) =>
      x.rolloutId === rolloutId &&
      x.instanceId === a.instanceId &&
      x.hook === a.hook &&
      x.call === a.call
    return {
      instanceId: a.instanceId,
      type: a.type,
      answered: () => (this.answers.get(key) ?? []).some(same),
      run: async (signal) => {
        const request = {
          hook: a.hook,
          scaleSetId: key,
          rolloutId: ctx.rolloutId ?? null,
          instanceId: a.instanceId,
          batch: a.batch,
          fromVersion: a.fromVersion,
          targetVersion: a.targetVersion,
          deferrals: a.deferrals,
        }
        this.deps.log.info(
          { scaleSet: key, rollout: ctx.rolloutId, instanceIds: [a.instanceId], hook: a.hook },
          'Calling lifecycle hook',
        )
        const result = this.deps.hooks
          ? await this.deps.hooks.call(a, request, signal)
          : ({ kind: 'error', cause: 'connection', detail: 'no hook caller' } as const)
        this.deps.onHookResult?.(a.hook, result.kind === 'answer' ? 'answer' : result.cause)
        if (this.forgotten.has(key)) return // the set was deleted while the hook was asked
        const list = (this.answers.get(key) ?? []).filter((x) => !same(x))
        list.push({ rolloutId, instanceId: a.instanceId, hook: a.hook, call: a.call, result })
        this.answers.set(key, list)
      },
    }
  }
}
