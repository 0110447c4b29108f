/**
 * A set's health gates (docs/controls.md § Health gates), an ARM extension resource:
 * `{scale set}/providers/Osroll.Upgrades/healthGates/default` (GET, PUT, PATCH, DELETE). Kept on
 * the set's orchestrator state; the runtime judges them beside the health source. A gate's PromQL
 * is checked against its own Prometheus when it is set: a query the server refuses is a 400
 * quoting the server's error, and nothing is written.
 */
import { outboundRefusal } from '../core/gates/outbound.js'
import { Errors } from '../errors.js'
import { formatDurationMs, parseDurationMs } from '../core/duration.js'
import type { Comparison, GateKind, HealthGate } from '../core/gates/gates.js'
import { COMPARISONS, PLACEHOLDERS, renderQuery } from '../core/gates/gates.js'
import { extensionService } from './set-extension.js'

export const GATES_TYPE = 'Osroll.Upgrades/healthGates'
const MAX_GATES = 16
const KINDS: readonly GateKind[] = ['prometheus', 'cohort', 'webhook']
const COMMON = ['name', 'kind', 'timeout', 'interval']
const MEMBERS: Record<GateKind, readonly string[]> = {
  prometheus: [...COMMON, 'serverUrl', 'query', 'comparison', 'threshold'],
  cohort: [...COMMON, 'serverUrl', 'query', 'tolerance'],
  webhook: [...COMMON, 'url'],
}
const DEFAULT_TIMEOUT_MS = 120_000
const DEFAULT_INTERVAL_MS = 10_000

const service = extensionService({
  field: 'healthGates',
  none: (name) => `The scale set '${name}' has no healthGates: its health source alone decides.`,
  patchNone: (name) => `The scale set '${name}' has no healthGates to patch; PUT them first.`,
  parse: async (body, state, deps) => {
    const given = parseBody(body)
    // docs/security.md § Outbound calls: refused before anything is called, the query check included.
    for (const [i, g] of (given ?? []).entries()) {
      const [field, url] = g.kind === 'webhook' ? ['url', g.url] : ['serverUrl', g.serverUrl]
      const why = outboundRefusal(url, deps.config.outboundHosts ?? null, field)
      if (why) throw Errors.InvalidParameter(why, `properties.gates[${i}].${field}`)
    }
    if (given) await checkQueries(given, state.spec.name)
    return given
  },
  next: (given, stored) => given ?? stored ?? [],
  view: (resource, gates) => view(resource.id, gates),
  notify: true,
})

export const getHealthGates = service.get
/** PUT replaces; PATCH (of an existing resource) replaces the members it names, as merge patch. */
export const putHealthGates = service.put
export const deleteHealthGates = service.delete

/** The gates a body gives, or null when it names none (a PATCH that changes nothing). */
function parseBody(body: unknown): HealthGate[] | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw Errors.InvalidRequestContent('The body must be an object with properties.', 'properties')
  const props = (body as { properties?: unknown }).properties
  if (props === undefined) return null
  if (props === null || typeof props !== 'object' || Array.isArray(props))
    throw Errors.InvalidRequestContent('properties must be an object.', 'properties')
  for (const name of Object.keys(props))
    if (name !== 'gates')
      throw Errors.InvalidParameter(
        `Unknown healthGates member '${name}'; its only member is gates.`,
        `properties.${name}`,
      )
  const list = (props as { gates?: unknown }).gates
  if (list === undefined) return null
  if (!Array.isArray(list))
    throw Errors.InvalidParameter('gates must be an array of gates.', 'properties.gates')
  if (list.length > MAX_GATES)
    throw Errors.InvalidParameter(
      `A set takes at most ${MAX_GATES} gates, not ${list.length}.`,
      'properties.gates',
    )
  const out = list.map((g, i) => parseGate(g, `properties.gates[${i}]`))
  const seen = new Set<string>()
  out.forEach((g, i) => {
    if (seen.has(g.name))
      throw Errors.InvalidParameter(
        `Two gates are named '${g.name}'; gate names are unique in a set.`,
        `properties.gates[${i}].name`,
      )
    seen.add(g.name)
  })
  return out
}

function parseGate(g: unknown, at: string): HealthGate {
  if (g === null || typeof g !== 'object' || Array.isArray(g))
    throw Errors.InvalidParameter('A gate must be an object.', at)
  const o = g as Record<string, unknown>
  const kind = o['kind']
  if (typeof kind !== 'string' || !KINDS.includes(kind as GateKind))
    throw Errors.InvalidParameter(
      `Unknown gate kind ${JSON.stringify(kind)}; the kinds are ${KINDS.join(', ')}.`,
      `${at}.kind`,
    )
  const k = kind as GateKind
  for (const member of Object.keys(o))
    if (!MEMBERS[k].includes(member))
      throw Errors.InvalidParameter(
        `Unknown member '${member}' of a ${k} gate; its members are ${MEMBERS[k].join(', ')}.`,
        `${at}.${member}`,
      )
  const name = o['name']
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
    throw Errors.InvalidParameter(
      `A gate's name must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit, not ${JSON.stringify(name)}.`,
      `${at}.name`,
    )
  const timeoutMs = duration(o['timeout'], DEFAULT_TIMEOUT_MS, 1_000, 3_600_000, `${at}.timeout`)
  const intervalMs = duration(o['interval'], DEFAULT_INTERVAL_MS, 500, 600_000, `${at}.interval`)
  if (intervalMs > timeoutMs)
    throw Errors.InvalidParameter(
      `A gate's interval (${formatDurationMs(intervalMs)}) must not be longer than its timeout (${formatDurationMs(timeoutMs)}).`,
      `${at}.interval`,
    )
  const base = { name, timeoutMs, intervalMs }
  switch (k) {
    case 'prometheus':
      return {
        ...base,
        kind: k,
        serverUrl: httpUrl(o['serverUrl'], `${at}.serverUrl`),
        query: query(o['query'], `${at}.query`, false),
        comparison: comparison(o['comparison'], `${at}.comparison`),
        threshold: finite(o['threshold'], `${at}.threshold`),
      }
    case 'cohort': {
      const tolerance = finite(o['tolerance'] ?? 0, `${at}.tolerance`)
      if (tolerance < 0)
        throw Errors.InvalidParameter(
          `tolerance must be 0 or more (0.2 allows 20% worse than the baseline), not ${tolerance}.`,
          `${at}.tolerance`,
        )
      return {
        ...base,
        kind: k,
        serverUrl: httpUrl(o['serverUrl'], `${at}.serverUrl`),
        query: query(o['query'], `${at}.query`, true),
        tolerance,
      }
    }
    case 'webhook':
      return { ...base, kind: k, url: httpUrl(o['url'], `${at}.url`) }
  }
}

