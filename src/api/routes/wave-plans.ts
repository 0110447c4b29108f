/**
 * Rollout plans (docs/api.md § Rollout plans): osroll's own subscription-level resource under
 * the `Osroll.Upgrades` provider namespace, ordering the automatic OS rollouts of many scale
 * sets into stages (docs/rollouts.md § Waves across scale sets).
 */
import type { FastifyInstance } from 'fastify'
import { callerOf } from '../../services/guards.js'
import type { PlanAction, PlanDeps } from '../../services/wave-plans.js'
import { deletePlan, getPlan, listPlans, planAction, putPlan } from '../../services/wave-plans.js'
import { headerOf } from '../request.js'

type SubParams = { sub: string }
type PlanParams = SubParams & { name: string }
const PLANS = '/subscriptions/:sub/providers/Osroll.Upgrades/rolloutPlans'

export function registerWavePlanRoutes(app: FastifyInstance, deps: PlanDeps): void {
  const ref = (p: PlanParams) => ({ sub: p.sub, name: p.name })
  const pre = (req: Parameters<typeof headerOf>[0]) => ({
    ...(headerOf(req, 'if-match') !== undefined ? { ifMatch: headerOf(req, 'if-match') } : {}),
    ...(headerOf(req, 'if-none-match') !== undefined
      ? { ifNoneMatch: headerOf(req, 'if-none-match') }
      : {}),
  })
  app.get<{ Params: SubParams }>(PLANS, async (req) => listPlans(deps, req.params.sub))
  app.get<{ Params: PlanParams }>(`${PLANS}/:name`, async (req) => getPlan(deps, ref(req.params)))
  for (const method of ['put', 'patch'] as const)
    app[method]<{ Params: PlanParams }>(`${PLANS}/:name`, async (req, reply) => {
      const merge = method === 'patch'
      const r = await putPlan(deps, ref(req.params), req.body, callerOf(req.token), merge, pre(req))
      return reply.status(r.created ? 201 : 200).send(r.view)
    })
  app.delete<{ Params: PlanParams }>(`${PLANS}/:name`, async (req, reply) =>
    reply.status((await deletePlan(deps, ref(req.params), pre(req))) ? 200 : 204).send(),
  )
  for (const action of ['pause', 'resume', 'cancel'] as const satisfies readonly PlanAction[])
    app.post<{ Params: PlanParams }>(`${PLANS}/:name/${action}`, async (req) =>
      planAction(deps, ref(req.params), action),
    )
}
