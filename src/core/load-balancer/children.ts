/**
 * A load balancer's child resources (docs/api.md § Load balancers and probes): frontend IP
 * configurations, backend pools, rules, probes and NAT rules and pools live inside the load
 * balancer's body, and Azure answers each with an id (`{lb id}/backendAddressPools/{name}`), a
 * type, the load balancer's etag, a provisioning state and read-only back-references (a pool's,
 * a probe's and a frontend's `loadBalancingRules`). References between children are ids; one
 * that names no child of this load balancer is refused as Azure does (`InvalidResourceReference`).
 */
import type { Problem } from '../problem.js'
import { problem } from '../problem.js'
import { isPlainObject } from '../scale-set/shape.js'

export const LOAD_BALANCER_TYPE = 'Microsoft.Network/loadBalancers'

/** The child collections of `properties`, in Azure's order. */
export const CHILD_KINDS = [
  'frontendIPConfigurations',
  'backendAddressPools',
  'loadBalancingRules',
  'probes',
  'inboundNatRules',
  'inboundNatPools',
  'outboundRules',
] as const
export type ChildKind = (typeof CHILD_KINDS)[number]

/** Which children a child's `properties` refer to: member → kind (`[]` marks a list of ids). */
const REFERENCES: Readonly<Partial<Record<ChildKind, Readonly<Record<string, ChildKind>>>>> = {
  loadBalancingRules: {
    frontendIPConfiguration: 'frontendIPConfigurations',
    backendAddressPool: 'backendAddressPools',
    'backendAddressPools[]': 'backendAddressPools',
    probe: 'probes',
  },
  inboundNatRules: {
    frontendIPConfiguration: 'frontendIPConfigurations',
    backendAddressPool: 'backendAddressPools',
  },
  inboundNatPools: { frontendIPConfiguration: 'frontendIPConfigurations' },
  outboundRules: {
    'frontendIPConfigurations[]': 'frontendIPConfigurations',
    backendAddressPool: 'backendAddressPools',
  },
}

/** Read-only back-references Azure adds to a child's `properties`, removed from what is written. */
const BACK_REFERENCES: Readonly<Partial<Record<ChildKind, readonly string[]>>> = {
  frontendIPConfigurations: [
    'loadBalancingRules',
    'inboundNatRules',
    'inboundNatPools',
    'outboundRules',
  ],
  backendAddressPools: [
    'loadBalancingRules',
    'backendIPConfigurations',
    'outboundRule',
    'outboundRules',
    'inboundNatRules',
  ],
  probes: ['loadBalancingRules'],
}

/** Defaults Azure answers for a load-balancing rule's members the client left out. */
const RULE_DEFAULTS: Readonly<Record<string, unknown>> = {
  idleTimeoutInMinutes: 4,
  enableFloatingIP: false,
  loadDistribution: 'Default',
  disableOutboundSnat: false,
  enableTcpReset: false,
}

type Props = Record<string, unknown>
type Child = Record<string, unknown>

/**
 * The load balancer's `properties` as written: every child collection (`[]` when absent, as
 * Azure answers), each child without the members Azure sets
 * (`id`, `type`, `etag`, `properties.provisioningState`, back-references), with a rule's
 * defaults filled in and its `backendAddressPool` and `backendAddressPools` mirrored, as Azure
 * answers both. Idempotent, so that a GET PUT back writes the same body.
 * @example writtenChildren({ loadBalancingRules: [{ id: 'x', name: 'r', properties: {
 *   backendAddressPool: { id: 'p' } } }] })
 *   → { loadBalancingRules: [{ name: 'r', properties: { backendAddressPool: { id: 'p' },
 *       backendAddressPools: [{ id: 'p' }], idleTimeoutInMinutes: 4, … } }] }
 */
export function writtenChildren(props: Props): Props {
  const out: Props = { ...props }
  for (const kind of CHILD_KINDS) {
    const list = props[kind] ?? []
    out[kind] = Array.isArray(list)
      ? list.map((c: unknown) => (isPlainObject(c) ? writtenChild(kind, c) : c))
      : list
  }
  return out
}

