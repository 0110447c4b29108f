/**
 * osroll's rollout resources by id and their per-instance timelines
 * (docs/rollouts.md § Per-instance timeline, docs/api.md § Osroll.Upgrades): `…/rollouts` (the
 * set's history with ids), `…/rollouts/{id}` and `…/rollouts/{id|current}/timeline`. Read-only:
 * derived from the stored rollout and its events, so a timeline stays as long as its rollout.
 */
import { rolloutConditions } from '../core/rollout/conditions.js'
import { armCondition } from './rollout-controls.js'
import { Errors } from '../errors.js'
import { formatDurationMs } from '../core/duration.js'
import { progressOf } from '../core/rollout/progress.js'
import { rolloutTimeline } from '../core/rollout/timeline.js'
import type { InstanceTimeline, Placement } from '../core/rollout/timeline.js'
import type { HookRecord, Rollout } from '../core/rollout/types.js'
import type { StoredResource } from '../store/control-store.js'
import type { ServiceDeps } from './deps.js'
import { ROLLOUT_STATUS_TYPE } from './rollout-controls.js'
import { iso } from './rollout-history.js'
import { requireScaleSet } from './scale-sets.js'
import type { ScaleSetRef } from './scale-sets.js'

export const TIMELINE_TYPE = `${ROLLOUT_STATUS_TYPE}/timeline`
/** How many rollouts `GET …/rollouts` lists, newest first (the history keeps 100 by default). */
const LIST_LIMIT = 100

/**
 * GET …/rollouts/{id}/timeline (`current`: the running rollout, else the latest).
 * @example GET …/rollouts/current/timeline → { properties: { rolloutId, batches: [...],
 *   instances: [{ instanceId: '0', steps: [{ step: 'requested', time: '…', reason: 'Batch1' }…] }] } }
 */
export async function rolloutTimelineView(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  rolloutId: string,
): Promise<Record<string, unknown>> {
  const { resource, r } = await requireRollout(deps, ref, rolloutId)
  const [events, views] = await Promise.all([
    deps.store.listEvents(r.id),
    deps.fabric.listInstances(r.scaleSetKey),
  ])
  // Where each instance sits: the fabric's word for instances still there, else unknown.
  const placed = new Map<string, Placement>(
    views.map((v) => [v.instanceId, { zone: v.zone, updateDomain: v.updateDomain }]),
  )
  const t = rolloutTimeline(r, events, (id) => placed.get(id))
  return {
    id: `${rolloutResourceId(resource, rolloutId)}/timeline`,
    name: 'timeline',
    type: TIMELINE_TYPE,
    properties: {
      ...summary(r),
      batches: t.batches.map((b) => ({
        batch: b.batch,
        instanceIds: b.instanceIds,
        startTime: iso(b.startedAtMs),
        endTime: b.endedAtMs === null ? null : iso(b.endedAtMs),
      })),
      instances: t.instances.map(instanceView),
      rolloutSteps: t.rolloutSteps.map((s) => ({
        time: iso(s.atMs),
        from: s.from,
        to: s.to,
        reason: s.reason,
      })),
    },
  }
}

/** GET …/rollouts/{id}: one rollout of the set's history (`current` answers elsewhere). */
export async function rolloutById(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  rolloutId: string,
): Promise<Record<string, unknown>> {
  const { resource, r } = await requireRollout(deps, ref, rolloutId)
  return {
    id: rolloutResourceId(resource, r.id),
    name: r.id,
    type: ROLLOUT_STATUS_TYPE,
    properties: summary(r),
  }
}

/** GET …/rollouts: the set's rollouts with their ids, newest first (at most 100). */
export async function listRolloutsView(
  deps: ServiceDeps,
  ref: ScaleSetRef,
): Promise<{ value: Record<string, unknown>[] }> {
  const { resource, state } = await requireScaleSet(deps, ref)
  const list = await deps.store.listRollouts(state.key, { limit: LIST_LIMIT })
  return {
    value: list.map((r) => ({
      id: rolloutResourceId(resource, r.id),
      name: r.id,
      type: ROLLOUT_STATUS_TYPE,
      properties: summary(r),
    })),
  }
}

