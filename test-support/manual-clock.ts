/**
 * A clock that moves only when told (STYLE R4): `advanceTo` resolves every sleeper due by then,
 * in time order, so a test or the simulator controls time exactly.
 */
import type { Clock } from '../src/runtime/clock.js'

type Sleeper = { atMs: number; resolve: () => void }

export class ManualClock implements Clock {
  private sleepers: Sleeper[] = []

  constructor(private now = 0) {}

  nowMs(): number {
    return this.now
  }

  sleepUntil(atMs: number, signal?: AbortSignal): Promise<void> {
    if (atMs <= this.now) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const sleeper = { atMs, resolve }
      this.sleepers.push(sleeper)
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((s) => s !== sleeper)
          reject(signal.reason)
        },
        { once: true },
      )
    })
  }

  /** The earliest time a sleeper waits for, or null. */
  nextSleeperAtMs(): number | null {
    return this.sleepers.length === 0 ? null : Math.min(...this.sleepers.map((s) => s.atMs))
  }

  /** How many sleepers wait. */
  sleeperCount(): number {
    return this.sleepers.length
  }

  /** Moves time forward (never back) and wakes every sleeper due. */
  advanceTo(atMs: number): void {
    if (atMs < this.now) throw new Error(`ManualClock cannot go back from ${this.now} to ${atMs}`)
    this.now = atMs
    const due = this.sleepers.filter((s) => s.atMs <= atMs).sort((a, b) => a.atMs - b.atMs)
    this.sleepers = this.sleepers.filter((s) => s.atMs > atMs)
    for (const s of due) s.resolve()
  }

  advanceBy(ms: number): void {
    this.advanceTo(this.now + ms)
  }
}