function writtenChild(kind: ChildKind, c: Child): Child {
  const { id: _id, type: _type, etag: _etag, ...rest } = c
  const sent = rest['properties'] ?? {}
  if (!isPlainObject(sent)) return rest
  const p: Props = { ...sent }
  delete p['provisioningState']
  for (const member of BACK_REFERENCES[kind] ?? []) delete p[member]
  if (kind === 'loadBalancingRules') {
    for (const [k, v] of Object.entries(RULE_DEFAULTS)) p[k] ??= v
    if (p['backendAddressPool'] !== undefined && p['backendAddressPools'] === undefined)
      p['backendAddressPools'] = [p['backendAddressPool']]
    const pools = p['backendAddressPools']
    if (p['backendAddressPool'] === undefined && Array.isArray(pools) && pools.length === 1)
      p['backendAddressPool'] = pools[0]
  }
  if (kind === 'frontendIPConfigurations') p['privateIPAllocationMethod'] ??= 'Dynamic'
  return { ...rest, properties: p }
}

/**
 * Every reference between children that names no child of this load balancer: a missing `id`
 * (`{}`) as Azure's request parser reports it, an id of another kind or of no child as
 * `InvalidResourceReference`, with Azure's message.
 * @example childReferenceProblems(lbId, { probes: [], loadBalancingRules: [{ name: 'r',
 *   properties: { probe: { id: `${lbId}/probes/gone` } } }] })
 *   → [{ code: 'InvalidResourceReference', target: 'properties.loadBalancingRules[0].properties.probe.id', … }]
 */
export function childReferenceProblems(lbId: string, props: Props): Problem[] {
  const names = new Map(CHILD_KINDS.map((k) => [k, childNameSet(props[k])] as const))
  const out: Problem[] = []
  for (const kind of CHILD_KINDS) {
    const refs = REFERENCES[kind]
    const list = props[kind]
    if (!refs || !Array.isArray(list)) continue
    list.forEach((c: unknown, i) => {
      if (!isPlainObject(c) || !isPlainObject(c['properties'])) return
      const at = `properties.${kind}[${i}]`
      const from = `${lbId}/${kind}/${String(c['name'])}`
      for (const { ref, path, to } of referencesOf(c['properties'], refs, `${at}.properties`)) {
        const p = referenceProblem(ref, path, from, lbId, to, names.get(to) as Set<string>)
        if (p) out.push(p)
      }
    })
  }
  return out
}

/**
 * The load balancer's `properties` as a GET shows them: every child with its id, type, etag and
 * provisioning state, and the back-references of Azure (the rules that use a pool, a probe or a
 * frontend), plus `outside`: back-references from other resources, by the child's lower-case id
 * (a pool's `backendIPConfigurations`, the instances' NIC IP configurations in it).
 * @example childViews(lbId, 'W/"1"', { probes: [{ name: 'http', properties: {} }] })
 *   → { probes: [{ name: 'http', id: `${lbId}/probes/http`, etag: 'W/"1"',
 *       type: 'Microsoft.Network/loadBalancers/probes', properties: { provisioningState: 'Succeeded' } }], … }
 */
export function childViews(
  lbId: string,
  etag: string,
  props: Props,
  outside: ReadonlyMap<string, Readonly<Record<string, readonly { id: string }[]>>> = new Map(),
): Props {
  const backRefs = backReferences(lbId, props)
  const out: Props = { ...props }
  for (const kind of CHILD_KINDS) {
    const list = props[kind]
    if (!Array.isArray(list)) {
      out[kind] = []
      continue
    }
    out[kind] = list.map((c: unknown) => {
      if (!isPlainObject(c)) return c
      const id = `${lbId}/${kind}/${String(c['name'])}`
      const extra = {
        ...backRefs.get(id.toLowerCase()),
        ...outside.get(id.toLowerCase()),
      }
      return {
        ...c,
        id,
        etag,
        type: `${LOAD_BALANCER_TYPE}/${kind}`,
        properties: {
          ...(isPlainObject(c['properties']) ? c['properties'] : {}),
          ...extra,
          provisioningState: 'Succeeded',
        },
      }
    })
  }
  return out
}

