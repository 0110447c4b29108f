/**
 * osroll's per-set timing (docs/rollouts.md § Per-set timing), an ARM extension resource:
 * `{scale set}/providers/Osroll.Upgrades/upgradeSettings/default` (GET, PUT, PATCH, DELETE).
 * Kept on the set's orchestrator state and frozen into each rollout when it starts.
 */
import { Errors } from '../errors.js'
import { formatDurationMs, parseDurationMs } from '../core/duration.js'
import type { UpgradeSettings } from '../store/store.js'
import { extensionService } from './set-extension.js'

export const SETTINGS_TYPE = 'Osroll.Upgrades/upgradeSettings'
const HOUR = 3_600_000

/**
 * Each member: its stored key and its limits. batchSoak is an object of two (`batchSoak.min`,
 * `batchSoak.max`); a PATCH merges it member by member, as JSON merge patch does.
 */
const MEMBERS = {
  healthDeadline: { key: 'healthDeadlineMs', minMs: 5_000, maxMs: 24 * HOUR },
  minHealthyTime: { key: 'minHealthyTimeMs', minMs: 0, maxMs: HOUR },
  'batchSoak.min': { key: 'batchSoakMinMs', minMs: 0, maxMs: HOUR },
  'batchSoak.max': { key: 'batchSoakMaxMs', minMs: 0, maxMs: HOUR },
  progressDeadline: { key: 'progressDeadlineMs', minMs: 60_000, maxMs: 24 * HOUR },
} as const
type Member = keyof typeof MEMBERS
type Key = (typeof MEMBERS)[Member]['key']
/** On/off members (docs/rollouts.md § Adaptive ramp), stored as booleans under the same name. */
const FLAGS = { adaptiveRamp: 'adaptiveRamp' } as const
type Flag = keyof typeof FLAGS
type Given = Partial<Record<Member, number | null> & Record<Flag, boolean | null>>
const TOP = [
  'healthDeadline',
  'minHealthyTime',
  'batchSoak',
  'progressDeadline',
  ...Object.keys(FLAGS),
]

const service = extensionService({
  field: 'upgradeSettings',
  none: (name, deps) =>
    `The scale set '${name}' has no upgradeSettings: the server's defaults apply (health deadline ${formatDurationMs(deps.config.healthDeadlineMs)}, no minHealthyTime, batchSoak or progressDeadline).`,
  parse,
  next: (given: Given, stored) => {
    const base: Partial<Record<Key, number> & Record<Flag, boolean>> = { ...(stored ?? {}) }
    for (const [name, value] of Object.entries(given)) {
      const key = name in FLAGS ? FLAGS[name as Flag] : MEMBERS[name as Member].key
      if (value === null) delete base[key]
      else (base as Record<string, number | boolean>)[key] = value
    }
    checkTogether(base) // throws before anything is written
    return base
  },
  view: (resource, s, { deps }) => view(resource.id, s, deps.config.healthDeadlineMs),
  notify: false,
})

export const getUpgradeSettings = service.get
/** PUT replaces, PATCH merges (a member set to null is removed). */
export const putUpgradeSettings = service.put
export const deleteUpgradeSettings = service.delete

