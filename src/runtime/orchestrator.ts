/**
 * The reconcile loop (STYLE R1): a keyed, de-duplicating work queue of scale sets. Each key runs
 * at most once at a time; a pass says when to run again (a deadline), a running rollout is
 * polled every `activePollMs` (fabrics report progress as state, not events), a failed pass is
 * retried with capped exponential backoff, effects that settle and API writes enqueue at once,
 * and every set is resynced every `resyncMs` in case anything was missed.
 */
import type { Clock } from './clock.js'
import type { PassResult, ReconcilerDeps } from './reconciler.js'
import { reconcile } from './reconciler.js'
import { fenceScope } from '../store/lease-store.js'
import type { Fence } from '../store/lease-store.js'

export type OrchestratorOptions = Readonly<{
  /** Scale sets reconciled in parallel (default 8). */
  concurrency?: number
  /** Poll interval of a set with a running rollout (default 1 s). */
  activePollMs?: number
  /** Full resync of every set (default 30 s). */
  resyncMs?: number
  /** Keys to reconcile at start and on every resync. */
  listKeys: () => Promise<readonly string[]>
  /** Runs one pass; `reconcile` by default (tests may wrap it). */
  pass?: (key: string, deps: ReconcilerDeps) => Promise<PassResult>
  /**
   * With several replicas (leases.ts): a set is reconciled only while this replica holds its
   * lease, and the pass (with the effects it starts) runs under the lease's fence.
   */
  lease?: Readonly<{ fence: (key: string) => Fence | null }>
}>

