/**
 * Microsoft.Compute routes
 * (docs/api.md § Scale set shape, § Instances and their views, § Long-running operations;
 * docs/rollouts.md R9): scale sets, their instances, OS rollouts
 * and their history, and the operation status resources that unmodified pollers follow.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServiceDeps } from '../../services/deps.js'
import {
  deleteScaleSet,
  getScaleSet,
  listScaleSets,
  putScaleSet,
  requireScaleSet,
} from '../../services/scale-sets.js'
import type { ScaleSetRef } from '../../services/scale-sets.js'
import { callerOf } from '../../services/guards.js'
import {
  bootDiagnostics,
  getInstance,
  getInstanceView,
  listInstances,
  networkInterfaces,
  putInstanceProtection,
  scaleSetInstanceView,
} from '../../services/instances.js'
import {
  approveRollingUpgrade,
  cancelRollout,
  extensionRollingUpgrade,
  manualUpgrade,
  startOsRollout,
} from '../../services/rollouts.js'
import { latestRollout, osUpgradeHistory } from '../../services/rollout-history.js'
import { createOperation, readOperation } from '../../services/operations.js'
import { accepted, locationAnswer, retryAfterSecondsOf, withAsyncOperation } from '../lro.js'
import { apiVersionOf, headerOf } from '../request.js'
import { normalizeLocation } from '../../core/scale-set/to-spec.js'

type SetParams = { sub: string; rg: string; name: string }
type VmParams = SetParams & { instanceId: string }
const SETS =
  '/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Compute/virtualMachineScaleSets'
const SET = `${SETS}/:name`

const ref = (p: SetParams): ScaleSetRef => ({ sub: p.sub, rg: p.rg, name: p.name })
const expand = (req: FastifyRequest) =>
  /instanceView/i.test(String((req.query as Record<string, unknown>)['$expand'] ?? ''))
const locationOf = async (deps: ServiceDeps, p: SetParams) =>
  normalizeLocation(String((await requireScaleSet(deps, ref(p))).resource.body['location']))

export function registerComputeRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  registerScaleSetRoutes(app, deps)
  registerInstanceRoutes(app, deps)
  registerUpgradeRoutes(app, deps)
  registerOperationRoutes(app, deps)
}

/** The sets themselves: PUT, PATCH, GET, DELETE and the lists. */
function registerScaleSetRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const retry = deps.config.retryAfterSeconds
  const write =
    (patch: boolean) => async (req: FastifyRequest<{ Params: SetParams }>, reply: FastifyReply) => {
      const { created, view, key } = await putScaleSet(deps, {
        ref: ref(req.params),
        body: req.body,
        apiVersion: apiVersionOf(req) as string,
        patch,
        caller: callerOf(req.token),
        ...(headerOf(req, 'if-match') !== undefined
          ? { ifMatch: headerOf(req, 'if-match') as string }
          : {}),
        ...(headerOf(req, 'if-none-match') !== undefined
          ? { ifNoneMatch: headerOf(req, 'if-none-match') as string }
          : {}),
      })
      const op = await createOperation(
        deps,
        req.params.sub,
        patch ? 'updateScaleSet' : 'putScaleSet',
        { kind: 'scaleSet', scaleSetKey: key },
        key,
      )
      withAsyncOperation(req, reply, req.params.sub, String(view['location']), op, retry)
      return reply
        .status(created ? 201 : 200)
        .header('ETag', String(view['etag']))
        .send(view)
    }
  app.put<{ Params: SetParams }>(SET, write(false))
  app.patch<{ Params: SetParams }>(SET, write(true))
  app.get<{ Params: SetParams }>(SET, async (req, reply) => {
    const view = await getScaleSet(deps, ref(req.params))
    return reply.header('ETag', String(view['etag'])).send(view)
  })
  app.delete<{ Params: SetParams }>(SET, async (req, reply) => {
    const location = await locationOf(deps, req.params).catch(() => null)
    if (location === null) return reply.status(204).send()
    await deleteScaleSet(deps, ref(req.params))
    const op = await createOperation(deps, req.params.sub, 'deleteScaleSet', { kind: 'none' })
    return accepted(req, reply, req.params.sub, location, op, retry)
  })
  app.get<{ Params: { sub: string; rg: string } }>(SETS, async (req) => ({
    value: await listScaleSets(deps, req.params.sub, req.params.rg),
  }))
  app.get<{ Params: { sub: string } }>(
    '/subscriptions/:sub/providers/Microsoft.Compute/virtualMachineScaleSets',
    async (req) => ({
      value: await listScaleSets(deps, req.params.sub),
    }),
  )
}

