/**
 * A set's health gates, an ARM extension resource under `Osroll.Upgrades`
 * (docs/api.md § Osroll.Upgrades, docs/controls.md § Health gates).
 */
import type { FastifyInstance } from 'fastify'
import type { ServiceDeps } from '../../services/deps.js'
import { deleteHealthGates, getHealthGates, putHealthGates } from '../../services/health-gates.js'

type SetParams = { sub: string; rg: string; name: string }
const GATES =
  '/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Compute/virtualMachineScaleSets/:name/providers/Osroll.Upgrades/healthGates/default'

export function registerHealthGateRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const ref = (p: SetParams) => ({ sub: p.sub, rg: p.rg, name: p.name })
  app.get<{ Params: SetParams }>(GATES, async (req) => getHealthGates(deps, ref(req.params)))
  for (const method of ['put', 'patch'] as const)
    app[method]<{ Params: SetParams }>(GATES, async (req, reply) => {
      const r = await putHealthGates(deps, ref(req.params), req.body, method === 'patch')
      return reply.status(r.created && method === 'put' ? 201 : 200).send(r.view)
    })
  app.delete<{ Params: SetParams }>(GATES, async (req, reply) =>
    reply.status((await deleteHealthGates(deps, ref(req.params))) ? 200 : 204).send(),
  )
}
