/**
 * Resource names (issue 15): ARM's naming rules for every resource type osroll serves, and for
 * the names inside a scale set model (extensions, network configurations), as pure checks.
 * A name that breaks its rule is refused with `InvalidResourceName` (400) before anything is
 * read or stored, so that no name with a slash, `..`, a control or bidi character, or markup
 * ever becomes part of a resource id, a file path or a page.
 *
 * Sources: "Naming rules and restrictions for Azure resources" (learn.microsoft.com) for resource
 * groups, Compute, Network and galleries. Where osroll deviates it says so in `rule`.
 */
import type { Problem } from './problem.js'
import { problem } from './problem.js'

export type NameKind =
  | 'subscription'
  | 'resourceGroup'
  | 'scaleSet'
  | 'loadBalancer'
  | 'loadBalancerChild'
  | 'virtualNetwork'
  | 'subnet'
  | 'gallery'
  | 'galleryImage'
  | 'galleryImageVersion'
  | 'serviceFabricCluster'
  | 'extension'
  | 'networkConfiguration'
  | 'computerNamePrefix'
  | 'imageSegment'
  | 'imageVersion'
  | 'rolloutPlan'

type Rule = Readonly<{
  /** What is named, for the message: "scale set", "load balancer probe", … */
  what: string
  /** The shortest name (1 unless said). */
  min?: number
  max: number
  pattern: RegExp
  /** The rule in words, as the message gives it. */
  rule: string
  /** An extra check the pattern cannot express (e.g. 32-bit version parts). */
  extra?: (name: string) => boolean
}>

// Word characters as ARM's Compute and Network rules mean them (ASCII letters and digits).
const ALNUM_EDGES = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/
const NETWORK_RULE =
  'letters, digits, underscores, periods and hyphens; it must start with a letter or digit and end with a letter, digit or underscore'
const INT32 = 2_147_483_647

const RULES: Readonly<Record<NameKind, Rule>> = {
  subscription: {
    what: 'subscription',
    max: 64,
    pattern: /^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/,
    // osroll's rule: Azure's ids are GUIDs; osroll also accepts readable ids such as `dev-1`.
    rule: 'letters, digits, underscores, periods and hyphens, starting and ending with a letter or digit (a GUID fits)',
  },
  resourceGroup: {
    what: 'resource group',
    max: 90,
    pattern: /^[\p{L}\p{Nd}_\-.()]*[\p{L}\p{Nd}_\-()]$/u,
    rule: 'letters (Unicode letters too), digits, underscores, hyphens, periods and parentheses; it must not end with a period',
  },
  rolloutPlan: { what: 'rollout plan', max: 64, pattern: ALNUM_EDGES, rule: NETWORK_RULE },
  scaleSet: {
    what: 'virtual machine scale set',
    max: 64,
    pattern: ALNUM_EDGES,
    rule: NETWORK_RULE,
  },
  loadBalancer: { what: 'load balancer', max: 80, pattern: ALNUM_EDGES, rule: NETWORK_RULE },
  loadBalancerChild: {
    what: 'load balancer child resource',
    max: 80,
    pattern: ALNUM_EDGES,
    rule: NETWORK_RULE,
  },
  virtualNetwork: {
    what: 'virtual network',
    max: 64,
    pattern: ALNUM_EDGES,
    min: 2,
    rule: NETWORK_RULE,
  },
  subnet: { what: 'subnet', max: 80, pattern: ALNUM_EDGES, rule: NETWORK_RULE },
  gallery: {
    what: 'gallery',
    max: 80,
    pattern: /^[A-Za-z0-9](?:[A-Za-z0-9_.]*[A-Za-z0-9])?$/,
    rule: 'letters, digits, underscores and periods (no hyphens); it must start and end with a letter or digit',
  },
  galleryImage: {
    what: 'gallery image definition',
    max: 80,
    pattern: /^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/,
    rule: 'letters, digits, underscores, hyphens and periods; it must start and end with a letter or digit',
  },
  galleryImageVersion: {
    what: 'gallery image version',
    max: 34,
    pattern: /^\d{1,10}\.\d{1,10}\.\d{1,10}$/,
    rule: 'Major.Minor.Patch, each a 32-bit integer (e.g. 1.0.0)',
    extra: (name) => name.split('.').every((p) => Number(p) <= INT32),
  },
  serviceFabricCluster: {
    what: 'Service Fabric cluster',
    // ARM's minimum is 4; osroll accepts shorter names (its tests and demo use `sf`).
    max: 23,
    pattern: /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/,
    rule: 'lowercase letters, digits and hyphens; it must start with a lowercase letter and end with a lowercase letter or digit',
  },
  extension: {
    what: 'extension',
    max: 64,
    pattern: /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/,
    rule: "letters, digits, underscores, periods and hyphens; it must start and end with a letter, digit or underscore and must not contain '..'",
    extra: (name) => !name.includes('..'),
  },
  networkConfiguration: {
    what: 'network configuration',
    max: 80,
    pattern: ALNUM_EDGES,
    rule: NETWORK_RULE,
  },
  computerNamePrefix: {
    what: 'computerNamePrefix',
    // Azure's Linux limit and characters, plus underscores and any last character: `osroll vmss
    // create` derives the prefix from the first 9 characters of the set's name.
    max: 58,
    pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    rule: "letters, digits, underscores, periods and hyphens, starting with a letter or digit, without '..'",
    extra: (name) => !name.includes('..'),
  },
  imageSegment: {
    what: 'platform image publisher, offer or sku',
    max: 80,
    pattern: /^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/,
    rule: 'letters, digits, underscores, periods and hyphens; it must start with a letter or digit and end with a letter, digit or underscore',
    extra: (name) => !name.includes('..'),
  },
  imageVersion: {
    what: 'platform image version',
    max: 92,
    pattern: /^(?:latest|\d{1,30}\.\d{1,30}\.\d{1,30})$/i,
    rule: "'latest' or Major.Minor.Build (e.g. 18.04.202401161)",
  },
}