/** The id of a child of `lbId`, or undefined when `id` names none of kind `kind`. */
export function childName(lbId: string, kind: ChildKind, id: string): string | undefined {
  const prefix = `${lbId}/${kind}/`.toLowerCase()
  if (!id.toLowerCase().startsWith(prefix)) return undefined
  const name = id.slice(prefix.length)
  return name !== '' && !name.includes('/') ? name : undefined
}

type Reference = { ref: unknown; path: string; to: ChildKind }

function referencesOf(
  p: Props,
  refs: Readonly<Record<string, ChildKind>>,
  at: string,
): Reference[] {
  return Object.entries(refs).flatMap(([member, to]): Reference[] => {
    const list = member.endsWith('[]')
    const name = list ? member.slice(0, -2) : member
    const value = p[name]
    if (value === undefined || value === null) return []
    if (!list) return [{ ref: value, path: `${at}.${name}`, to }]
    return Array.isArray(value)
      ? value.map((ref: unknown, j) => ({ ref, path: `${at}.${name}[${j}]`, to }))
      : []
  })
}

function referenceProblem(
  ref: unknown,
  path: string,
  from: string,
  lbId: string,
  to: ChildKind,
  names: Set<string>,
): Problem | undefined {
  const id = isPlainObject(ref) ? ref['id'] : undefined
  if (typeof id !== 'string' || id === '') return missingReferenceId(path)
  const name = childName(lbId, to, id)
  if (name !== undefined && names.has(name.toLowerCase())) return undefined
  return problem(`${path}.id`, referenceNotFound(id, from), 'InvalidResourceReference')
}

/**
 * Azure's answer for a reference that resolves to nothing.
 * @example referenceNotFound(`${lb}/probes/gone`, `${lb}/loadBalancingRules/web`)
 */
export function referenceNotFound(id: string, from: string): string {
  return `Resource ${id} referenced by resource ${from} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`
}

/** A reference object without an id (`{}`): Azure's request parser refuses it. */
export function missingReferenceId(path: string): Problem {
  return {
    ...problem(path, 'Cannot parse the request.', 'InvalidRequestFormat'),
    details: [
      problem(path, `Value for reference id is missing. Path ${path}.`, 'MissingJsonReferenceId'),
    ],
  }
}

function childNameSet(list: unknown): Set<string> {
  if (!Array.isArray(list)) return new Set()
  return new Set(
    list.flatMap((c: unknown) =>
      isPlainObject(c) && typeof c['name'] === 'string' ? [c['name'].toLowerCase()] : [],
    ),
  )
}

/** Per referenced child id (lower case): the back-reference lists Azure shows on it. */
function backReferences(lbId: string, props: Props): Map<string, Record<string, { id: string }[]>> {
  const out = new Map<string, Record<string, { id: string }[]>>()
  for (const kind of CHILD_KINDS) {
    const refs = REFERENCES[kind]
    const list = props[kind]
    if (!refs || !Array.isArray(list)) continue
    for (const c of list) {
      if (!isPlainObject(c) || !isPlainObject(c['properties'])) continue
      const from = `${lbId}/${kind}/${String(c['name'])}`
      const seen = new Set<string>()
      for (const { ref } of referencesOf(c['properties'], refs, '')) {
        const id = isPlainObject(ref) && typeof ref['id'] === 'string' ? ref['id'] : undefined
        if (!id || seen.has(id.toLowerCase())) continue
        seen.add(id.toLowerCase())
        const entry = out.get(id.toLowerCase()) ?? {}
        entry[kind] = [...(entry[kind] ?? []), { id: from }]
        out.set(id.toLowerCase(), entry)
      }
    }
  }
  return out
}
