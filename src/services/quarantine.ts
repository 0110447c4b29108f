/**
 * The quarantined versions of a scale set and their release
 * (docs/rollouts.md § Quarantine and roll forward, docs/api.md § Osroll.Upgrades). The
 * reconciler quarantines a version when a rollout faults it; the API lists them and releases
 * one, writing only the set's spec-side facts.
 */
import { Errors } from '../errors.js'
import { isVersion } from '../core/image/version.js'
import type { QuarantineRecord } from '../core/rollout/quarantine.js'
import { quarantineList, releaseOnSet } from '../core/rollout/quarantine.js'
import type { ScaleSetState } from '../store/store.js'
import type { ServiceDeps } from './deps.js'
import { iso } from './rollout-history.js'
import { updateState } from './set-state.js'
import { requireScaleSet } from './scale-sets.js'
import type { ScaleSetRef } from './scale-sets.js'

export const QUARANTINE_TYPE = 'Osroll.Upgrades/quarantinedVersions'

/** GET …/quarantinedVersions: every quarantined version, newest first, in ARM's list shape. */
export async function listQuarantine(
  deps: ServiceDeps,
  ref: ScaleSetRef,
): Promise<{ value: Record<string, unknown>[] }> {
  const { resource, state } = await requireScaleSet(deps, ref)
  return { value: quarantineList(state).map((q) => quarantineView(setIdOf(resource), q)) }
}

/** GET …/quarantinedVersions/{version}: one, else 404 `NotFound`. */
export async function getQuarantine(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  version: string,
): Promise<Record<string, unknown>> {
  const { resource, state } = await requireScaleSet(deps, ref)
  return quarantineView(setIdOf(resource), requireQuarantined(state, checked(version), ref))
}

/**
 * POST …/quarantinedVersions/{version}/release: the version may be rolled out automatically
 * again (without the retry delay) and used for new instances. Answers the released record.
 */
export async function releaseQuarantine(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  version: string,
): Promise<Record<string, unknown>> {
  const { resource, state } = await requireScaleSet(deps, ref)
  const v = checked(version)
  let released: QuarantineRecord = requireQuarantined(state, v, ref)
  await updateState(deps, state.key, (s) => {
    // Checked again on the state being written: a concurrent release leaves nothing to release.
    released = requireQuarantined(s, v, ref)
    return releaseOnSet(s, v) as ScaleSetState
  })
  deps.notify(state.key)
  return {
    ...quarantineView(setIdOf(resource), released),
    properties: { ...props(released), released: true },
  }
}

function checked(version: string): string {
  if (!isVersion(version))
    throw Errors.InvalidParameter(
      `version '${version}' is not an image version (Major.Minor.Patch).`,
      'version',
    )
  return version
}

function requireQuarantined(state: ScaleSetState, version: string, ref: ScaleSetRef) {
  const found = quarantineList(state).find((q) => q.version === version)
  if (!found)
    throw Errors.NotFound(
      `The image version '${version}' is not quarantined on '${ref.name}'; ` +
        'there is nothing to release.',
    )
  return found
}

export function quarantineView(setId: string, q: QuarantineRecord): Record<string, unknown> {
  return {
    id: `${setId.replace(/\/$/, '')}/providers/${QUARANTINE_TYPE}/${q.version}`,
    name: q.version,
    type: QUARANTINE_TYPE,
    properties: props(q),
  }
}

function props(q: QuarantineRecord): Record<string, unknown> {
  return {
    version: q.version,
    rolloutId: q.rolloutId,
    quarantinedAt: q.atMs === null ? null : iso(q.atMs),
    reason: q.reason,
  }
}

/** The set's id as it was created (the store's key is lower-cased). */
function setIdOf(resource: { id: string; body: Record<string, unknown> }): string {
  return String(resource.body['id'] ?? resource.id)
}
