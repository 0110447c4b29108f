/**
 * The approval of a deferred OS upgrade noted in the running rollout's events: the timeline's
 * `approved` step (docs/rollouts.md § Per-instance timeline), with who approved it — the API's
 * approveRollingUpgrade, the guest's StartRequests, or NotBefore reached while the guest listened.
 */
import type { InstanceRecord, Store } from '../store/store.js'
import type { ServiceDeps } from './deps.js'
import type { ReasonCode } from '../core/rollout/reasons.js'

/** The catalogue's approval codes (docs/rollouts.md § Reason catalogue). */
export type ApprovalReason = Extract<
  ReasonCode,
  'ApprovedByRequest' | 'ApprovedByGuest' | 'NotBeforeReached'
>

/**
 * Notes the approval of those of `ids` whose upgrade was pending and not yet approved; nothing
 * without a running rollout that defers.
 * @example instance 3 tagged Platform.PendingOSUpgrade, its guest posts StartRequests →
 *   event { instanceId: '3', from: 'Pending', to: 'Pending', reason: 'ApprovedByGuest' }
 */
export async function noteApprovals(
  deps: Readonly<{
    store: Pick<Store, 'getActiveRollout' | 'appendEvents'>
    clock: ServiceDeps['clock']
  }>,
  key: string,
  records: readonly InstanceRecord[],
  ids: readonly string[],
  reason: ApprovalReason,
): Promise<void> {
  const fresh = ids.filter((id) => {
    const r = records.find((x) => x.instanceId === id)
    return r?.osUpgradePending === true && !r.osUpgradeApproved
  })
  if (fresh.length === 0) return
  const rollout = await deps.store.getActiveRollout(key)
  if (!rollout?.deferral) return
  const atMs = deps.clock.nowMs()
  await deps.store.appendEvents(
    fresh.map((instanceId) => ({
      atMs,
      rolloutId: rollout.id,
      scaleSetKey: key,
      instanceId,
      from: 'Pending',
      to: 'Pending',
      reason,
    })),
  )
}
