/**
 * A set's lifecycle hooks (docs/rollouts.md § Lifecycle hooks), an ARM extension resource:
 * `{scale set}/providers/Osroll.Upgrades/lifecycleHooks/default` (GET, PUT, PATCH, DELETE).
 * Kept on the set's orchestrator state and frozen into each OS image rollout when it starts.
 */
import { outboundRefusal } from '../core/gates/outbound.js'
import { Errors } from '../errors.js'
import { formatDurationMs, parseDurationMs } from '../core/duration.js'
import {
  HOOK_DEFAULTS,
  MAX_DEFER_MS_DEFAULT,
  MAX_DEFERRALS_DEFAULT,
} from '../core/rollout/hooks.js'
import type { HookName, HookSpec, LifecycleHooks } from '../core/rollout/hooks.js'
import { extensionService } from './set-extension.js'

export const HOOKS_TYPE = 'Osroll.Upgrades/lifecycleHooks'
const HOOKS: readonly HookName[] = ['preReimage', 'postHealthy']
/** A hook's timeout: 1 s to 1 min (the call holds an instance of the batch). */
const TIMEOUT_MIN_MS = 1_000
const TIMEOUT_MAX_MS = 60_000
const MAX_DEFERRALS = 100
const MAX_DEFER_TIME_MIN_MS = 1_000
const MAX_DEFER_TIME_MAX_MS = 24 * 3_600_000
const MEMBERS: Readonly<Record<HookName, readonly string[]>> = {
  preReimage: ['url', 'timeout', 'defaultAction', 'maxDeferrals', 'maxDeferTime'],
  postHealthy: ['url', 'timeout', 'defaultAction'],
}

const service = extensionService({
  field: 'lifecycleHooks',
  none: (name) => `The scale set '${name}' has no lifecycleHooks.`,
  parse: (body, _state, deps) => {
    const given = parse(body)
    // docs/security.md § Outbound calls: a hook may call only a host the allow-list names.
    for (const name of HOOKS) {
      const hook = given[name]
      const why = hook ? outboundRefusal(hook.url, deps.config.outboundHosts ?? null, 'url') : null
      if (why) throw Errors.InvalidParameter(why, `properties.${name}.url`)
    }
    return given
  },
  next: (given: Partial<Record<HookName, HookSpec | null>>, stored) => {
    const base: { -readonly [K in HookName]?: HookSpec } = { ...(stored ?? {}) }
    for (const name of HOOKS) {
      if (!(name in given)) continue
      const hook = given[name]
      if (hook === null || hook === undefined) delete base[name]
      else base[name] = hook
    }
    return base
  },
  view: (resource, hooks) => view(String(resource.body['id'] ?? resource.id), hooks),
  notify: false,
})

/** GET: the set's hooks; 404 when it has none. */
export const getLifecycleHooks = service.get
/**
 * PUT replaces, PATCH merges hook by hook (a hook set to null is removed, a hook given is
 * replaced whole). Everything is checked before anything is written.
 */
export const putLifecycleHooks = service.put
/** DELETE: true when there were hooks. A running rollout keeps the ones it froze. */
export const deleteLifecycleHooks = service.delete

function parse(body: unknown): Partial<Record<HookName, HookSpec | null>> {
  const props =
    body && typeof body === 'object' ? (body as { properties?: unknown }).properties : undefined
  if (props === undefined) return {}
  if (props === null || typeof props !== 'object' || Array.isArray(props))
    throw Errors.InvalidRequestContent('properties must be an object.', 'properties')
  const out: Partial<Record<HookName, HookSpec | null>> = {}
  for (const [name, value] of Object.entries(props)) {
    if (!HOOKS.includes(name as HookName))
      throw Errors.InvalidParameter(
        `Unknown lifecycle hook '${name}'; the hooks are ${HOOKS.join(', ')}.`,
        `properties.${name}`,
      )
    out[name as HookName] = value === null ? null : hookOf(name as HookName, value)
  }
  return out
}

