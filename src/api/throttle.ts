/**
 * Request limits and failed-login backoff (docs/security.md), applied before authentication so
 * that neither missing nor wrong tokens escape them:
 * - per token: `perMinute` requests a minute for each bearer token (its normalised text, hashed),
 *   or, for requests without one and for the open routes, for each client address;
 * - per client address: `ADDRESS_FACTOR` times that for everything the address sends, whatever
 *   tokens it tries;
 * - backoff: after `FREE_FAILURES` failed authentications (an unknown bearer token or token
 *   endpoint secret) within `FAILURE_WINDOW_MS`, each further one locks the address out for
 *   1 s, 2 s, 4 s … up to `MAX_LOCKOUT_MS`: every request from it that needs a token (and the
 *   token endpoint) is answered 429 before any token is looked up.
 * Fixed one-minute windows, in memory, per replica. Bounded: a map that outgrows `MAX_KEYS` drops
 * its expired entries, and all of them if that is not enough.
 */
import { createHash } from 'node:crypto'

export const ADDRESS_FACTOR = 10
export const FREE_FAILURES = 10
export const FAILURE_WINDOW_MS = 15 * 60_000
export const MAX_LOCKOUT_MS = 5 * 60_000
const WINDOW_MS = 60_000
const MAX_KEYS = 100_000

/** A refused request: the message for the 429 body and the seconds to put in Retry-After. */
export type Refusal = Readonly<{ message: string; retryAfterSeconds: number }>

type Window = { count: number; resetAtMs: number }
type Failures = { count: number; lastMs: number; lockedUntilMs: number }

export class Throttle {
  private readonly windows = new Map<string, Window>()
  private readonly failures = new Map<string, Failures>()

  constructor(
    private readonly perMinute: number,
    private readonly nowMs: () => number,
  ) {}

  /**
   * Counts one request from `address`, presenting bearer token `token` (normalised; undefined
   * when none counts), against its token's (or address's) minute and its address's minute.
   */
  take(address: string, token: string | undefined): Refusal | undefined {
    const now = this.nowMs()
    const byAddress = this.count(`a:${address}`, now)
    const key = token === undefined ? `ip:${address}` : `t:${digest(token)}`
    const byKey = this.count(key, now)
    if (byKey.count > this.perMinute)
      return refusal(
        `More than ${this.perMinute} requests in a minute ${token === undefined ? 'from this address without a token' : 'with this token'}`,
        byKey.resetAtMs - now,
      )
    const max = this.perMinute * ADDRESS_FACTOR
    if (byAddress.count > max)
      return refusal(
        `More than ${max} requests in a minute from this address`,
        byAddress.resetAtMs - now,
      )
    return undefined
  }

  /** While `address` is locked out after failed authentications: why, and for how long. */
  lockedOut(address: string): Refusal | undefined {
    const f = this.failures.get(address)
    const left = f ? f.lockedUntilMs - this.nowMs() : 0
    if (!f || left <= 0) return undefined
    return refusal(
      `${f.count} failed authentications from this address in ${FAILURE_WINDOW_MS / 60_000} minutes; every request with a token is refused for a while`,
      left,
    )
  }

  /** Records a failed authentication from `address` (an unknown token or secret). */
  failed(address: string): void {
    const now = this.nowMs()
    let f = this.failures.get(address)
    if (!f || now - f.lastMs > FAILURE_WINDOW_MS) {
      bound(this.failures, (e) => now - e.lastMs > FAILURE_WINDOW_MS)
      f = { count: 0, lastMs: now, lockedUntilMs: 0 }
      this.failures.set(address, f)
    }
    f.count++
    f.lastMs = now
    const over = f.count - FREE_FAILURES
    if (over > 0)
      f.lockedUntilMs = now + Math.min(MAX_LOCKOUT_MS, 1000 * 2 ** Math.min(20, over - 1))
  }

  private count(key: string, now: number): Window {
    let w = this.windows.get(key)
    if (!w || w.resetAtMs <= now) {
      if (!w) bound(this.windows, (e) => e.resetAtMs <= now)
      w = { count: 0, resetAtMs: now + WINDOW_MS }
      this.windows.set(key, w)
    }
    w.count++
    return w
  }
}

function refusal(what: string, waitMs: number): Refusal {
  const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000))
  return { message: `${what}; retry after ${retryAfterSeconds} s.`, retryAfterSeconds }
}

function digest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url')
}

/** Keeps a map under MAX_KEYS before it gains a key: expired entries go first, then all. */
function bound<V>(map: Map<string, V>, expired: (v: V) => boolean): void {
  if (map.size < MAX_KEYS) return
  for (const [k, v] of map) if (expired(v)) map.delete(k)
  if (map.size >= MAX_KEYS) map.clear()
}
