/**
 * API tokens (SPEC §8): random bearer tokens, stored only as SHA-256 hashes, each with a role
 * (Reader: GET only; Contributor: everything but the image catalog; Owner: everything) and
 * optionally limited to subscriptions. The data dir's admin token is an Owner of everything.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { ControlStore, TokenRecord } from '../store/control-store.js'
import { Errors } from '../errors.js'

export type Role = TokenRecord['role']
export const ROLES: readonly Role[] = ['Reader', 'Contributor', 'Owner']

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** Issues a token; the plain text is returned once and never stored. */
export async function createToken(
  store: ControlStore,
  o: { role: Role; subscriptions: readonly string[]; label: string; nowMs: number },
): Promise<string> {
  if (!ROLES.includes(o.role))
    throw Errors.InvalidParameter(`Role '${o.role}' is not one of ${ROLES.join(', ')}.`, 'role')
  const token = `osr_${randomBytes(24).toString('base64url')}`
  await store.putToken({
    hash: hashToken(token),
    role: o.role,
    subscriptions: o.subscriptions.map((s) => s.toLowerCase()),
    label: o.label,
    createdAtMs: o.nowMs,
  })
  return token
}

/**
 * Looks tokens up by hash, remembering answers for `ttlMs` (default 5 s) so that a busy API does
 * not read the token table on every request: a newly issued token works at once (misses are not
 * remembered); a token removed from the store is refused within `ttlMs`. Bounded to 10,000 entries.
 */
export class TokenCache {
  private readonly entries = new Map<string, { record: TokenRecord; untilMs: number }>()

  constructor(
    private readonly store: ControlStore,
    private readonly nowMs: () => number,
    private readonly ttlMs = 5_000,
  ) {}

  async authenticate(token: string): Promise<TokenRecord | undefined> {
    const hash = hashToken(token)
    const hit = this.entries.get(hash)
    const now = this.nowMs()
    if (hit && hit.untilMs > now) return hit.record
    const record = await this.store.getToken(hash)
    if (!record) {
      this.entries.delete(hash)
      return undefined
    }
    if (this.entries.size >= 10_000) this.entries.clear()
    this.entries.set(hash, { record, untilMs: now + this.ttlMs })
    return record
  }
}

/** The token's record, or undefined when unknown (uncached: the token endpoint uses it). */
export async function authenticate(
  store: ControlStore,
  token: string,
): Promise<TokenRecord | undefined> {
  return store.getToken(hashToken(token))
}

/** Whether a token may use a subscription. */
export function canUseSubscription(t: TokenRecord, sub: string): boolean {
  return t.subscriptions.length === 0 || t.subscriptions.includes(sub.toLowerCase())
}

/** Whether a role may make this call: Reader only reads; only an Owner changes the image catalog. */
export function roleAllows(role: Role, method: string, catalogWrite: boolean): boolean {
  if (method === 'GET' || method === 'HEAD') return true
  if (role === 'Reader') return false
  return !catalogWrite || role === 'Owner'
}