function hookOf(name: HookName, value: unknown): HookSpec {
  const at = `properties.${name}`
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw Errors.InvalidParameter(
      `${name} must be an object such as {"url": "https://…", "timeout": "PT10S", "defaultAction": "${HOOK_DEFAULTS[name][0]}"}.`,
      at,
    )
  const v = value as Record<string, unknown>
  for (const key of Object.keys(v))
    if (!MEMBERS[name].includes(key))
      throw Errors.InvalidParameter(
        `Unknown member '${key}' of ${name}; its members are ${MEMBERS[name].join(', ')}.`,
        `${at}.${key}`,
      )
  const url = urlOf(v['url'], `${at}.url`)
  const timeoutMs = durationOf(v['timeout'], `${at}.timeout`, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS)
  const defaults = HOOK_DEFAULTS[name]
  const action = v['defaultAction']
  if (typeof action !== 'string' || !defaults.includes(action as HookSpec['defaultAction']))
    throw Errors.InvalidParameter(
      `${name}.defaultAction must be one of ${defaults.join(', ')}, not ${JSON.stringify(action)}: it is what osroll does when the hook times out, cannot be reached, answers a non-2xx status or an answer it cannot read.`,
      `${at}.defaultAction`,
    )
  const spec: HookSpec = { url, timeoutMs, defaultAction: action as HookSpec['defaultAction'] }
  if (name !== 'preReimage') return spec
  const maxDeferrals = v['maxDeferrals']
  if (
    maxDeferrals !== undefined &&
    (typeof maxDeferrals !== 'number' ||
      !Number.isInteger(maxDeferrals) ||
      maxDeferrals < 0 ||
      maxDeferrals > MAX_DEFERRALS)
  )
    throw Errors.InvalidParameter(
      `preReimage.maxDeferrals must be a whole number from 0 to ${MAX_DEFERRALS}, not ${JSON.stringify(maxDeferrals)}.`,
      `${at}.maxDeferrals`,
    )
  const maxDeferMs =
    v['maxDeferTime'] === undefined
      ? undefined
      : durationOf(
          v['maxDeferTime'],
          `${at}.maxDeferTime`,
          MAX_DEFER_TIME_MIN_MS,
          MAX_DEFER_TIME_MAX_MS,
        )
  return {
    ...spec,
    ...(maxDeferrals !== undefined ? { maxDeferrals: maxDeferrals as number } : {}),
    ...(maxDeferMs !== undefined ? { maxDeferMs } : {}),
  }
}

function urlOf(value: unknown, target: string): string {
  let url: URL | null = null
  try {
    url = typeof value === 'string' ? new URL(value) : null
  } catch {
    url = null
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw Errors.InvalidParameter(
      `url must be an absolute http:// or https:// URL, not ${JSON.stringify(value)}.`,
      target,
    )
  if (url.username || url.password)
    throw Errors.InvalidParameter(
      'url must not carry a user name or password: they would show in every GET.',
      target,
    )
  return url.toString()
}

function durationOf(value: unknown, target: string, minMs: number, maxMs: number): number {
  const ms = typeof value === 'string' ? parseDurationMs(value) : undefined
  if (ms === undefined || ms < minMs || ms > maxMs)
    throw Errors.InvalidParameter(
      `${target.replace(/^properties\./, '')} must be an ISO 8601 duration from ${formatDurationMs(minMs)} to ${formatDurationMs(maxMs)}, not ${JSON.stringify(value)}.`,
      target,
    )
  return ms
}

function view(setId: string, h: LifecycleHooks): Record<string, unknown> {
  const properties: Record<string, unknown> = {}
  for (const name of HOOKS) {
    const spec = h[name]
    if (!spec) continue
    properties[name] = {
      url: spec.url,
      timeout: formatDurationMs(spec.timeoutMs),
      defaultAction: spec.defaultAction,
      ...(name === 'preReimage'
        ? {
            maxDeferrals: spec.maxDeferrals ?? MAX_DEFERRALS_DEFAULT,
            maxDeferTime: formatDurationMs(spec.maxDeferMs ?? MAX_DEFER_MS_DEFAULT),
          }
        : {}),
    }
  }
  return {
    id: `${setId.replace(/\/$/, '')}/providers/${HOOKS_TYPE}/default`,
    name: 'default',
    type: HOOKS_TYPE,
    properties,
  }
}
