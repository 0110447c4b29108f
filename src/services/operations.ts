/**
 * Long-running operations (docs/api.md § Long-running operations): each has a stored record; its
 * status is derived from what
 * it tracks (a rollout, a rollout's end, a scale set reaching capacity) when polled, so any
 * replica answers it and nothing has to remember to complete it.
 */
import type { OperationRecord, OperationStatus } from '../store/control-store.js'
import type { ServiceDeps } from './deps.js'
import { Errors } from '../errors.js'

/** Records an operation started by a request under subscription `sub` (only it reads it). */
export async function createOperation(
  deps: ServiceDeps,
  sub: string,
  name: string,
  tracks: OperationRecord['tracks'],
  resourceId: string | null = null,
): Promise<OperationRecord> {
  const now = deps.clock.nowMs()
  const op: OperationRecord = {
    id: deps.ids(),
    name,
    status: tracks.kind === 'none' ? 'Succeeded' : 'InProgress',
    startTimeMs: now,
    endTimeMs: tracks.kind === 'none' ? now : null,
    error: null,
    tracks,
    resourceId,
    subscription: sub.toLowerCase(),
  }
  await deps.store.putOperation(op, now)
  return op
}

/**
 * The operation as a request under subscription `sub` sees it: under any subscription but the
 * one that started it, it does not exist (404, as for any resource).
 */
export async function readOperation(
  deps: ServiceDeps,
  sub: string,
  id: string,
): Promise<OperationRecord> {
  const op = await deps.store.getOperation(id)
  if (!op || op.subscription !== sub.toLowerCase())
    throw Errors.NotFound(`Operation ${id} was not found in subscription ${sub}.`)
  return refreshOperation(deps, id)
}

/** The operation's current status, refreshed from what it tracks and saved once final. */
export async function refreshOperation(deps: ServiceDeps, id: string): Promise<OperationRecord> {
  const op = await deps.store.getOperation(id)
  if (!op) throw Errors.NotFound(`Operation ${id} was not found.`)
  if (op.status !== 'InProgress') return op
  const next = await derive(deps, op)
  if (next.status !== 'InProgress') await deps.store.putOperation(next, deps.clock.nowMs())
  return next
}

async function derive(deps: ServiceDeps, op: OperationRecord): Promise<OperationRecord> {
  const now = deps.clock.nowMs()
  const done = (
    status: OperationStatus,
    error: OperationRecord['error'] = null,
  ): OperationRecord => ({ ...op, status, endTimeMs: now, error })
  const t = op.tracks
  switch (t.kind) {
    case 'none':
      return done('Succeeded')
    case 'rollout':
    case 'rolloutEnd': {
      const r = await deps.store.getRollout(t.rolloutId)
      if (!r)
        return done('Failed', {
          code: 'NotFound',
          message: `Rollout ${t.rolloutId} no longer exists.`,
        })
      if (r.status === 'RollingForward') return op
      if (t.kind === 'rolloutEnd') return done('Succeeded')
      if (r.status === 'Completed') return done('Succeeded')
      if (r.status === 'Cancelled') return done('Canceled')
      return done(
        'Failed',
        r.error ?? { code: 'RollingUpgradeFailed', message: 'The rolling upgrade failed.' },
      )
    }
    case 'scaleSet': {
      const state = await deps.store.getScaleSet(t.scaleSetKey)
      if (!state) return done('Failed', { code: 'NotFound', message: 'The scale set was deleted.' })
      const views = await deps.fabric.listInstances(t.scaleSetKey)
      if (
        views.some(
          (v) => v.provisioning === 'failed' && v.modelGeneration >= state.spec.modelGeneration,
        )
      ) {
        const bad = views.find((v) => v.provisioning === 'failed')
        return done('Failed', {
          code: 'VMExtensionProvisioningError',
          message: bad?.provisioningError ?? 'Provisioning failed.',
        })
      }
      const ready =
        views.length === state.spec.capacity &&
        views.every((v) => v.provisioning === 'succeeded' && v.power === 'running')
      return ready ? done('Succeeded') : op
    }
  }
}
