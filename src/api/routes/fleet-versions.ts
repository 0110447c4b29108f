/**
 * What the fleet runs (docs/api.md § Fleet versions): osroll's own subscription-level read under
 * the `Osroll.Upgrades` provider namespace.
 */
import type { FastifyInstance } from 'fastify'
import type { ServiceDeps } from '../../services/deps.js'
import { fleetVersions } from '../../services/fleet-versions.js'

type Params = { sub: string }
type Query = { $expand?: string }

export function registerFleetVersionRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  app.get<{ Params: Params; Querystring: Query }>(
    '/subscriptions/:sub/providers/Osroll.Upgrades/fleetVersions',
    async (req) => fleetVersions(deps, req.params.sub, { expand: req.query.$expand }),
  )
}
