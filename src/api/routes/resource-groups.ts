/**
 * Microsoft.Resources resource groups (docs/api.md § Resource groups): GET, HEAD, PUT, PATCH,
 * DELETE (202 with a `Location` to poll), the subscription's list, the group's generic resource
 * list, and the gate every route under a group passes (`resourceGroupGate`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ServiceDeps } from '../../services/deps.js'
import {
  createImplicitGroup,
  deleteResourceGroup,
  forgetResourceGroup,
  getResourceGroup,
  listGroupResources,
  listResourceGroups,
  patchResourceGroup,
  putResourceGroup,
  resourceGroupExists,
  resourceGroupNotFound,
} from '../../services/resource-groups.js'
import type { GroupRef } from '../../services/resource-groups.js'
import { requireNames } from '../../services/guards.js'
import { createOperation, readOperation } from '../../services/operations.js'
import { Errors } from '../../errors.js'
import { acceptedAtLocation, locationAnswer, retryAfterSecondsOf } from '../lro.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** A group this request made implicitly (taken back if the request is refused). */
    createdResourceGroup?: GroupRef
  }
}

type Params = { sub: string; rg: string }
type Query = { Querystring: Record<string, string | undefined> }
const GROUPS = '/subscriptions/:sub/resourcegroups'
const GROUP = `${GROUPS}/:rg`

export function registerResourceGroupRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const ref = (p: Params): GroupRef => ({ sub: p.sub, rg: p.rg })
  // Before the GET: Fastify would otherwise answer HEAD as the GET does (200).
  app.head<{ Params: Params }>(GROUP, async (req, reply) =>
    reply.status((await resourceGroupExists(deps, ref(req.params))) ? 204 : 404).send(),
  )
  app.get<{ Params: Params }>(GROUP, async (req) => getResourceGroup(deps, ref(req.params)))
  app.put<{ Params: Params }>(GROUP, async (req, reply) => {
    const { created, view } = await putResourceGroup(deps, ref(req.params), req.body)
    return reply.status(created ? 201 : 200).send(view)
  })
  app.patch<{ Params: Params }>(GROUP, async (req) =>
    patchResourceGroup(deps, ref(req.params), req.body),
  )
  app.delete<{ Params: Params }>(GROUP, async (req, reply) => {
    await deleteResourceGroup(deps, ref(req.params))
    const op = await createOperation(deps, req.params.sub, 'deleteResourceGroup', { kind: 'none' })
    return acceptedAtLocation(req, reply, req.params.sub, op, deps.config.retryAfterSeconds)
  })
  app.get<{ Params: { sub: string } } & Query>(GROUPS, async (req) => ({
    value: await listResourceGroups(deps, req.params.sub, topOf(req.query)),
  }))
  app.get<{ Params: Params } & Query>(`${GROUP}/resources`, async (req) => ({
    value: await listGroupResources(deps, ref(req.params), topOf(req.query)),
  }))
  app.get<{ Params: { sub: string; opId: string } }>(
    '/subscriptions/:sub/operationresults/:opId',
    async (req, reply) => {
      const op = await readOperation(deps, req.params.sub, req.params.opId)
      if (op.status === 'InProgress')
        reply.header(
          'Retry-After',
          String(retryAfterSecondsOf(op, deps.clock.nowMs(), deps.config.retryAfterSeconds)),
        )
      return locationAnswer(req, reply, op)
    },
  )
}

/** Routes of resources inside a group: everything under `…/resourceGroups/:rg/`. */
const IN_GROUP = /^\/subscriptions\/:sub\/resourcegroups\/:rg\/./i

/**
 * The preHandler every route under a group passes, after authorization (a caller that may not
 * write is refused before it learns whether the group exists): a missing group is
 * `ResourceGroupNotFound`, for reads and writes alike, as in Azure. With implicit groups
 * (docs/operations.md § Resource groups), a PUT makes the group in the body's location instead,
 * and other methods go on as before groups existed.
 */
export function resourceGroupGate(deps: ServiceDeps) {
  return async (req: FastifyRequest): Promise<void> => {
    if (!IN_GROUP.test(req.routeOptions.url ?? '')) return
    const { sub, rg } = req.params as Params
    const writes = req.method !== 'GET' && req.method !== 'HEAD'
    // A write keeps answering a malformed name as such (400), not as a missing group.
    if (writes)
      requireNames([
        ['subscription', sub, 'subscriptionId'],
        ['resourceGroup', rg, 'resourceGroupName'],
      ])
    if (await resourceGroupExists(deps, { sub, rg })) return
    if (!deps.config.implicitResourceGroups) throw resourceGroupNotFound(rg)
    const location = (req.body as { location?: unknown } | undefined)?.location
    if (req.method === 'PUT' && typeof location === 'string' && location !== '')
      if (await createImplicitGroup(deps, { sub, rg }, location))
        req.createdResourceGroup = { sub, rg }
  }
}

/** The onSend hook that takes back a group a refused request made implicitly. */
export function forgetRefusedGroup(deps: ServiceDeps) {
  return async (req: FastifyRequest, reply: { statusCode: number }, payload: unknown) => {
    if (req.createdResourceGroup && reply.statusCode >= 400)
      await forgetResourceGroup(deps, req.createdResourceGroup)
    return payload
  }
}

/** `$top`: a positive whole number, or absent. */
function topOf(q: Record<string, string | undefined>): number | undefined {
  const text = q['$top']
  if (text === undefined) return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1)
    throw Errors.InvalidParameter(`$top '${text}' must be a positive whole number.`, '$top')
  return n
}
