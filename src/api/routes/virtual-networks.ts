/** Virtual networks and subnets (docs/api.md § Virtual networks and subnets). */
import type { FastifyInstance } from 'fastify'
import type { ServiceDeps } from '../../services/deps.js'
import {
  deleteSubnet,
  deleteVirtualNetwork,
  getSubnet,
  getVirtualNetwork,
  listSubnets,
  listVirtualNetworks,
  putSubnet,
  putVirtualNetwork,
} from '../../services/virtual-networks.js'
import { callerOf } from '../../services/guards.js'

type VnetParams = { sub: string; rg: string; vnet: string }
type SubnetParams = VnetParams & { subnet: string }
const VNETS = '/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Network/virtualNetworks'
const ALL_VNETS = '/subscriptions/:sub/providers/Microsoft.Network/virtualNetworks'

export function registerVirtualNetworkRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const ref = (p: VnetParams) => ({ sub: p.sub, rg: p.rg, name: p.vnet })
  app.put<{ Params: VnetParams }>(`${VNETS}/:vnet`, async (req, reply) => {
    const r = await putVirtualNetwork(deps, ref(req.params), req.body, callerOf(req.token))
    return reply.status(r.created ? 201 : 200).send(r.view)
  })
  app.get<{ Params: VnetParams }>(`${VNETS}/:vnet`, async (req) =>
    getVirtualNetwork(deps, ref(req.params)),
  )
  app.delete<{ Params: VnetParams }>(`${VNETS}/:vnet`, async (req, reply) => {
    const deleted = await deleteVirtualNetwork(deps, ref(req.params))
    return reply.status(deleted ? 200 : 204).send()
  })
  app.get<{ Params: { sub: string; rg: string } }>(VNETS, async (req) => ({
    value: await listVirtualNetworks(deps, req.params.sub, req.params.rg),
  }))
  app.get<{ Params: { sub: string } }>(ALL_VNETS, async (req) => ({
    value: await listVirtualNetworks(deps, req.params.sub),
  }))

  const SUBNETS = `${VNETS}/:vnet/subnets`
  app.put<{ Params: SubnetParams }>(`${SUBNETS}/:subnet`, async (req, reply) => {
    const p = req.params
    const r = await putSubnet(deps, ref(p), p.subnet, req.body, callerOf(req.token))
    return reply.status(r.created ? 201 : 200).send(r.view)
  })
  app.get<{ Params: SubnetParams }>(`${SUBNETS}/:subnet`, async (req) =>
    getSubnet(deps, ref(req.params), req.params.subnet),
  )
  app.delete<{ Params: SubnetParams }>(`${SUBNETS}/:subnet`, async (req, reply) => {
    const deleted = await deleteSubnet(deps, ref(req.params), req.params.subnet)
    return reply.status(deleted ? 200 : 204).send()
  })
  app.get<{ Params: VnetParams }>(SUBNETS, async (req) => ({
    value: await listSubnets(deps, ref(req.params)),
  }))
}
