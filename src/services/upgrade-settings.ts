/**
 * osroll's per-set timing (docs/rollouts.md § Per-set timing), an ARM extension resource:
 * `{scale set}/providers/Osroll.Upgrades/upgradeSettings/default` (GET, PUT, PATCH, DELETE).
 * Kept on the set's orchestrator state and frozen into each rollout when it starts.
 */
import { Errors } from '../errors.js'
import { formatDurationMs, parseDurationMs } from '../core/duration.js'
import type { UpgradeSettings } from '../store/store.js'
import type { ServiceDeps } from './deps.js'
import { updateState } from './rollouts.js'
import { requireScaleSet } from './scale-sets.js'
import type { ScaleSetRef } from './scale-sets.js'

export const SETTINGS_TYPE = 'Osroll.Upgrades/upgradeSettings'

/** Each member: its stored key and its limits. */
const MEMBERS = {
  healthDeadline: { key: 'healthDeadlineMs', minMs: 5_000, maxMs: 24 * 3_600_000 },
  minHealthyTime: { key: 'minHealthyTimeMs', minMs: 0, maxMs: 3_600_000 },
} as const
type Member = keyof typeof MEMBERS
/** On/off members (docs/rollouts.md § Adaptive ramp), stored as booleans under the same name. */
const FLAGS = { adaptiveRamp: 'adaptiveRamp' } as const
type Flag = keyof typeof FLAGS
type Given = Partial<Record<Member, number | null> & Record<Flag, boolean | null>>

export async function getUpgradeSettings(
  deps: ServiceDeps,
  ref: ScaleSetRef,
): Promise<Record<string, unknown>> {
  const { resource, state } = await requireScaleSet(deps, ref)
  if (!state.upgradeSettings)
    throw Errors.ResourceNotFound(
      `The scale set '${ref.name}' has no upgradeSettings: the server's defaults apply (health deadline ${formatDurationMs(deps.config.healthDeadlineMs)}, no minHealthyTime).`,
    )
  return view(resource.id, state.upgradeSettings, deps.config.healthDeadlineMs)
}

/** PUT replaces, PATCH merges (a member set to null is removed). */
export async function putUpgradeSettings(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  body: unknown,
  merge: boolean,
): Promise<{ created: boolean; view: Record<string, unknown> }> {
  const { resource, state } = await requireScaleSet(deps, ref)
  const given = parse(body)
  const created = !state.upgradeSettings
  let next: UpgradeSettings = {}
  await updateState(deps, state.key, (s) => {
    const base: Record<string, number | boolean> = merge ? { ...(s.upgradeSettings ?? {}) } : {}
    for (const [name, value] of Object.entries(given)) {
      const key = name in FLAGS ? FLAGS[name as Flag] : MEMBERS[name as Member].key
      if (value === null) delete base[key]
      else base[key] = value
    }
    next = base
    return { ...s, upgradeSettings: next }
  })
  return { created, view: view(resource.id, next, deps.config.healthDeadlineMs) }
}

export async function deleteUpgradeSettings(deps: ServiceDeps, ref: ScaleSetRef): Promise<boolean> {
  const { state } = await requireScaleSet(deps, ref)
  if (!state.upgradeSettings) return false
  await updateState(deps, state.key, (s) => ({ ...s, upgradeSettings: null }))
  return true
}

function parse(body: unknown): Given {
  const props =
    body && typeof body === 'object' ? (body as { properties?: unknown }).properties : undefined
  if (props === undefined) return {}
  if (props === null || typeof props !== 'object' || Array.isArray(props))
    throw Errors.InvalidRequestContent('properties must be an object.', 'properties')
  const out: Record<string, number | boolean | null> = {}
  for (const [name, value] of Object.entries(props)) {
    if (name in FLAGS) {
      out[name] = value === null ? null : flagOf(name, value)
      continue
    }
    if (!(name in MEMBERS)) {
      if (name === 'effective') continue // read-only, as a GET shows it
      throw Errors.InvalidParameter(
        `Unknown upgrade setting '${name}'; the settings are ${[...Object.keys(MEMBERS), ...Object.keys(FLAGS)].join(', ')}.`,
        `properties.${name}`,
      )
    }
    out[name] = value === null ? null : durationOf(name as Member, value)
  }
  return out as Given
}

function flagOf(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw Errors.InvalidParameter(
      `${name} must be true or false, not ${JSON.stringify(value)}.`,
      `properties.${name}`,
    )
  return value
}

function durationOf(name: Member, value: unknown): number {
  const { minMs, maxMs } = MEMBERS[name]
  const ms = typeof value === 'string' ? parseDurationMs(value) : undefined
  if (ms === undefined || ms < minMs || ms > maxMs)
    throw Errors.InvalidParameter(
      `${name} must be an ISO 8601 duration from ${formatDurationMs(minMs)} to ${formatDurationMs(maxMs)}, not ${JSON.stringify(value)}.`,
      `properties.${name}`,
    )
  return ms
}

function view(
  setId: string,
  s: UpgradeSettings,
  serverDeadlineMs: number,
): Record<string, unknown> {
  const properties: Record<string, unknown> = {}
  if (s.healthDeadlineMs !== undefined)
    properties['healthDeadline'] = formatDurationMs(s.healthDeadlineMs)
  if (s.minHealthyTimeMs !== undefined)
    properties['minHealthyTime'] = formatDurationMs(s.minHealthyTimeMs)
  if (s.adaptiveRamp !== undefined) properties['adaptiveRamp'] = s.adaptiveRamp
  properties['effective'] = {
    healthDeadline: formatDurationMs(s.healthDeadlineMs ?? serverDeadlineMs),
    minHealthyTime: formatDurationMs(s.minHealthyTimeMs ?? 0),
    adaptiveRamp: s.adaptiveRamp ?? false,
  }
  return {
    id: `${setId.replace(/\/$/, '')}/providers/${SETTINGS_TYPE}/default`,
    name: 'default',
    type: SETTINGS_TYPE,
    properties,
  }
}
