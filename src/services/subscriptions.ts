/**
 * Subscriptions (docs/api.md § Roles and scopes): one exists once an Owner (or Operator) token has
 * used it, or when
 * main.ts makes the default one at first start. They are never deleted, except to take back one
 * that a refused request created.
 */
import { Errors } from '../errors.js'
import { nameMessage } from '../core/names.js'
import { SUBSCRIPTION_TYPE } from '../arm/arm.js'
import type { TokenRecord } from '../store/control-store.js'
import type { ServiceDeps } from './deps.js'

/** Subscriptions seen to exist; they are never deleted, so this never goes stale. */
const KNOWN = new Set<string>()

/**
 * Whether the subscription exists, creating it when an Owner or Operator uses it first: `created`
 * then, so that a request refused later can take it back (`forgetSubscription`) — a refused
 * request changes nothing.
 */
export async function ensureSubscription(
  deps: ServiceDeps,
  sub: string,
  token: TokenRecord,
): Promise<boolean | 'created'> {
  const key = sub.toLowerCase()
  if (KNOWN.has(key)) return true
  if (await deps.store.getResource(`/subscriptions/${sub}`)) {
    KNOWN.add(key)
    return true
  }
  if (token.role !== 'Owner' && token.role !== 'Operator') return false
  // A subscription id becomes part of every resource id: only well-formed ones (issue 15).
  const bad = nameMessage('subscription', decodeURIComponentSafe(sub))
  if (bad) throw Errors.InvalidSubscriptionId(bad, 'subscriptionId')
  await createSubscription(deps, sub, sub)
  return 'created'
}

/** Takes back a subscription that a refused request created. */
export async function forgetSubscription(deps: ServiceDeps, sub: string): Promise<void> {
  KNOWN.delete(sub.toLowerCase())
  await deps.store.deleteResource(`/subscriptions/${sub}`)
}

export async function createSubscription(
  deps: ServiceDeps,
  sub: string,
  displayName: string,
): Promise<void> {
  const now = deps.clock.nowMs()
  await deps.store.putResource({
    id: `/subscriptions/${sub}`,
    type: SUBSCRIPTION_TYPE,
    subscriptionId: sub,
    resourceGroup: null,
    name: sub,
    body: { displayName },
    etag: `"${now}"`,
    createdAtMs: now,
    updatedAtMs: now,
  })
}

/** The oldest subscription, or a new one named `default` when there is none (main.ts, at start). */
export async function ensureDefaultSubscription(deps: ServiceDeps): Promise<string> {
  const existing = await deps.store.listResources({ type: SUBSCRIPTION_TYPE })
  const first = [...existing].sort((a, b) => a.createdAtMs - b.createdAtMs)[0]
  if (first) return first.name
  const id = deps.ids()
  await createSubscription(deps, id, 'default')
  return id
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}
