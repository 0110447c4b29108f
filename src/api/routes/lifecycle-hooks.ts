/**
 * A set's lifecycle hooks (docs/api.md § Osroll.Upgrades, docs/rollouts.md § Lifecycle hooks):
 * `{set}/providers/Osroll.Upgrades/lifecycleHooks/default`, GET, PUT, PATCH and DELETE as ARM
 * answers them (201 on create, 204 on deleting nothing).
 */
import type { FastifyInstance } from 'fastify'
import type { ServiceDeps } from '../../services/deps.js'
import {
  deleteLifecycleHooks,
  getLifecycleHooks,
  putLifecycleHooks,
} from '../../services/lifecycle-hooks.js'

type SetParams = { sub: string; rg: string; name: string }

export function registerHookRoutes(
  app: FastifyInstance,
  deps: ServiceDeps,
  upgrades: string,
): void {
  const ref = (p: SetParams) => ({ sub: p.sub, rg: p.rg, name: p.name })
  const HOOKS = `${upgrades}/lifecycleHooks/default`
  app.get<{ Params: SetParams }>(HOOKS, async (req) => getLifecycleHooks(deps, ref(req.params)))
  for (const method of ['put', 'patch'] as const)
    app[method]<{ Params: SetParams }>(HOOKS, async (req, reply) => {
      const r = await putLifecycleHooks(deps, ref(req.params), req.body, method === 'patch')
      return reply.status(r.created && method === 'put' ? 201 : 200).send(r.view)
    })
  app.delete<{ Params: SetParams }>(HOOKS, async (req, reply) =>
    reply.status((await deleteLifecycleHooks(deps, ref(req.params))) ? 200 : 204).send(),
  )
}