async function requireRollout(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  rolloutId: string,
): Promise<{ resource: StoredResource; r: Rollout }> {
  const { resource, state } = await requireScaleSet(deps, ref)
  const r =
    rolloutId.toLowerCase() === 'current'
      ? ((await deps.store.getActiveRollout(state.key)) ??
        (await deps.store.listRollouts(state.key, { limit: 1 }))[0])
      : await deps.store.getRollout(rolloutId)
  if (!r && rolloutId.toLowerCase() === 'current')
    throw Errors.NotFound(`No rollout was ever run on '${ref.name}'.`)
  // Another set's rollout is not this set's: the same answer as an unknown id.
  if (!r || r.scaleSetKey !== state.key)
    throw Errors.NotFound(
      `Scale set '${ref.name}' has no rollout '${rolloutId}' (it may have left the history).`,
    )
  return { resource, r }
}

function rolloutResourceId(resource: StoredResource, rolloutId: string): string {
  const setId = String(resource.body['id'] ?? resource.id).replace(/\/$/, '')
  return `${setId}/providers/${ROLLOUT_STATUS_TYPE}/${rolloutId}`
}

function summary(r: Rollout): Record<string, unknown> {
  return {
    rolloutId: r.id,
    kind: r.kind,
    startedBy: r.startedBy,
    targetImageVersion: r.target.imageVersion,
    targetModelGeneration: r.target.modelGeneration,
    runningStatus: {
      code: r.status,
      startTime: iso(r.startedAtMs),
      endTime: r.endedAtMs === null ? null : iso(r.endedAtMs),
    },
    batchesStarted: r.batchCount,
    progress: progressOf(r),
    // Lifecycle hooks: instances a pre-reimage hook skipped, counted in none of Azure's counts.
    skippedInstanceIds: r.attempts.filter((a) => a.state === 'Skipped').map((a) => a.instanceId),
    ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}),
    conditions: rolloutConditions(r).map(armCondition),
  }
}

/** A hook answer as the API shows it (docs/api.md § Osroll.Upgrades). */
function hookView(h: HookRecord): Record<string, unknown> {
  return {
    hook: h.hook,
    answer: h.answer,
    source: h.source,
    ...(h.cause ? { cause: h.cause } : {}),
    ...(h.quote ? { reason: h.quote } : {}),
    ...(h.retryAfterMs !== undefined ? { retryAfter: formatDurationMs(h.retryAfterMs) } : {}),
    ...(h.notBeforeMs !== undefined ? { notBefore: iso(h.notBeforeMs) } : {}),
  }
}

function instanceView(i: InstanceTimeline): Record<string, unknown> {
  const d = (ms: number | null) => (ms === null ? null : formatDurationMs(ms))
  return {
    instanceId: i.instanceId,
    batch: i.batch,
    zone: i.zone,
    updateDomain: i.updateDomain,
    method: i.method,
    state: i.state,
    outcome: i.outcome,
    steps: i.steps.map((s) => ({
      step: s.step,
      time: iso(s.atMs),
      reason: s.reason,
      ...(s.hook ? { hook: hookView(s.hook) } : {}),
    })),
    phases: i.phases.map((p) => ({
      phase: p.phase,
      startTime: iso(p.startMs),
      endTime: p.endMs === null ? null : iso(p.endMs),
    })),
    durations: {
      toDiskSwapped: d(i.durationsMs.toDiskSwapped),
      toBooted: d(i.durationsMs.toBooted),
      toHealthy: d(i.durationsMs.toHealthy),
      toOutcome: d(i.durationsMs.toOutcome),
    },
  }
}
