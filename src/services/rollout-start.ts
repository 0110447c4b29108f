/**
 * osroll's own start of an OS rollout (docs/rollouts.md § Rollback on every path), an action on
 * the scale set's `Osroll.Upgrades` extension:
 * `POST {scale set}/providers/Osroll.Upgrades/rollouts/start` with `{ "version"?: "1.2.0", "rollback"?: true }`. Azure's `osRollingUpgrade` keeps its shape and
 * its rule (no rollback); this one lets a manual start ask for the automatic rollout's protection.
 */
import { Errors } from '../errors.js'
import { isVersion } from '../core/image/version.js'
import type { OperationRecord } from '../store/control-store.js'
import type { ServiceDeps } from './deps.js'
import { startOsRollout } from './rollouts.js'
import type { StartOptions } from './rollouts.js'
import { requireScaleSet } from './scale-sets.js'
import type { ScaleSetRef } from './scale-sets.js'

const MEMBERS = ['version', 'rollback']

/**
 * Validates the body, then starts as `osRollingUpgrade` does (same refusals), with the version
 * and rollback asked for; a bad body is 400 and starts nothing.
 * @example body { rollback: true } → a User rollout to the latest version whose failed
 *   instances are restored to their previous OS disk
 */
export async function startRolloutAction(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  body: unknown,
): Promise<OperationRecord> {
  await requireScaleSet(deps, ref)
  return startOsRollout(deps, ref, { ...parseStart(body), operation: 'startRollout' })
}

function parseStart(body: unknown): StartOptions {
  if (body === undefined || body === null || body === '') return {}
  if (typeof body !== 'object' || Array.isArray(body))
    throw Errors.InvalidRequestContent('The body must be a JSON object.')
  const b = body as Record<string, unknown>
  for (const name of Object.keys(b))
    if (!MEMBERS.includes(name))
      throw Errors.InvalidParameter(
        `Unknown member '${name}'; a start takes ${MEMBERS.join(' and ')}.`,
        name,
      )
  const { version, rollback } = b
  if (version !== undefined && (typeof version !== 'string' || !isVersion(version)))
    throw Errors.InvalidParameter(
      `version ${JSON.stringify(version)} is not an image version (Major.Minor.Patch).`,
      'version',
    )
  if (rollback !== undefined && typeof rollback !== 'boolean')
    throw Errors.InvalidParameter(
      `rollback must be true or false, not ${JSON.stringify(rollback)}.`,
      'rollback',
    )
  return {
    ...(version !== undefined ? { version } : {}),
    ...(rollback !== undefined ? { rollback } : {}),
  }
}
