/**
 * A set's rollouts as ARM shows them (docs/rollouts.md R9): the latest rollout's status
 * (`rollingUpgrades/latest`) and the paged OS upgrade history (`osUpgradeHistory`).
 */
import { Errors } from '../errors.js'
import { toArmImageReference } from '../core/image/image-ref.js'
import { progressOf, rollbackInfoOf } from '../core/rollout/progress.js'
import type { Rollout } from '../core/rollout/types.js'
import { formatDurationMs } from '../core/duration.js'
import type { ScaleSetState } from '../store/store.js'
import type { ServiceDeps } from './deps.js'
import type { ScaleSetRef } from './scale-sets.js'
import { requireScaleSet } from './scale-sets.js'

/** GET rollingUpgrades/latest: the most recent rollout of any kind. */
export async function latestRollout(
  deps: ServiceDeps,
  ref: ScaleSetRef,
): Promise<Record<string, unknown>> {
  const { resource, state } = await requireScaleSet(deps, ref)
  const [r] = await deps.store.listRollouts(state.key, { limit: 1 })
  if (!r)
    throw Errors.NotFound(
      `The entity was not found in this Azure location: no rolling upgrade was ever run on '${ref.name}'.`,
    )
  const setId = String(resource.body['id'] ?? resource.id)
  return {
    id: `${setId}/rollingUpgrades/latest`,
    name: 'latest',
    type: 'Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades',
    location: resource.body['location'],
    properties: {
      policy: {
        maxBatchInstancePercent: r.policy.batchPercentMax,
        maxUnhealthyInstancePercent: r.policy.unhealthyPercentMax,
        maxUnhealthyUpgradedInstancePercent: r.policy.unhealthyUpgradedPercentMax,
        pauseTimeBetweenBatches: formatDurationMs(r.policy.pauseBetweenBatchesMs),
        enableCrossZoneUpgrade: r.policy.crossZone,
        prioritizeUnhealthyInstances: r.policy.prioritizeUnhealthy,
        rollbackFailedInstancesOnPolicyBreach: r.policy.rollbackFailedOnPolicyBreach,
        maxSurge: r.policy.maxSurge,
      },
      runningStatus: {
        code: runningCode(r),
        startTime: iso(r.startedAtMs),
        lastAction: r.lastAction,
        lastActionTime: iso(r.lastActionAtMs),
      },
      progress: progressOf(r),
      ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}),
    },
  }
}

/** GET osUpgradeHistory: OS image rollouts, newest first, paged with nextLink. */
export async function osUpgradeHistory(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  o: { skipToken?: string; pageSize?: number; pageUrl: (token: string) => string },
): Promise<{ value: Record<string, unknown>[]; nextLink?: string }> {
  const { resource, state } = await requireScaleSet(deps, ref)
  const pageSize = o.pageSize ?? 25
  let before = o.skipToken ? decodeToken(o.skipToken) : undefined
  const page: Rollout[] = []
  let more = false
  while (page.length < pageSize + 1) {
    const batch = await deps.store.listRollouts(state.key, {
      limit: 100,
      ...(before ? { before } : {}),
    })
    page.push(...batch.filter((r) => r.kind === 'OSImage'))
    const last = batch[batch.length - 1]
    if (batch.length < 100 || !last) break
    before = { startedAtMs: last.startedAtMs, id: last.id }
  }
  if (page.length > pageSize) {
    more = true
    page.length = pageSize
  }
  const last = page[page.length - 1]
  return {
    value: page.map((r) => historyEntry(r, state, String(resource.body['location']))),
    ...(more && last ? { nextLink: o.pageUrl(encodeToken(last)) } : {}),
  }
}

function historyEntry(r: Rollout, state: ScaleSetState, location: string): Record<string, unknown> {
  const rb = rollbackInfoOf(r)
  return {
    type: 'Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades',
    location,
    properties: {
      runningStatus: {
        code: runningCode(r),
        startTime: iso(r.startedAtMs),
        ...(r.endedAtMs !== null ? { endTime: iso(r.endedAtMs) } : {}),
      },
      progress: progressOf(r),
      startedBy: r.startedBy,
      targetImageReference: toArmImageReference(
        state.spec.image.kind === 'custom'
          ? state.spec.image
          : { ...state.spec.image, version: r.target.imageVersion ?? 'latest' },
      ),
      rollbackInfo: {
        successfullyRolledbackInstanceCount: rb.successfullyRolledbackInstanceCount,
        failedRolledbackInstanceCount: rb.failedRolledbackInstanceCount,
        ...(rb.rollbackError
          ? { rollbackError: { code: 'RollbackFailed', message: rb.rollbackError } }
          : {}),
      },
      ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}),
    },
  }
}

function runningCode(r: Rollout): string {
  return r.status === 'Cancelled' ? 'Cancelled' : r.status
}

export function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function encodeToken(r: Rollout): string {
  return Buffer.from(JSON.stringify([r.startedAtMs, r.id])).toString('base64url')
}

function decodeToken(token: string): { startedAtMs: number; id: string } {
  try {
    const [startedAtMs, id] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [
      number,
      string,
    ]
    if (typeof startedAtMs !== 'number' || typeof id !== 'string') throw new Error('shape')
    return { startedAtMs, id }
  } catch {
    throw Errors.InvalidParameter('The $skiptoken is not one osroll issued.', '$skiptoken')
  }
}