/** A set's instances, their views, protection, boot diagnostics and network interfaces. */
function registerInstanceRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  app.get<{ Params: SetParams }>(`${SET}/instanceView`, async (req) =>
    scaleSetInstanceView(deps, ref(req.params)),
  )
  app.get<{ Params: SetParams }>(`${SET}/virtualMachines`, async (req) => ({
    value: await listInstances(deps, ref(req.params), expand(req)),
  }))
  app.get<{ Params: VmParams }>(`${SET}/virtualMachines/:instanceId`, async (req) =>
    getInstance(deps, ref(req.params), req.params.instanceId, expand(req)),
  )
  app.get<{ Params: VmParams }>(`${SET}/virtualMachines/:instanceId/instanceView`, async (req) =>
    getInstanceView(deps, ref(req.params), req.params.instanceId),
  )
  app.put<{ Params: VmParams }>(`${SET}/virtualMachines/:instanceId`, async (req) =>
    putInstanceProtection(deps, ref(req.params), req.params.instanceId, req.body),
  )

  app.get<{ Params: VmParams }>(`${SET}/virtualMachines/:instanceId/bootDiagnostics`, async (req) =>
    bootDiagnostics(deps, ref(req.params), req.params.instanceId),
  )
  app.get<{ Params: SetParams }>(`${SET}/networkInterfaces`, async (req) => ({
    value: await networkInterfaces(deps, ref(req.params)),
  }))
  app.get<{ Params: VmParams }>(
    `${SET}/virtualMachines/:instanceId/networkInterfaces`,
    async (req) => ({
      value: await networkInterfaces(deps, ref(req.params), req.params.instanceId),
    }),
  )
}

/** The upgrade actions (each a long-running operation), the latest rollout and the history. */
function registerUpgradeRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const retry = deps.config.retryAfterSeconds
  const action = (
    name: string,
    run: (req: FastifyRequest<{ Params: VmParams }>) => ReturnType<typeof startOsRollout>,
  ) =>
    app.post<{ Params: VmParams }>(`${SET}/${name}`, async (req, reply) => {
      const op = await run(req)
      return accepted(req, reply, req.params.sub, await locationOf(deps, req.params), op, retry)
    })
  action('manualupgrade', (req) => manualUpgrade(deps, ref(req.params), req.body))
  action('approveRollingUpgrade', (req) => approveRollingUpgrade(deps, ref(req.params), req.body))
  action('virtualMachines/:instanceId/approveRollingUpgrade', (req) =>
    approveRollingUpgrade(deps, ref(req.params), undefined, req.params.instanceId),
  )
  action('extensionRollingUpgrade', (req) => extensionRollingUpgrade(deps, ref(req.params)))

  app.post<{ Params: SetParams }>(`${SET}/osRollingUpgrade`, async (req, reply) => {
    const op = await startOsRollout(deps, ref(req.params))
    return accepted(req, reply, req.params.sub, await locationOf(deps, req.params), op, retry)
  })
  app.post<{ Params: SetParams }>(`${SET}/rollingUpgrades/cancel`, async (req, reply) => {
    const op = await cancelRollout(deps, ref(req.params))
    return accepted(req, reply, req.params.sub, await locationOf(deps, req.params), op, retry)
  })
  app.get<{ Params: SetParams }>(`${SET}/rollingUpgrades/latest`, async (req) =>
    latestRollout(deps, ref(req.params)),
  )
  app.get<{ Params: SetParams; Querystring: Record<string, string> }>(
    `${SET}/osUpgradeHistory`,
    async (req) => {
      const base = `${req.protocol}://${req.headers.host ?? 'localhost'}${req.url.split('?')[0]}`
      const v = encodeURIComponent(apiVersionOf(req) as string)
      return osUpgradeHistory(deps, ref(req.params), {
        ...(req.query['$skiptoken'] ? { skipToken: req.query['$skiptoken'] } : {}),
        pageUrl: (token) => `${base}?api-version=${v}&$skiptoken=${token}`,
      })
    },
  )
}

/** Compute's operation status (the Azure-AsyncOperation and Location targets). */
function registerOperationRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const retry = deps.config.retryAfterSeconds
  app.get<{
    Params: { sub: string; loc: string; opId: string }
    Querystring: Record<string, string>
  }>(
    '/subscriptions/:sub/providers/Microsoft.Compute/locations/:loc/operations/:opId',
    async (req, reply) => {
      const op = await readOperation(deps, req.params.sub, req.params.opId)
      if (op.status === 'InProgress')
        reply.header('Retry-After', String(retryAfterSecondsOf(op, deps.clock.nowMs(), retry)))
      if (req.query['monitor'] === 'true') return locationAnswer(req, reply, op)
      return {
        name: op.id,
        status: op.status,
        startTime: new Date(op.startTimeMs).toISOString(),
        ...(op.endTimeMs !== null ? { endTime: new Date(op.endTimeMs).toISOString() } : {}),
        ...(op.error ? { error: op.error } : {}),
      }
    },
  )
}
