/**
 * The retention sweep (docs/operations.md § Quotas and retention): every `intervalMs` it
 * deletes operations that ended more than `operationRetentionMs` ago, re-checks in-progress ones
 * nobody has polled for that long (so an operation whose rollout or set is gone ends, and goes in
 * a later sweep), and deletes rollouts whose set no longer exists. Each step works in bounded
 * batches (STYLE R6). Every replica sweeps: the deletions are idempotent and a re-check is what
 * any poll of the operation does, so no lease is needed.
 */
import type { Clock } from './clock.js'
import type { Logger } from './logger.js'
import type { Store } from '../store/store.js'
import type { ControlStore, OperationRecord } from '../store/control-store.js'

export type RetentionOptions = Readonly<{
  store: Pick<Store, 'pruneOrphanRollouts'> &
    Pick<ControlStore, 'listStaleOperations' | 'deleteEndedOperations'>
  clock: Clock
  log: Logger
  operationRetentionMs: number
  /** Re-derives an operation's status from what it tracks, saving it once final. */
  refreshOperation: (id: string) => Promise<OperationRecord>
  /** Between sweeps (default 5 min); the first runs one interval after start. */
  intervalMs?: number
  /** Rows per statement (default 500). */
  batch?: number
  /** Statements per step and sweep (default 20): a sweep's work is bounded. */
  maxRounds?: number
}>

export type SweepResult = Readonly<{
  operationsDeleted: number
  operationsRechecked: number
  orphanRolloutsDeleted: number
}>

export class RetentionSweeper {
  private stopped = false
  private readonly wake = new AbortController()
  private loop: Promise<void> | null = null

  constructor(private readonly o: RetentionOptions) {}

  start(): void {
    this.loop ??= this.run()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.wake.abort()
    await this.loop
  }

  /** One sweep at the clock's now. */
  async sweep(): Promise<SweepResult> {
    const { store, clock } = this.o
    const batch = this.o.batch ?? 500
    const cutoff = clock.nowMs() - this.o.operationRetentionMs
    let operationsRechecked = 0
    for (const op of await store.listStaleOperations(cutoff, batch)) {
      await this.o.refreshOperation(op.id).catch((err: unknown) => {
        this.o.log.warn({ err, operation: op.id }, 'Re-checking an operation failed')
      })
      operationsRechecked++
    }
    const operationsDeleted = await this.rounds(() => store.deleteEndedOperations(cutoff, batch))
    const orphanRolloutsDeleted = await this.rounds(() => store.pruneOrphanRollouts(batch))
    return { operationsDeleted, operationsRechecked, orphanRolloutsDeleted }
  }

  /** Runs `step` until it deletes less than a batch or the rounds run out; the total. */
  private async rounds(step: () => Promise<number>): Promise<number> {
    const batch = this.o.batch ?? 500
    let total = 0
    for (let i = 0; i < (this.o.maxRounds ?? 20) && !this.stopped; i++) {
      const n = await step()
      total += n
      if (n < batch) break
    }
    return total
  }

  private async run(): Promise<void> {
    const interval = this.o.intervalMs ?? 300_000
    while (!this.stopped) {
      try {
        await this.o.clock.sleepUntil(this.o.clock.nowMs() + interval, this.wake.signal)
      } catch {
        return // stopped
      }
      try {
        const r = await this.sweep()
        if (r.operationsDeleted + r.orphanRolloutsDeleted > 0)
          this.o.log.info({ ...r }, 'Retention sweep')
      } catch (err) {
        this.o.log.warn({ err }, 'Retention sweep failed; retrying at the next interval')
      }
    }
  }
}
