/**
 * Leases (docs/architecture.md § Several replicas, issue 5): each scale set is driven by one
 * replica at a time. A lease names
 * its holder and an epoch that grows on every change of hands; a driver's writes carry the fence
 * (holder + epoch) of the set they belong to and the store refuses them, in the same database
 * transaction, once the lease has moved on. A paused or partitioned replica that wakes up after a
 * takeover therefore cannot write, whatever it still believes in memory.
 */
import { AsyncLocalStorage } from 'node:async_hooks'

export type Fence = Readonly<{ key: string; holder: string; epoch: number }>

export type LeaseRow = Readonly<{
  key: string
  holder: string
  epoch: number
  expiresAtMs: number
}>

export interface LeaseStore {
  /** Records that `replicaId` is alive; returns how many replicas were seen within `ttlMs`. */
  heartbeat(replicaId: string, nowMs: number, ttlMs: number): Promise<number>
  /** Forgets a replica (graceful stop), so the others rebalance at once. */
  leaveReplicas(replicaId: string): Promise<void>
  listLeases(): Promise<readonly LeaseRow[]>
  /**
   * Takes the lease of `key` if it is free, expired or released: the epoch grows by one.
   * Returns the new lease, or null when another holder's lease is still valid.
   */
  acquireLease(key: string, holder: string, nowMs: number, ttlMs: number): Promise<LeaseRow | null>
  /** Extends the leases `holder` still holds among `keys`; returns the keys it still holds. */
  renewLeases(
    holder: string,
    keys: readonly string[],
    nowMs: number,
    ttlMs: number,
  ): Promise<readonly string[]>
  /** Gives a lease up (expires it now); the epoch is kept so the next holder's is higher. */
  releaseLease(key: string, holder: string): Promise<void>
}

/**
 * The fence of the code running now: the reconciler runs each pass, and the effect runner each
 * effect, inside `fenceScope.run(fence, …)`; the store fences every write made under it.
 */
export const fenceScope = new AsyncLocalStorage<Fence>()