function parse(body: unknown): Given {
  const props =
    body && typeof body === 'object' ? (body as { properties?: unknown }).properties : undefined
  if (props === undefined) return {}
  if (props === null || typeof props !== 'object' || Array.isArray(props))
    throw Errors.InvalidRequestContent('properties must be an object.', 'properties')
  const out: Record<string, number | boolean | null> = {}
  for (const [name, value] of Object.entries(props)) {
    if (name === 'effective') continue // read-only, as a GET shows it
    if (!TOP.includes(name))
      throw Errors.InvalidParameter(
        `Unknown upgrade setting '${name}'; the settings are ${TOP.join(', ')}.`,
        `properties.${name}`,
      )
    if (name in FLAGS) out[name] = value === null ? null : flagOf(name, value)
    else if (name === 'batchSoak') Object.assign(out, parseSoak(value))
    else out[name as Member] = value === null ? null : durationOf(name as Member, value)
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

/** `batchSoak`: null removes it, else an object of `min` and `max` (each merged, null removes). */
function parseSoak(value: unknown): Partial<Record<Member, number | null>> {
  if (value === null) return { 'batchSoak.min': null, 'batchSoak.max': null }
  if (typeof value !== 'object' || Array.isArray(value))
    throw Errors.InvalidParameter(
      `batchSoak must be an object such as {"min": "PT30S", "max": "PT10M"}, not ${JSON.stringify(value)}.`,
      'properties.batchSoak',
    )
  const out: Partial<Record<Member, number | null>> = {}
  for (const [sub, v] of Object.entries(value)) {
    const name = `batchSoak.${sub}`
    if (!(name in MEMBERS))
      throw Errors.InvalidParameter(
        `Unknown batchSoak member '${sub}'; its members are min and max.`,
        `properties.${name}`,
      )
    out[name as Member] = v === null ? null : durationOf(name as Member, v)
  }
  return out
}

/**
 * What one member cannot say alone: batchSoak has both ends or neither, min ≤ max; and a
 * progressDeadline longer than minHealthyTime plus the soak's min (no instance can count sooner:
 * as Kubernetes refuses a progressDeadlineSeconds not above minReadySeconds).
 */
function checkTogether(s: UpgradeSettings): void {
  const min = s.batchSoakMinMs
  const max = s.batchSoakMaxMs
  if ((min === undefined) !== (max === undefined))
    throw Errors.InvalidParameter(
      `batchSoak needs both min and max (it has only ${min === undefined ? 'max' : 'min'}).`,
      'properties.batchSoak',
    )
  if (min !== undefined && max !== undefined && min > max)
    throw Errors.InvalidParameter(
      `batchSoak.min (${formatDurationMs(min)}) must not be more than batchSoak.max (${formatDurationMs(max)}).`,
      'properties.batchSoak.min',
    )
  const floor = (s.minHealthyTimeMs ?? 0) + (min ?? 0)
  if (s.progressDeadlineMs !== undefined && s.progressDeadlineMs <= floor)
    throw Errors.InvalidParameter(
      `progressDeadline (${formatDurationMs(s.progressDeadlineMs)}) must be longer than minHealthyTime plus batchSoak.min (${formatDurationMs(floor)}): no instance can count as upgraded sooner.`,
      'properties.progressDeadline',
    )
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
  const d = formatDurationMs
  const properties: Record<string, unknown> = {}
  if (s.healthDeadlineMs !== undefined) properties['healthDeadline'] = d(s.healthDeadlineMs)
  if (s.minHealthyTimeMs !== undefined) properties['minHealthyTime'] = d(s.minHealthyTimeMs)
  const soak =
    s.batchSoakMinMs !== undefined && s.batchSoakMaxMs !== undefined
      ? { min: d(s.batchSoakMinMs), max: d(s.batchSoakMaxMs) }
      : null
  if (soak) properties['batchSoak'] = soak
  if (s.progressDeadlineMs !== undefined) properties['progressDeadline'] = d(s.progressDeadlineMs)
  if (s.adaptiveRamp !== undefined) properties['adaptiveRamp'] = s.adaptiveRamp
  properties['effective'] = {
    healthDeadline: d(s.healthDeadlineMs ?? serverDeadlineMs),
    minHealthyTime: d(s.minHealthyTimeMs ?? 0),
    batchSoak: soak,
    progressDeadline: s.progressDeadlineMs !== undefined ? d(s.progressDeadlineMs) : null,
    adaptiveRamp: s.adaptiveRamp ?? false,
  }
  return {
    id: `${setId.replace(/\/$/, '')}/providers/${SETTINGS_TYPE}/default`,
    name: 'default',
    type: SETTINGS_TYPE,
    properties,
  }
}
