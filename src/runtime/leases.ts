/**
 * Which replica drives which scale set (docs/architecture.md § Several replicas, issue 5). Every
 * `tickMs` a replica says it is
 * alive, renews the leases it holds, gives up the ones beyond its fair share (so a replica that
 * joins gets work) and takes free or expired ones up to that share (so a dead replica's sets are
 * taken over once its leases expire: within `ttlMs + tickMs`). The orchestrator runs a set's pass
 * only while this replica holds its lease, under the lease's fence (lease-store.ts), so a write
 * made after the lease moved is refused by the database.
 */
import type { Fence, LeaseStore } from '../store/lease-store.js'
import type { Clock } from './clock.js'
import type { Logger } from './logger.js'

export type LeaseManagerOptions = Readonly<{
  store: LeaseStore
  replicaId: string
  clock: Clock
  log: Logger
  /** How long a lease lasts without renewal (default 10 s). */
  ttlMs?: number
  /** How often leases are renewed and free ones looked for (default ttl ÷ 5). */
  tickMs?: number
  /** Every scale set's key. */
  listKeys: () => Promise<readonly string[]>
  /** A lease was taken: drive the set from its stored state. */
  onAcquired: (key: string) => void
  /** Whether a held set may be handed to another replica now (nothing of it in flight here). */
  canRelease: (key: string) => boolean
  metrics?: Readonly<{
    leases: (o: { held: number; replicas: number }) => void
    acquired: (kind: 'new' | 'takeover' | 'released') => void
    lost: () => void
  }>
}>

type Held = { epoch: number; expiresAtMs: number }

export class LeaseManager {
  private readonly held = new Map<string, Held>()
  private readonly ttlMs: number
  private readonly tickMs: number
  private stopped = false
  private wake = new AbortController()
  private loop: Promise<void> | null = null

  constructor(private readonly o: LeaseManagerOptions) {
    this.ttlMs = o.ttlMs ?? 10_000
    this.tickMs = o.tickMs ?? Math.max(100, Math.floor(this.ttlMs / 5))
  }

  get replicaId(): string {
    return this.o.replicaId
  }

  /** The fence of `key` if this replica holds its lease and it has not expired, else null. */
  fence(key: string): Fence | null {
    const h = this.held.get(key)
    if (!h || h.expiresAtMs <= this.o.clock.nowMs()) return null
    return { key, holder: this.o.replicaId, epoch: h.epoch }
  }

  /** Keys whose lease this replica holds (tests, metrics). */
  heldKeys(): string[] {
    return [...this.held.keys()].sort()
  }

  start(): void {
    this.loop ??= this.run()
  }

  /** Stops, hands every lease over at once and leaves the replica list. */
  async stop(): Promise<void> {
    this.stopped = true
    this.wake.abort()
    await this.loop
    for (const key of this.held.keys())
      await this.o.store.releaseLease(key, this.o.replicaId).catch(() => undefined)
    this.held.clear()
    await this.o.store.leaveReplicas(this.o.replicaId).catch(() => undefined)
  }

  /** One round: heartbeat, renew, rebalance, acquire. Exposed for tests. */
  async tick(): Promise<void> {
    const { store, replicaId, clock, log } = this.o
    const now = clock.nowMs()
    const replicas = await store.heartbeat(replicaId, now, this.ttlMs)
    const renewed = new Set(
      await store.renewLeases(replicaId, [...this.held.keys()], now, this.ttlMs),
    )
    for (const [key, h] of this.held) {
      if (renewed.has(key)) {
        h.expiresAtMs = now + this.ttlMs
        continue
      }
      this.held.delete(key)
      this.o.metrics?.lost()
      log.warn({ scaleSet: key, replica: replicaId, epoch: h.epoch }, 'Lease lost')
    }
    const keys = await this.o.listKeys()
    const existing = new Set(keys)
    for (const key of [...this.held.keys()]) {
      if (existing.has(key)) continue
      this.held.delete(key) // the set was deleted
      await store.releaseLease(key, replicaId)
    }
    const fair = Math.ceil(keys.length / Math.max(1, replicas))
    for (const key of [...this.held.keys()].sort().reverse()) {
      if (this.held.size <= fair) break
      if (!this.o.canRelease(key)) continue
      this.held.delete(key)
      await store.releaseLease(key, replicaId)
      log.info({ scaleSet: key, replica: replicaId, fairShare: fair }, 'Lease handed over')
    }
    if (this.held.size >= fair) return this.report(replicas)
    const leases = new Map((await store.listLeases()).map((l) => [l.key, l]))
    // Replicas start looking at different places, so that they rarely race for the same set.
    const offset = hash(replicaId) % Math.max(1, keys.length)
    const order = [...keys.slice(offset), ...keys.slice(0, offset)]
    for (const key of order) {
      if (this.held.size >= fair) break
      if (this.held.has(key)) continue
      const before = leases.get(key)
      if (before && before.expiresAtMs > now) continue
      const got = await store.acquireLease(key, replicaId, now, this.ttlMs)
      if (!got) continue
      this.held.set(key, { epoch: got.epoch, expiresAtMs: got.expiresAtMs })
      const kind =
        !before || before.holder === replicaId
          ? 'new'
          : before.expiresAtMs === 0
            ? 'released'
            : 'takeover'
      this.o.metrics?.acquired(kind)
      const from = before && before.holder !== replicaId ? before.holder : null
      log.info(
        { scaleSet: key, replica: replicaId, epoch: got.epoch, from },
        kind === 'takeover' ? 'Lease taken over' : 'Lease acquired',
      )
      this.o.onAcquired(key)
    }
    this.report(replicas)
  }

  private report(replicas: number): void {
    this.o.metrics?.leases({ held: this.held.size, replicas })
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.tick()
      } catch (err) {
        // The database may be down: leases then expire by themselves, and passes stop (fence()).
        this.o.log.error({ replica: this.o.replicaId, err }, 'Lease round failed')
      }
      if (this.stopped) break
      this.wake = new AbortController()
      await this.o.clock
        .sleepUntil(this.o.clock.nowMs() + this.tickMs, this.wake.signal)
        .catch(() => undefined)
    }
  }
}

function hash(s: string): number {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0
  return h
}
