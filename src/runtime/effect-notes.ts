/**
 * A finished effect noted in its rollout's events: the timeline's steps that only the runtime
 * sees (docs/rollouts.md § Per-instance timeline) — the fabric's reimage returned (the new OS
 * disk is in place), the previous disk restored or released, the deferral tag set.
 */
import type { Action, RolloutEvent } from '../core/rollout/types.js'
import type { Store } from '../store/store.js'
import type { Clock } from './clock.js'
import type { Logger } from './logger.js'

/** What a finished effect is noted as: a step inside the attempt's state (from = to). */
const NOTES: Partial<Record<Action['type'], readonly [state: string, reason: string]>> = {
  reimage: ['Reimaging', 'DiskSwapped'],
  update: ['Updating', 'ModelApplied'],
  restore: ['RollingBack', 'PreviousDiskSwapped'],
  release: ['Succeeded', 'PreviousDiskReleased'],
  markPending: ['Pending', 'OSUpgradePending'],
}

/**
 * The note of a finished effect, or null when it has none or runs outside a rollout.
 * @example effectNote({ scaleSetKey: k, rolloutId: 'r1' }, 'reimage', '3', 61_000) →
 *   { atMs: 61_000, rolloutId: 'r1', instanceId: '3', from: 'Reimaging', to: 'Reimaging',
 *     reason: 'DiskSwapped', scaleSetKey: k }
 */
export function effectNote(
  ctx: Readonly<{ scaleSetKey: string; rolloutId?: string }>,
  type: Action['type'],
  instanceId: string,
  atMs: number,
): RolloutEvent | null {
  const note = NOTES[type]
  if (!note || ctx.rolloutId === undefined) return null
  const [state, reason] = note
  const { scaleSetKey, rolloutId } = ctx
  return { atMs, rolloutId, scaleSetKey, instanceId, from: state, to: state, reason }
}

/**
 * Writes the note of a finished effect. Best effort: the effect did happen, so a note that
 * cannot be written is logged, never taken for the effect's failure.
 */
export async function noteEffect(
  deps: Readonly<{ store: Pick<Store, 'appendEvents' | 'getRollout'>; clock: Clock; log: Logger }>,
  ctx: Readonly<{ scaleSetKey: string; rolloutId?: string }>,
  type: Action['type'],
  instanceId: string,
): Promise<void> {
  const event = effectNote(ctx, type, instanceId, deps.clock.nowMs())
  if (event === null) return
  try {
    // An effect that ends after its set was deleted (and its rollout with it) notes nothing: a
    // deleted set's events never come back (docs/operations.md § Quotas and retention).
    if (!(await deps.store.getRollout(event.rolloutId))) return
    await deps.store.appendEvents([event])
  } catch (err) {
    deps.log.warn(
      {
        scaleSet: ctx.scaleSetKey,
        instanceIds: [instanceId],
        action: type,
        reason: err instanceof Error ? err.message : String(err),
      },
      'Effect done, its timeline note not written',
    )
  }
}
