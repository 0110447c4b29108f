/**
 * osroll's own rollout resources, ARM extension resources under the `Osroll.Upgrades` provider
 * namespace on a scale set (docs/api.md § Osroll.Upgrades): unmodified Azure clients never see
 * them; `az rest` and the osroll CLI reach them.
 */
import type { FastifyInstance } from 'fastify'
import type { ServiceDeps } from '../../services/deps.js'
import { getQuarantine, listQuarantine, releaseQuarantine } from '../../services/quarantine.js'
import { rolloutPlan } from '../../services/rollout-plans.js'
import { currentRollout, pauseRollout, resumeRollout } from '../../services/rollout-controls.js'
import { startRolloutAction } from '../../services/rollout-start.js'
import { requireScaleSet } from '../../services/scale-sets.js'
import { normalizeLocation } from '../../core/scale-set/to-spec.js'
import { accepted } from '../lro.js'
import { registerHookRoutes } from './lifecycle-hooks.js'
import {
  listRolloutsView,
  rolloutById,
  rolloutTimelineView,
} from '../../services/rollout-timeline.js'
import {
  deleteUpgradeSettings,
  getUpgradeSettings,
  putUpgradeSettings,
} from '../../services/upgrade-settings.js'

type SetParams = { sub: string; rg: string; name: string }
const SET =
  '/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Compute/virtualMachineScaleSets/:name'
const UPGRADES = `${SET}/providers/Osroll.Upgrades`

export function registerUpgradeRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const ref = (p: SetParams) => ({ sub: p.sub, rg: p.rg, name: p.name })
  const SETTINGS = `${UPGRADES}/upgradeSettings/default`
  registerHookRoutes(app, deps, UPGRADES)
  app.get<{ Params: SetParams }>(SETTINGS, async (req) => getUpgradeSettings(deps, ref(req.params)))
  for (const method of ['put', 'patch'] as const)
    app[method]<{ Params: SetParams }>(SETTINGS, async (req, reply) => {
      const r = await putUpgradeSettings(deps, ref(req.params), req.body, method === 'patch')
      return reply.status(r.created && method === 'put' ? 201 : 200).send(r.view)
    })
  app.delete<{ Params: SetParams }>(SETTINGS, async (req, reply) =>
    reply.status((await deleteUpgradeSettings(deps, ref(req.params))) ? 200 : 204).send(),
  )
  // docs/rollouts.md § Rollback on every path: a long-running action, answered as osRollingUpgrade.
  app.post<{ Params: SetParams }>(`${UPGRADES}/rollouts/start`, async (req, reply) => {
    const op = await startRolloutAction(deps, ref(req.params), req.body)
    const { resource } = await requireScaleSet(deps, ref(req.params))
    const location = normalizeLocation(String(resource.body['location']))
    return accepted(req, reply, req.params.sub, location, op, deps.config.retryAfterSeconds)
  })
  app.get<{ Params: SetParams }>(`${UPGRADES}/rollouts/current`, async (req) =>
    currentRollout(deps, ref(req.params)),
  )
  // Static `current` routes win over `:rolloutId` (find-my-way); `current/timeline` is the id's.
  type RolloutParams = SetParams & { rolloutId: string }
  app.get<{ Params: SetParams }>(`${UPGRADES}/rollouts`, async (req) =>
    listRolloutsView(deps, ref(req.params)),
  )
  app.get<{ Params: RolloutParams }>(`${UPGRADES}/rollouts/:rolloutId`, async (req) =>
    rolloutById(deps, ref(req.params), req.params.rolloutId),
  )
  app.get<{ Params: RolloutParams }>(`${UPGRADES}/rollouts/:rolloutId/timeline`, async (req) =>
    rolloutTimelineView(deps, ref(req.params), req.params.rolloutId),
  )
  app.post<{ Params: SetParams }>(`${UPGRADES}/rollouts/current/pause`, async (req) =>
    pauseRollout(deps, ref(req.params)),
  )
  app.post<{ Params: SetParams }>(`${UPGRADES}/rollouts/current/resume`, async (req) =>
    resumeRollout(deps, ref(req.params)),
  )
  const QUARANTINE = `${UPGRADES}/quarantinedVersions`
  type VersionParams = SetParams & { version: string }
  app.get<{ Params: SetParams }>(QUARANTINE, async (req) => listQuarantine(deps, ref(req.params)))
  app.get<{ Params: VersionParams }>(`${QUARANTINE}/:version`, async (req) =>
    getQuarantine(deps, ref(req.params), req.params.version),
  )
  app.post<{ Params: VersionParams }>(`${QUARANTINE}/:version/release`, async (req) =>
    releaseQuarantine(deps, ref(req.params), req.params.version),
  )
  app.get<{ Params: SetParams; Querystring: { version?: string; trigger?: string } }>(
    `${UPGRADES}/plans/default`,
    async (req) =>
      rolloutPlan(
        deps,
        { sub: req.params.sub, rg: req.params.rg, name: req.params.name },
        { version: req.query.version, trigger: req.query.trigger },
      ),
  )
}