/**
 * The message that refuses `name` as a `kind`, or undefined when the name follows the rule.
 * @example nameMessage('loadBalancer', 'a/b')
 *   → "The load balancer name 'a/b' is invalid: it must be 1 to 80 characters of letters, …"
 */
export function nameMessage(kind: NameKind, name: unknown): string | undefined {
  const r = RULES[kind]
  if (
    typeof name === 'string' &&
    name.length >= (r.min ?? 1) &&
    name.length <= r.max &&
    r.pattern.test(name) &&
    (r.extra?.(name) ?? true)
  )
    return undefined
  const shown = typeof name === 'string' ? quoteName(name) : `of type ${typeOf(name)}`
  return `The ${r.what} name ${shown} is invalid: it must be ${r.min ?? 1} to ${r.max} characters of ${r.rule}.`
}

/** The Problem (`InvalidResourceName`) for a name at `target`, or undefined when it is valid. */
export function nameProblem(kind: NameKind, name: unknown, target: string): Problem | undefined {
  const message = nameMessage(kind, name)
  return message === undefined ? undefined : problem(target, message, 'InvalidResourceName')
}

/** The first invalid name of a list of `[kind, name, target]`, as a Problem. */
export function firstNameProblem(
  names: readonly (readonly [NameKind, unknown, string])[],
): Problem | undefined {
  for (const [kind, name, target] of names) {
    const p = nameProblem(kind, name, target)
    if (p) return p
  }
  return undefined
}

/**
 * A name as the message shows it: quoted, at most `max` characters, with control, format (bidi
 * overrides such as U+202E) and separator characters written as `\uXXXX` so that the message
 * itself can neither break a log line nor reorder text.
 */
export function quoteName(name: string, max = 80): string {
  const cut = name.length > max ? `${name.slice(0, max)}…` : name
  return `'${cut.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}'\\]/gu, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`)}'`
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v
}
