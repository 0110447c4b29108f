/**
 * Subscriptions and locations (SPEC §8.1): a subscription exists once an Owner (or Operator)
 * token has used it; a caller sees only the subscriptions its token may use.
 */
import type { FastifyInstance } from 'fastify'
import { AppError, Errors } from '../../errors.js'
import { nameMessage } from '../../core/names.js'
import { SUBSCRIPTION_TYPE } from '../../arm/arm.js'
import type { ServiceDeps } from '../../services/deps.js'
import type { TokenRecord } from '../../store/control-store.js'
import { canUseSubscription } from '../../services/tokens.js'
import { LOCATIONS } from '../../config/defaults.js'

/** Subscriptions seen to exist; they are never deleted, so this never goes stale. */
const KNOWN = new Set<string>()

export const TENANT_ID = '0f5c7a36-4d0e-4e55-9a4c-05a0505e0001'

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
  if (bad) throw new AppError('InvalidSubscriptionId', 400, false, bad, 'subscriptionId')
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

export function registerSubscriptionRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const view = (sub: string, displayName: string) => ({
    id: `/subscriptions/${sub}`,
    subscriptionId: sub,
    tenantId: TENANT_ID,
    displayName,
    state: 'Enabled',
    subscriptionPolicies: {
      locationPlacementId: 'Public_2014-09-01',
      quotaId: 'osroll',
      spendingLimit: 'Off',
    },
    authorizationSource: 'RoleBased',
  })
  app.get('/subscriptions', async (req) => {
    const all = await deps.store.listResources({ type: SUBSCRIPTION_TYPE })
    const visible = all.filter((s) => req.token && canUseSubscription(req.token, s.subscriptionId))
    return { value: visible.map((s) => view(s.name, String(s.body['displayName'] ?? s.name))) }
  })
  app.get<{ Params: { sub: string } }>('/subscriptions/:sub', async (req) => {
    const s = await deps.store.getResource(`/subscriptions/${req.params.sub}`)
    if (!s) throw Errors.NotFound(`The subscription '${req.params.sub}' could not be found.`)
    return view(s.name, String(s.body['displayName'] ?? s.name))
  })
  app.get<{ Params: { sub: string } }>('/subscriptions/:sub/locations', async (req) => ({
    value: LOCATIONS.map((name) => ({
      id: `/subscriptions/${req.params.sub}/locations/${name}`,
      name,
      displayName: name,
      regionalDisplayName: name,
      metadata: { regionType: 'Physical' },
    })),
  }))
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}
