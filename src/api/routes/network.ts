/** Load balancers and probes (docs/api.md § Load balancers and probes). */
import type { FastifyInstance } from 'fastify'
import type { ServiceDeps } from '../../services/deps.js'
import {
  deleteLoadBalancer,
  getLoadBalancer,
  getProbe,
  putLoadBalancer,
} from '../../services/load-balancers.js'
import { LB_TYPE } from '../../arm/arm.js'
import { callerOf } from '../../services/guards.js'

type LbParams = { sub: string; rg: string; lb: string }
const LB = '/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Network/loadBalancers'

export function registerNetworkRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const ref = (p: LbParams) => ({ sub: p.sub, rg: p.rg, name: p.lb })
  app.put<{ Params: LbParams }>(`${LB}/:lb`, async (req, reply) => {
    const { created, view } = await putLoadBalancer(
      deps,
      ref(req.params),
      req.body,
      callerOf(req.token),
    )
    return reply.status(created ? 201 : 200).send(view)
  })
  app.get<{ Params: LbParams }>(`${LB}/:lb`, async (req) => getLoadBalancer(deps, ref(req.params)))
  app.get<{ Params: LbParams & { probe: string } }>(`${LB}/:lb/probes/:probe`, async (req) =>
    getProbe(deps, ref(req.params), req.params.probe),
  )
  app.delete<{ Params: LbParams }>(`${LB}/:lb`, async (req, reply) => {
    const deleted = await deleteLoadBalancer(deps, ref(req.params))
    return reply.status(deleted ? 200 : 204).send()
  })
  app.get<{ Params: { sub: string; rg: string } }>(LB, async (req) => {
    const rows = await deps.store.listResources({
      type: LB_TYPE,
      subscriptionId: req.params.sub,
      resourceGroup: req.params.rg,
    })
    return {
      value: await Promise.all(
        rows.map((r) =>
          getLoadBalancer(deps, { sub: req.params.sub, rg: req.params.rg, name: r.name }),
        ),
      ),
    }
  })
}
