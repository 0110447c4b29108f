/**
 * Input guards every write shares (issue 15): resource names by ARM's rules, tags by ARM's
 * limits, and linked authorization — a body may refer to another subscription's resource only
 * when the caller's token may read that subscription.
 */
import { Errors } from '../errors.js'
import { firstNameProblem, quoteName } from '../core/names.js'
import type { NameKind } from '../core/names.js'
import { tagsProblem } from '../core/tags.js'
import { linkedIds } from '../core/references.js'
import { problemsError } from '../arm/arm.js'
import type { TokenRecord } from '../store/control-store.js'
import { canUseSubscription } from './tokens.js'

/** Who makes a write, as far as linked resources go: which subscriptions it may read. */
export type Caller = Readonly<{ canRead: (subscription: string) => boolean }>

/** The caller a token makes; without one, only the write's own subscription is readable. */
export function callerOf(token: TokenRecord | undefined): Caller | undefined {
  return token ? { canRead: (sub) => canUseSubscription(token, sub) } : undefined
}

/** Throws `InvalidResourceName` (400) for the first name that breaks its rule. */
export function requireNames(names: readonly (readonly [NameKind, unknown, string])[]): void {
  const p = firstNameProblem(names)
  if (p) throw problemsError([p])
}

/** Throws for tags past ARM's limits (50 tags, names ≤ 512, values ≤ 256 characters). */
export function requireTags(body: unknown): void {
  const tags =
    typeof body === 'object' && body !== null
      ? (body as Record<string, unknown>)['tags']
      : undefined
  const p = tagsProblem(tags)
  if (p) throw problemsError([p])
}

/**
 * Refuses (403 `LinkedAuthorizationFailed`) a body that links to a resource of a subscription
 * other than `own` that the caller may not read. The answer is the same whether the linked
 * resource exists or not, so it tells nothing about another subscription.
 */
export function requireLinkedAccess(
  body: unknown,
  o: { own: string; caller: Caller | undefined; action: string; scope: string },
): void {
  const own = o.own.toLowerCase()
  for (const link of linkedIds(body)) {
    const sub = link.subscription.toLowerCase()
    if (sub === own || (o.caller?.canRead(sub) ?? false)) continue
    throw Errors.LinkedAuthorizationFailed(
      `The token may perform action '${o.action}' on scope ${quoteName(o.scope, 300)}; however, it does not have permission to read the linked scope ${quoteName(link.id, 300)} (at ${quoteName(link.path, 200)}), or the linked scope is invalid.`,
      link.path.slice(0, 300),
    )
  }
}
