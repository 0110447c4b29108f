/**
 * The queue's invariants, checked while the simulator drives the real orchestrator (queue mode,
 * `queue-harness.ts`): every pass answers a request (enqueues made before it collapse into it),
 * never two passes of a set at once nor more than the concurrency, a pass starts exactly when its
 * earliest request falls due (never early, never late), a failed pass asks to run again after
 * the capped exponential backoff, a pass's wake-up reaches the queue, and when the orchestrator
 * says it is idle no request due by now is left unserved.
 */
import type { PassResult } from '../../src/runtime/reconciler.js'

export type QueueWatchOptions = Readonly<{ concurrency: number; activePollMs: number }>

type KeyState = {
  /** The times asked by every enqueue since the key's last pass started. */
  requests: number[]
  running: boolean
  /** When the last pass ended (a pass cannot start before the previous one ends). */
  endedAtMs: number
  /** Consecutive failed passes, and when the backoff says to retry. */
  failures: number
  retryAtMs: number | null
  /** When the last successful pass asked to run again (its wake-up or the active poll). */
  wakeAtMs: number | null
}

export class QueueWatch {
  readonly violations: string[] = []
  passes = 0
  failedPasses = 0
  /** Passes that answered several requests at once (the queue's de-duplication at work). */
  collapsed = 0
  private keys = new Map<string, KeyState>()
  private runningCount = 0

  constructor(private readonly o: QueueWatchOptions) {}

  /** An `enqueue(key, atMs)` of the orchestrator, from outside or from itself. */
  requested(key: string, atMs: number): void {
    this.of(key).requests.push(atMs)
  }

  started(key: string, nowMs: number): void {
    const k = this.of(key)
    const at = `t=${nowMs}ms ${key}`
    this.passes++
    if (k.running) this.fail(`${at}: a second pass started while one ran`)
    if (++this.runningCount > this.o.concurrency)
      this.fail(`${at}: ${this.runningCount} passes at once, more than ${this.o.concurrency}`)
    k.running = true
    if (k.requests.length === 0) this.fail(`${at}: a pass no request asked for`)
    else {
      if (k.requests.length > 1) this.collapsed++
      const due = Math.max(Math.min(...k.requests), k.endedAtMs)
      if (due !== nowMs) this.fail(`${at}: a pass started at ${nowMs}, its request was due ${due}`)
    }
    if (k.retryAtMs !== null && !k.requests.includes(k.retryAtMs))
      this.fail(`${at}: failure ${k.failures} did not ask for its retry at ${k.retryAtMs}`)
    if (k.wakeAtMs !== null && !k.requests.includes(k.wakeAtMs))
      this.fail(`${at}: the last pass asked to run at ${k.wakeAtMs}; the queue was not told`)
    k.requests = []
    k.retryAtMs = null
    k.wakeAtMs = null
  }

  /** A pass that returned: the queue must ask for what it said (wake-up or poll). */
  succeeded(key: string, nowMs: number, result: PassResult): void {
    const k = this.ended(key, nowMs)
    k.failures = 0
    // A rollout waiting for its maintenance window is not polled (orchestrator.ts).
    const r = result.rollout
    const poll =
      r?.status === 'RollingForward' && r.windowWait == null ? nowMs + this.o.activePollMs : null
    const next = [result.wakeAtMs, poll].filter((x): x is number => x !== null)
    k.wakeAtMs = next.length > 0 ? Math.max(nowMs, Math.min(...next)) : null
  }

  /** A pass that threw: the n-th failure in a row retries after min(30 s, 500 ms × 2^(n−1)). */
  failed(key: string, nowMs: number): void {
    const k = this.ended(key, nowMs)
    this.failedPasses++
    k.failures++
    k.retryAtMs = nowMs + Math.min(30_000, 500 * 2 ** (k.failures - 1))
  }

  /** The orchestrator said it is idle at `nowMs`: nothing asked for by then may wait. */
  idleAt(nowMs: number): void {
    for (const [key, k] of this.keys) {
      const due = k.requests.filter((t) => t <= nowMs)
      if (!k.running && due.length > 0)
        this.fail(`t=${nowMs}ms ${key}: idle with a request due at ${Math.min(...due)} unserved`)
    }
  }

  /** Whether a set not running has a request due by `nowMs` (the queue has work now). */
  dueBy(nowMs: number): boolean {
    for (const k of this.keys.values())
      if (!k.running && k.requests.some((t) => t <= nowMs)) return true
    return false
  }

  /** A new orchestrator (after a crash) starts with an empty queue. */
  reset(): void {
    this.keys = new Map()
    this.runningCount = 0
  }

  private ended(key: string, nowMs: number): KeyState {
    const k = this.of(key)
    k.running = false
    this.runningCount--
    k.endedAtMs = nowMs
    return k
  }

  private of(key: string): KeyState {
    let k = this.keys.get(key)
    if (!k) {
      k = {
        requests: [],
        running: false,
        endedAtMs: 0,
        failures: 0,
        retryAtMs: null,
        wakeAtMs: null,
      }
      this.keys.set(key, k)
    }
    return k
  }

  private fail(message: string): void {
    if (this.violations.length < 20) this.violations.push(message)
  }
}
