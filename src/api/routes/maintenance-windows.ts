/**
 * osroll's maintenance windows of a scale set, an ARM extension resource under the
 * `Osroll.Upgrades` provider namespace (docs/api.md § Osroll.Upgrades, docs/rollouts.md
 * § Maintenance windows): GET, PUT (201 when created), PATCH, DELETE (200, or 204 when none).
 */
import type { FastifyInstance } from 'fastify'
import type { ServiceDeps } from '../../services/deps.js'
import {
  deleteMaintenanceWindows,
  getMaintenanceWindows,
  putMaintenanceWindows,
} from '../../services/maintenance-windows.js'

type SetParams = { sub: string; rg: string; name: string }
const WINDOWS =
  '/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Compute/virtualMachineScaleSets/:name/providers/Osroll.Upgrades/maintenanceWindows/default'

export function registerMaintenanceWindowRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const ref = (p: SetParams) => ({ sub: p.sub, rg: p.rg, name: p.name })
  app.get<{ Params: SetParams }>(WINDOWS, async (req) =>
    getMaintenanceWindows(deps, ref(req.params)),
  )
  for (const method of ['put', 'patch'] as const)
    app[method]<{ Params: SetParams }>(WINDOWS, async (req, reply) => {
      const r = await putMaintenanceWindows(deps, ref(req.params), req.body, method === 'patch')
      return reply.status(r.created && method === 'put' ? 201 : 200).send(r.view)
    })
  app.delete<{ Params: SetParams }>(WINDOWS, async (req, reply) =>
    reply.status((await deleteMaintenanceWindows(deps, ref(req.params))) ? 200 : 204).send(),
  )
}
