/**
 * osroll's dry-run plan resource (docs/rollouts.md § The dry-run plan, docs/api.md § Osroll.Upgrades):
 * `GET {scale set}/providers/Osroll.Upgrades/plans/default[?version=V&trigger=Automatic|Manual]`
 * computes what an OS rollout to the latest (or a given) version would do if it started now, with
 * the same pure engine that runs rollouts (`core/rollout/dry-run.ts`). Nothing is written.
 */
import { Errors } from '../errors.js'
import { isLatest } from '../core/image/image-ref.js'
import { isVersion } from '../core/image/version.js'
import type { ScaleSetSpec } from '../core/scale-set/spec.js'
import { formatDurationMs } from '../core/duration.js'
import { dryRun } from '../core/rollout/dry-run.js'
import type { DryRunPlan } from '../core/rollout/dry-run.js'
import { observe } from '../runtime/reconciler.js'
import type { ServiceDeps } from './deps.js'
import { requireScaleSet } from './scale-sets.js'
import { namedVersion } from './rollouts.js'
import type { ScaleSetRef } from './scale-sets.js'
import { frozenTiming } from '../core/rollout/timing.js'
import { windowStateAt } from '../runtime/maintenance-window.js'

export const PLAN_TYPE = 'Osroll.Upgrades/plans'

export type PlanQuery = Readonly<{ version?: string; trigger?: string }>

export async function rolloutPlan(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  q: PlanQuery,
): Promise<Record<string, unknown>> {
  const { resource, state } = await requireScaleSet(deps, ref)
  const spec = state.spec
  const startedBy = triggerOf(q.trigger, spec.automaticOS.enabled)
  if (!isLatest(spec.image))
    throw Errors.OperationNotAllowed(
      "The scale set's image reference names a version, not 'latest': no OS rollout applies to it, so there is nothing to plan.",
    )
  const version = await targetVersion(deps, spec, q.version)
  const [views, records, active] = await Promise.all([
    deps.fabric.listInstances(state.key),
    deps.store.listInstanceRecords(state.key),
    deps.store.getActiveRollout(state.key),
  ])
  const windows = state.maintenanceWindows ?? null
  const plan = dryRun({
    spec,
    instances: observe(views, records),
    request: {
      kind: 'OSImage',
      startedBy,
      target: { imageVersion: version, modelGeneration: spec.modelGeneration },
      pace: 'batched',
      scope: null,
    },
    ...frozenTiming(state.upgradeSettings, deps.config.healthDeadlineMs),
    rollForwardFrom: state.faultedVersions,
    nextInstanceId: state.nextInstanceId,
    nowMs: deps.clock.nowMs(),
    // docs/rollouts.md § Maintenance windows: the plan waits for them as the rollout would.
    ...(windows ? { windowAt: (atMs: number) => windowStateAt(windows, atMs) } : {}),
  })
  return {
    id: `${resource.id.replace(/\/$/, '')}/providers/${PLAN_TYPE}/default`,
    name: 'default',
    type: PLAN_TYPE,
    properties: {
      trigger: startedBy === 'Platform' ? 'Automatic' : 'Manual',
      runningRolloutId: active?.id ?? null,
      ...armPlan(plan),
    },
  }
}

function triggerOf(text: string | undefined, automatic: boolean): 'Platform' | 'User' {
  if (text === undefined || text === '') return automatic ? 'Platform' : 'User'
  const t = text.toLowerCase()
  if (t === 'automatic') return 'Platform'
  if (t === 'manual') return 'User'
  throw Errors.InvalidParameter(
    `trigger '${text}' is not one of Automatic (the policy of automatic OS upgrades) or Manual (osRollingUpgrade's).`,
    'trigger',
  )
}

async function targetVersion(
  deps: ServiceDeps,
  spec: ScaleSetSpec,
  given: string | undefined,
): Promise<string> {
  if (given === undefined || given === '') {
    const latest = await deps.catalog.latestEligible(spec.image, spec.location)
    if (!latest)
      throw Errors.OperationNotAllowed(
        'No image version is available for this scale set in its location.',
      )
    return latest.version
  }
  if (!isVersion(given))
    throw Errors.InvalidParameter(
      `version '${given}' is not an image version (Major.Minor.Patch).`,
      'version',
    )
  return (await namedVersion(deps, { spec }, given)).version
}

/** The plan in the API's shape: durations as ISO 8601, names as the API spells them. */
function armPlan(p: DryRunPlan): Record<string, unknown> {
  return {
    targetImageVersion: p.target.imageVersion,
    rollbackOnFailure: p.rollback,
    adaptiveRamp: p.adaptiveRamp,
    policy: {
      maxBatchInstancePercent: p.policy.batchPercentMax,
      maxUnhealthyInstancePercent: p.policy.unhealthyPercentMax,
      maxUnhealthyUpgradedInstancePercent: p.policy.unhealthyUpgradedPercentMax,
      pauseTimeBetweenBatches: formatDurationMs(p.policy.pauseBetweenBatchesMs),
      enableCrossZoneUpgrade: p.policy.crossZone,
      prioritizeUnhealthyInstances: p.policy.prioritizeUnhealthy,
      maxSurge: p.policy.maxSurge,
    },
    precheck: { passes: p.precheck.passes, error: p.precheck.error },
    batches: p.batches.map((b) => ({
      batch: b.batch,
      instances: b.instances.map((i) => ({
        instanceId: i.instanceId,
        zone: i.zone,
        platformUpdateDomain: i.updateDomain,
        method: i.method,
        fromVersion: i.fromVersion,
        surgeInstanceId: i.surgeInstanceId,
        why: i.why,
      })),
      unhealthyBudget: b.unhealthyBudget,
      upgradedFailuresAllowed: b.upgradedFailuresAllowed,
      rampSize: b.rampSize,
      // Only with maintenance windows: the plan of a set without them is as it was.
      ...(b.window
        ? {
            window: {
              estimatedStart: new Date(b.window.estimatedStartAtMs).toISOString(),
              opensAt: new Date(b.window.openedAtMs).toISOString(),
              closesAt: new Date(b.window.closesAtMs).toISOString(),
            },
          }
        : {}),
    })),
    awaitingApproval: p.awaitingApproval,
    awaitingManualUpgrade: p.awaitingManualUpgrade,
    outcome: p.outcome,
    worstCaseDuration: formatDurationMs(p.worstCaseDurationMs),
    worstCaseAssumes: p.worstCaseAssumes,
  }
}
