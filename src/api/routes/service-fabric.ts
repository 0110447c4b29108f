/**
 * Service Fabric clusters (docs/api.md § Service Fabric clusters): a minimal resource holding node
 * types and their
 * durability, which scale set validation checks against. There is no Service Fabric runtime.
 */
import type { FastifyInstance } from 'fastify'
import { Errors } from '../../errors.js'
import { isPlainObject } from '../../core/scale-set/shape.js'
import type { ServiceDeps } from '../../services/deps.js'
import { SERVICE_FABRIC_TYPE, requireLocation, requireObject } from '../../arm/arm.js'
import { callerOf, requireLinkedAccess, requireNames, requireTags } from '../../services/guards.js'

type Params = { sub: string; rg: string; name: string }
const TYPE = SERVICE_FABRIC_TYPE
const PATH =
  '/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.ServiceFabric/clusters/:name'

export function registerServiceFabricRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const idOf = (p: Params) =>
    `/subscriptions/${p.sub}/resourceGroups/${p.rg}/providers/${TYPE}/${p.name}`
  app.put<{ Params: Params }>(PATH, async (req, reply) => {
    requireNames([
      ['subscription', req.params.sub, 'subscriptionId'],
      ['resourceGroup', req.params.rg, 'resourceGroupName'],
      ['serviceFabricCluster', req.params.name, 'name'],
    ])
    const body = requireObject(req.body)
    requireTags(body)
    requireLocation(body)
    requireLinkedAccess(body, {
      own: req.params.sub,
      caller: callerOf(req.token),
      action: `${TYPE}/write`,
      scope: idOf(req.params),
    })
    const nodeTypes =
      (isPlainObject(body['properties']) ? body['properties']['nodeTypes'] : undefined) ?? []
    if (!Array.isArray(nodeTypes))
      throw Errors.InvalidRequestContent(
        'properties.nodeTypes must be an array.',
        'properties.nodeTypes',
      )
    nodeTypes.forEach((n: unknown, i) => {
      const target = `properties.nodeTypes[${i}]`
      if (!isPlainObject(n) || typeof n['name'] !== 'string')
        throw Errors.InvalidParameter('Every node type needs a name.', `${target}.name`)
      if (!['Bronze', 'Silver', 'Gold'].includes(String(n['durabilityLevel'])))
        throw Errors.InvalidParameter(
          `durabilityLevel '${String(n['durabilityLevel'])}' is not one of Bronze, Silver, Gold.`,
          `${target}.durabilityLevel`,
        )
    })
    const id = idOf(req.params)
    const existing = await deps.store.getResource(id)
    const now = deps.clock.nowMs()
    await deps.store.putResource({
      id,
      type: TYPE,
      subscriptionId: req.params.sub,
      resourceGroup: req.params.rg,
      name: existing?.name ?? req.params.name,
      body: { ...body, id: existing?.body['id'] ?? id },
      etag: `W/"${deps.ids()}"`,
      createdAtMs: existing?.createdAtMs ?? now,
      updatedAtMs: now,
    })
    return reply.status(existing ? 200 : 201).send({
      ...body,
      id: existing?.body['id'] ?? id,
      name: existing?.name ?? req.params.name,
      type: TYPE,
    })
  })
  app.get<{ Params: Params }>(PATH, async (req) => {
    const r = await deps.store.getResource(idOf(req.params))
    if (!r)
      throw Errors.ResourceNotFound(
        `The Resource '${TYPE}/${req.params.name}' under resource group '${req.params.rg}' was not found.`,
      )
    return { ...r.body, name: r.name, type: TYPE }
  })
  app.delete<{ Params: Params }>(PATH, async (req, reply) =>
    reply.status((await deps.store.deleteResource(idOf(req.params))) ? 200 : 204).send(),
  )
}
