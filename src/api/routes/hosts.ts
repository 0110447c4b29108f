/**
 * The hosts registry (docs/api.md § Hosts): osroll's own installation-wide resource under the
 * `Osroll.Fabric` provider namespace, `/providers/Osroll.Fabric/hosts/{name}`, outside every
 * subscription (a host serves them all). Hosts are the installation's machines, and registering
 * one makes osroll log in somewhere with a key: every route, reads included, needs an Operator.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Errors } from '../../errors.js'
import type { ServiceDeps } from '../../services/deps.js'
import { checkHostNow, deleteHost, getHost, listHosts, putHost } from '../../services/hosts.js'
import { isOperator } from '../../services/tokens.js'
import { apiVersionOf } from '../request.js'

type HostParams = { name: string }
const HOSTS = '/providers/Osroll.Fabric/hosts'

export function registerHostRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const hosts = deps.hosts
  app.get(HOSTS, async (req) => {
    guard(req)
    return listHosts(hosts)
  })
  app.get<{ Params: HostParams }>(`${HOSTS}/:name`, async (req) => {
    guard(req)
    return getHost(hosts, req.params.name)
  })
  app.put<{ Params: HostParams }>(`${HOSTS}/:name`, async (req, reply) => {
    guard(req)
    const r = await putHost(hosts, req.params.name, req.body)
    return reply.status(r.created ? 201 : 200).send(r.view)
  })
  app.delete<{ Params: HostParams }>(`${HOSTS}/:name`, async (req, reply) => {
    guard(req)
    return reply.status((await deleteHost(hosts, req.params.name)) ? 200 : 204).send()
  })
  app.post<{ Params: HostParams }>(`${HOSTS}/:name/check`, async (req) => {
    guard(req)
    return checkHostNow(hosts, req.params.name)
  })
}

/** Operator only, and `api-version` as on every ARM route. */
function guard(req: FastifyRequest): void {
  const token = req.token
  if (!token || !isOperator(token))
    throw Errors.AuthorizationFailed(
      `Hosts belong to the installation, not to a subscription: managing them, reading them included, needs an Operator token; this token's role is '${token?.role ?? 'none'}'.`,
    )
  if (!apiVersionOf(req))
    throw Errors.MissingApiVersionParameter(
      'The api-version query parameter (?api-version=) is required for all requests.',
    )
}
