/**
 * Subscriptions and locations (docs/api.md § Roles and scopes): a subscription exists once an Owner
 * (or Operator)
 * token has used it (services/subscriptions.ts); a caller sees only the subscriptions its token
 * may use.
 */
import type { FastifyInstance } from 'fastify'
import { Errors } from '../../errors.js'
import { SUBSCRIPTION_TYPE } from '../../arm/arm.js'
import type { ServiceDeps } from '../../services/deps.js'
import { canUseSubscription } from '../../services/tokens.js'
import { LOCATIONS } from '../../config/defaults.js'

export const TENANT_ID = '0f5c7a36-4d0e-4e55-9a4c-05a0505e0001'

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
