/**
 * osroll's own rollout resources, ARM extension resources under the `Osroll.Upgrades` provider
 * namespace on a scale set (docs/api.md § Osroll.Upgrades): unmodified Azure clients never see
 * them; `az rest` and the osroll CLI reach them.
 */
import type { FastifyInstance } from 'fastify'
import type { ServiceDeps } from '../../services/deps.js'
import { rolloutPlan } from '../../services/rollout-plans.js'

type SetParams = { sub: string; rg: string; name: string }
const SET =
  '/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Compute/virtualMachineScaleSets/:name'
const UPGRADES = `${SET}/providers/Osroll.Upgrades`

export function registerUpgradeRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  app.get<{ Params: SetParams; Querystring: { version?: string; trigger?: string } }>(
    `${UPGRADES}/plans/default`,
    async (req) =>
      rolloutPlan(
        deps,
        { sub: req.params.sub, rg: req.params.rg, name: req.params.name },
        { version: req.query.version, trigger: req.query.trigger },
      ),
  )
}