export class Orchestrator {
  private readonly due = new Map<string, number>()
  private readonly running = new Set<string>()
  private readonly failures = new Map<string, number>()
  private wake = new AbortController()
  private stopped = false
  private loop: Promise<void> | null = null
  private nextResyncAtMs = 0
  /** The loop is reading the keys of a resync (they are not in `due` yet). */
  private resyncing = false
  /** Callers of `idle()` waiting for the loop to find nothing to do. */
  private idlers: (() => void)[] = []
  /** Passes run so far (for tests and metrics). */
  passes = 0

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly o: OrchestratorOptions,
  ) {}

  start(): void {
    if (this.loop) return
    this.loop = this.run()
  }

  /** Schedules `key` at `atMs` (now by default); an earlier schedule wins. */
  enqueue(key: string, atMs: number = this.clock.nowMs()): void {
    const current = this.due.get(key)
    if (current !== undefined && current <= atMs) return
    this.due.set(key, atMs)
    this.wake.abort()
  }

  /**
   * Resolves once no pass runs and none is due by now: every wake-up asked so far has been
   * answered (a key due later is not waited for). Effects still running may enqueue again, so a
   * caller that needs them done too awaits the effect runner as well. Tests and the simulator use
   * it to say "nothing happens now" without sleeping (docs/architecture.md § The simulator).
   */
  async idle(): Promise<void> {
    while (!this.quiet()) await new Promise<void>((resolve) => this.idlers.push(resolve))
  }

  /**
   * Resolves once nothing runs at all: no pass is due by now or running and no effect is in
   * flight (an effect that settles enqueues its set, which is then run first). On a manual clock
   * an effect waiting for its retry backoff never settles: the simulator uses `idle()`.
   */
  async settled(): Promise<void> {
    do {
      await this.idle()
      await this.deps.effects.idle()
    } while (!this.quiet())
  }

  /** Stops taking work, waits for running passes and effects. */
  async stop(): Promise<void> {
    this.stopped = true
    this.wake.abort()
    await this.loop
    this.deps.effects.close()
    await this.deps.effects.idle()
  }

  private get clock(): Clock {
    return this.deps.clock
  }

  private async run(): Promise<void> {
    const inFlight = new Set<Promise<void>>()
    while (!this.stopped) {
      const now = this.clock.nowMs()
      if (now >= this.nextResyncAtMs) {
        this.nextResyncAtMs = now + (this.o.resyncMs ?? 30_000)
        this.resyncing = true
        try {
          for (const key of await this.o.listKeys()) this.enqueue(key, now)
        } finally {
          this.resyncing = false
        }
      }
      for (const key of this.dueKeys(now)) {
        this.due.delete(key)
        this.running.add(key)
        const p = this.runPass(key).finally(() => {
          this.running.delete(key)
          inFlight.delete(p)
          this.wake.abort()
        })
        inFlight.add(p)
      }
      await this.sleep()
    }
    await Promise.allSettled([...inFlight])
    this.tellIdlers()
  }

  /** Nothing to do at this instant (a loop not started or stopped runs nothing more). */
  private quiet(): boolean {
    if (this.running.size > 0) return false
    if (!this.loop || this.stopped) return true
    const now = this.clock.nowMs()
    if (this.resyncing || now >= this.nextResyncAtMs) return false
    for (const at of this.due.values()) if (at <= now) return false
    return true
  }

  private tellIdlers(): void {
    if (this.idlers.length === 0 || !this.quiet()) return
    const idlers = this.idlers
    this.idlers = []
    for (const resolve of idlers) resolve()
  }

  private dueKeys(now: number): string[] {
    const free = (this.o.concurrency ?? 8) - this.running.size
    if (free <= 0) return []
    const ready = [...this.due.entries()].filter(([k, at]) => at <= now && !this.running.has(k))
    ready.sort((a, b) => a[1] - b[1])
    return ready.slice(0, free).map(([k]) => k)
  }

  private async runPass(key: string): Promise<void> {
    const pass = this.o.pass ?? reconcile
    let fence: Fence | null = null
    if (this.o.lease) {
      fence = this.o.lease.fence(key)
      // Another replica drives it; the lease manager enqueues it if this one takes it over.
      if (!fence) return
    }
    try {
      this.passes++
      const result = fence
        ? await fenceScope.run(fence, () => pass(key, this.deps))
        : await pass(key, this.deps)
      this.failures.delete(key)
      const now = this.clock.nowMs()
      // A rollout waiting for its maintenance window has no batch to watch: it wakes when the
      // window opens (wakeAtMs) and on the resync, as an idle set (docs/rollouts.md
      // § Maintenance windows).
      const r = result.rollout
      const poll =
        r?.status === 'RollingForward' && r.windowWait == null
          ? now + (this.o.activePollMs ?? 1000)
          : null
      const next = [result.wakeAtMs, poll].filter((x): x is number => x !== null)
      if (next.length > 0) this.enqueue(key, Math.max(now, Math.min(...next)))
    } catch (err) {
      if ((err as { code?: string }).code === 'LeaseLost') {
        this.deps.log.warn({ scaleSet: key, reason: (err as Error).message }, 'Write refused')
        return
      }
      const n = (this.failures.get(key) ?? 0) + 1
      this.failures.set(key, n)
      const backoffMs = Math.min(30_000, 500 * 2 ** (n - 1))
      this.deps.log.error({ scaleSet: key, attempt: n, backoffMs, err }, 'Reconcile pass failed')
      this.enqueue(key, this.clock.nowMs() + backoffMs)
    }
  }

  private async sleep(): Promise<void> {
    if (this.stopped) return
    this.tellIdlers()
    this.wake = new AbortController()
    // With every slot taken, a due key waits for a pass to end (which wakes the loop), not for
    // its time, which has come: sleeping until it would return at once and spin.
    const full = this.running.size >= (this.o.concurrency ?? 8)
    const pending = full
      ? []
      : [...this.due.entries()].filter(([k]) => !this.running.has(k)).map(([, at]) => at)
    const until = Math.min(this.nextResyncAtMs, ...pending)
    if (until <= this.clock.nowMs() && !full) return
    await this.clock.sleepUntil(until, this.wake.signal).catch(() => {})
  }
}
