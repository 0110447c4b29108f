/**
 * Linked resources (issue 15): the resource ids a request body refers to — every `id` member
 * (ARM's SubResource / ApiEntityReference: imageReference.id, healthProbe.id, backend pool and
 * subnet ids, …) and the Service Fabric extension's `clusterEndpoint` — with the subscription
 * each names, so that the API can check that the caller may read every subscription a write
 * links to (ARM's `LinkedAuthorizationFailed`).
 */

export type LinkedId = Readonly<{ path: string; id: string; subscription: string }>

const SUBSCRIPTION_OF = /^\/subscriptions\/([^/]+)(?:\/|$)/i
const LINK_MEMBERS = new Set(['id', 'clusterendpoint'])

/**
 * Every linked resource id in `body`, depth first. Iterative (bodies are at most 64 deep after
 * parsing, but this does not rely on it).
 * @example linkedIds({ properties: { healthProbe: { id: '/subscriptions/b/…/probes/p' } } })
 *   → [{ path: 'properties.healthProbe.id', id: '/subscriptions/b/…', subscription: 'b' }]
 */
export function linkedIds(body: unknown): LinkedId[] {
  const out: LinkedId[] = []
  const stack: [unknown, string][] = [[body, '']]
  while (stack.length > 0) {
    const [value, path] = stack.pop() as [unknown, string]
    if (Array.isArray(value)) {
      value.forEach((v, i) => stack.push([v, `${path}[${i}]`]))
      continue
    }
    if (typeof value !== 'object' || value === null) continue
    for (const [key, v] of Object.entries(value)) {
      const at = path === '' ? key : `${path}.${key}`
      if (typeof v === 'string') {
        const m = LINK_MEMBERS.has(key.toLowerCase()) ? SUBSCRIPTION_OF.exec(v) : null
        if (m) out.push({ path: at, id: v, subscription: m[1] as string })
      } else stack.push([v, at])
    }
  }
  return out
}

const SF_CLUSTER_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ServiceFabric\/clusters\/[^/]+$/i

/** True when `endpoint` is the resource id of a Service Fabric cluster (osroll's clusterEndpoint). */
export function isServiceFabricClusterId(endpoint: string): boolean {
  return SF_CLUSTER_ID.test(endpoint)
}
