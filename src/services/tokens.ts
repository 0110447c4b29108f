/**
 * API tokens (docs/security.md § Authentication): random bearer tokens, stored only as SHA-256
 * hashes, each with a role and
 * optionally limited to subscriptions. Reader: GET only; Contributor: everything in its
 * subscriptions but creating them; Owner: everything in its subscriptions; Operator: above
 * subscriptions (never limited to any), everything, and the only role that publishes or deletes
 * platform images, which belong to no subscription. The data dir's admin token is an Operator.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { ControlStore, TokenRecord } from '../store/control-store.js'
import { Errors } from '../errors.js'

export type Role = TokenRecord['role']
export const ROLES: readonly Role[] = ['Reader', 'Contributor', 'Owner', 'Operator']
/** The role above subscriptions: the data dir's admin token has it. */
export const OPERATOR: Role = 'Operator'

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
  if (o.role === OPERATOR && o.subscriptions.length > 0)
    throw Errors.InvalidParameter(
      'An Operator token is above subscriptions and cannot be limited to some; issue an Owner token for those subscriptions instead.',
      'subscriptions',
    )
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

/** The token of an `Authorization: Bearer <token>` header (scheme in any case, spaces trimmed). */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^\s*bearer\s+(\S+)\s*$/i.exec(header)
  return m?.[1]
}

/** Whether the token is an Operator: the role, and (whatever a store row says) no subscription limit. */
export function isOperator(t: TokenRecord): boolean {
  return t.role === OPERATOR && t.subscriptions.length === 0
}

/** Whether a token may use a subscription. */
export function canUseSubscription(t: TokenRecord, sub: string): boolean {
  return t.subscriptions.length === 0 || t.subscriptions.includes(sub.toLowerCase())
}

/**
 * Whether a token may make this call: a Reader only reads; only an Operator writes the platform
 * image catalog (`catalogWrite`: the matched route says so).
 */
export function roleAllows(t: TokenRecord, method: string, catalogWrite: boolean): boolean {
  if (catalogWrite) return isOperator(t)
  if (method === 'GET' || method === 'HEAD') return true
  return t.role !== 'Reader'
}
