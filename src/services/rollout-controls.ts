/**
 * osroll's pause and resume of the running rollout, and its richer status beside Azure's
 * (docs/rollouts.md § Pause and resume, docs/api.md § Osroll.Upgrades). The API only records
 * the request on the set, for that rollout; the reconciler alone decides what the rollout does.
 */
import { rolloutConditions } from '../core/rollout/conditions.js'
import type { Condition } from '../core/rollout/conditions.js'
import { REASONS } from '../core/rollout/reasons.js'
import { Errors } from '../errors.js'
import { progressOf } from '../core/rollout/progress.js'
import type { Rollout } from '../core/rollout/types.js'
import { WINDOW_CLOSED, waitingMessage } from '../core/rollout/window.js'
import type { ScaleSetState } from '../store/store.js'
import type { ServiceDeps } from './deps.js'
import { iso } from './rollout-history.js'
import { updateState } from './set-state.js'
import { requireScaleSet } from './scale-sets.js'
import type { ScaleSetRef } from './scale-sets.js'

export const ROLLOUT_STATUS_TYPE = 'Osroll.Upgrades/rollouts'

/** POST …/rollouts/current/pause: the current batch finishes, no new one starts. Idempotent. */
export async function pauseRollout(
  deps: ServiceDeps,
  ref: ScaleSetRef,
): Promise<Record<string, unknown>> {
  const { state, active } = await requireRunning(
    deps,
    ref,
    'to pause; a pause holds the running rollout only',
  )
  await updateState(deps, state.key, (s) =>
    s.pauseRequest?.rolloutId === active.id
      ? s
      : { ...s, pauseRequest: { rolloutId: active.id, atMs: deps.clock.nowMs() } },
  )
  deps.notify(state.key)
  return currentRollout(deps, ref)
}

/** POST …/rollouts/current/resume: the paused rollout goes on where it stopped. */
export async function resumeRollout(
  deps: ServiceDeps,
  ref: ScaleSetRef,
): Promise<Record<string, unknown>> {
  const { state, active } = await requireRunning(deps, ref, 'to resume')
  if (state.pauseRequest?.rolloutId !== active.id)
    throw Errors.OperationNotAllowed(
      `The rollout in progress on '${ref.name}' is not paused; there is nothing to resume.`,
    )
  await updateState(deps, state.key, (s) => ({ ...s, pauseRequest: null }))
  deps.notify(state.key)
  return currentRollout(deps, ref)
}

/** The set and its running rollout, else 409 saying there is none `what` (e.g. 'to resume'). */
async function requireRunning(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  what: string,
): Promise<{ state: ScaleSetState; active: Rollout }> {
  const { state } = await requireScaleSet(deps, ref)
  const active = await deps.store.getActiveRollout(state.key)
  if (!active)
    throw Errors.OperationNotAllowed(`There is no rollout in progress on '${ref.name}' ${what}.`)
  return { state, active }
}

/** GET …/rollouts/current: the running rollout (else the latest) with osroll's conditions. */
export async function currentRollout(
  deps: ServiceDeps,
  ref: ScaleSetRef,
): Promise<Record<string, unknown>> {
  const { resource, state } = await requireScaleSet(deps, ref)
  const r =
    (await deps.store.getActiveRollout(state.key)) ??
    (await deps.store.listRollouts(state.key, { limit: 1 }))[0]
  if (!r) throw Errors.NotFound(`No rollout was ever run on '${ref.name}'.`)
  return {
    id: `${resource.id.replace(/\/$/, '')}/providers/${ROLLOUT_STATUS_TYPE}/current`,
    name: 'current',
    type: ROLLOUT_STATUS_TYPE,
    properties: {
      rolloutId: r.id,
      runningStatus: { code: r.status, startTime: iso(r.startedAtMs) },
      pauseRequested: pauseRequested(state, r),
      paused: r.status === 'RollingForward' && r.pausedAtMs != null,
      ...(r.pausedAtMs != null ? { pausedAt: iso(r.pausedAtMs) } : {}),
      batchesStarted: r.batchCount,
      progress: progressOf(r),
      // docs/rollouts.md § Maintenance windows: only on sets with windows (or a rollout that
      // waited for them), so the status of every other set is as it was.
      ...windowStatus(state, r),
      conditions: [
        ...rolloutConditions(r).map(armCondition),
        pausedCondition(state, r),
        ...windowCondition(state, r),
      ],
    },
  }
}

function waiting(r: Rollout): boolean {
  return r.status === 'RollingForward' && r.windowWait != null
}

/** `waitingForMaintenanceWindow`, `waitingUntil` and the status line, with windows only. */
function windowStatus(state: ScaleSetState, r: Rollout): Record<string, unknown> {
  if (!state.maintenanceWindows && r.windowWait == null) return {}
  const until = waiting(r) ? (r.windowWait?.untilMs ?? null) : null
  return {
    waitingForMaintenanceWindow: waiting(r),
    ...(waiting(r)
      ? {
          waitingUntil: until === null ? null : iso(until),
          statusMessage: waitingMessage(until),
        }
      : {}),
  }
}

/** Kubernetes-style `WaitingForMaintenanceWindow`: True while the rollout waits. */
function windowCondition(state: ScaleSetState, r: Rollout): Record<string, unknown>[] {
  if (!state.maintenanceWindows && r.windowWait == null) return []
  const wait = r.windowWait ?? null
  if (waiting(r) && wait !== null)
    return [
      {
        type: 'WaitingForMaintenanceWindow',
        status: 'True',
        reason: WINDOW_CLOSED,
        message: `No batch starts outside the set's maintenance windows: ${waitingMessage(wait.untilMs)}.`,
        lastTransitionTime: iso(wait.sinceMs),
      },
    ]
  return [
    {
      type: 'WaitingForMaintenanceWindow',
      status: 'False',
      reason: 'InsideMaintenanceWindow',
      message:
        r.status === 'RollingForward'
          ? REASONS.InsideMaintenanceWindow.summary
          : `The rollout ended ${r.status}.`,
    },
  ]
}

function pauseRequested(state: ScaleSetState, r: Rollout): boolean {
  return r.status === 'RollingForward' && state.pauseRequest?.rolloutId === r.id
}

/** Kubernetes-style: `Paused` True while held, False with why otherwise. */
function pausedCondition(state: ScaleSetState, r: Rollout): Record<string, unknown> {
  if (r.status === 'RollingForward' && r.pausedAtMs != null)
    return {
      type: 'Paused',
      status: 'True',
      reason: 'PauseRequested',
      message: 'No new batch starts until the rollout is resumed.',
      lastTransitionTime: iso(r.pausedAtMs),
    }
  if (pauseRequested(state, r))
    return {
      type: 'Paused',
      status: 'False',
      reason: 'FinishingBatch',
      message: 'Paused once the current batch finishes.',
    }
  return {
    type: 'Paused',
    status: 'False',
    reason: 'NotPaused',
    message:
      r.status === 'RollingForward' ? REASONS.NotPaused.summary : `The rollout ended ${r.status}.`,
  }
}

/** A core condition as the API shows it (Kubernetes' member names, ISO times). */
export function armCondition(c: Condition): Record<string, unknown> {
  return {
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message,
    lastTransitionTime: iso(c.atMs),
  }
}