function duration(v: unknown, dflt: number, minMs: number, maxMs: number, at: string): number {
  if (v === undefined) return dflt
  const ms = typeof v === 'string' ? parseDurationMs(v) : undefined
  if (ms === undefined || ms < minMs || ms > maxMs)
    throw Errors.InvalidParameter(
      `${at.split('.').pop()} must be an ISO 8601 duration from ${formatDurationMs(minMs)} to ${formatDurationMs(maxMs)}, not ${JSON.stringify(v)}.`,
      at,
    )
  return ms
}

function httpUrl(v: unknown, at: string): string {
  let u: URL | null = null
  try {
    u = typeof v === 'string' ? new URL(v) : null
  } catch {
    u = null
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password)
    throw Errors.InvalidParameter(
      `${at.split('.').pop()} must be an http or https URL without credentials, not ${JSON.stringify(v)}.`,
      at,
    )
  return String(v)
}

function query(v: unknown, at: string, cohort: boolean): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > 4000)
    throw Errors.InvalidParameter(
      `query must be a PromQL expression of 1–4000 characters, not ${JSON.stringify(v)}.`,
      at,
    )
  const unknown = (v.match(/\{\{[^}]*\}\}/g) ?? []).find(
    (p) => !(PLACEHOLDERS as readonly string[]).includes(p),
  )
  if (unknown)
    throw Errors.InvalidParameter(
      `Unknown placeholder ${unknown} in the query; the placeholders are ${PLACEHOLDERS.join(', ')}.`,
      at,
    )
  if (cohort && v.includes('{{instance}}'))
    throw Errors.InvalidParameter(
      'A cohort gate compares versions, not instances: its query takes {{version}} and {{scaleSet}}, not {{instance}}.',
      at,
    )
  if (cohort && !v.includes('{{version}}'))
    throw Errors.InvalidParameter(
      'A cohort gate needs {{version}} in its query, to evaluate it once per cohort (e.g. version="{{version}}").',
      at,
    )
  return v
}

function comparison(v: unknown, at: string): Comparison {
  if (typeof v !== 'string' || !COMPARISONS.includes(v as Comparison))
    throw Errors.InvalidParameter(
      `comparison must be one of ${COMPARISONS.join(' ')}, not ${JSON.stringify(v)}.`,
      at,
    )
  return v as Comparison
}

function finite(v: unknown, at: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw Errors.InvalidParameter(
      `${at.split('.').pop()} must be a number, not ${JSON.stringify(v)}.`,
      at,
    )
  return v
}

/**
 * Each PromQL query, its placeholders filled with sample values, through its server's
 * `/api/v1/query`: a refusal is a 400 quoting the server; an unreachable server too (the query
 * could not be checked, and a gate on it would fail closed).
 */
async function checkQueries(gates: readonly HealthGate[], setName: string): Promise<void> {
  await Promise.all(
    gates.map(async (g, i) => {
      if (g.kind === 'webhook') return
      const at = `properties.gates[${i}].query`
      const q = renderQuery(g.query, { instance: '0', scaleSet: setName, version: '0.0.0' })
      const url = `${g.serverUrl.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(q)}`
      let res: Response
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(5_000), redirect: 'manual' })
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause
        throw Errors.InvalidParameter(
          `The query of gate '${g.name}' could not be checked: Prometheus at ${g.serverUrl} is unreachable (${cause?.code ?? (err as Error).message}).`,
          `properties.gates[${i}].serverUrl`,
        )
      }
      const text = await res.text().catch(() => '')
      let answer: { status?: string; error?: string } | null = null
      try {
        answer = JSON.parse(text) as { status?: string; error?: string }
      } catch {
        answer = null
      }
      if (answer?.status === 'success') return
      throw Errors.InvalidParameter(
        answer?.error !== undefined
          ? `Prometheus refused the query of gate '${g.name}': ${answer.error}`
          : `Prometheus at ${g.serverUrl} did not answer the query of gate '${g.name}' as Prometheus does (HTTP ${res.status}).`,
        at,
      )
    }),
  )
}

function view(setId: string, gates: readonly HealthGate[]): Record<string, unknown> {
  const d = formatDurationMs
  return {
    id: `${setId.replace(/\/$/, '')}/providers/${GATES_TYPE}/default`,
    name: 'default',
    type: GATES_TYPE,
    properties: {
      gates: gates.map((g) => {
        const { timeoutMs, intervalMs, ...rest } = g
        return { ...rest, timeout: d(timeoutMs), interval: d(intervalMs) }
      }),
    },
  }
}
