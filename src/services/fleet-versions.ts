/**
 * What the fleet runs (docs/api.md § Fleet versions): for every scale set of a subscription, how
 * many instances run each image version and which versions are quarantined, in one read. The
 * dashboard's versions × scale sets matrix needed two reads per set before (its instances and
 * its quarantine); with 100 sets that was about 200 requests behind six browser connections.
 */
import { SCALE_SET_TYPE } from '../arm/arm.js'
import { Errors } from '../errors.js'
import { quarantineList } from '../core/rollout/quarantine.js'
import type { ServiceDeps } from './deps.js'
import { quarantineView } from './quarantine.js'

export const FLEET_VERSIONS_TYPE = 'Osroll.Upgrades/fleetVersions'

/** `instances`: also each instance's version (`instanceVersions`), for the adoption chart. */
export type FleetVersionsQuery = Readonly<{ expand?: string | undefined }>

/**
 * GET /subscriptions/{sub}/providers/Osroll.Upgrades/fleetVersions[?$expand=instances]: one item
 * per scale set, ordered by id, `{ id, name, type, properties: { scaleSet: { id, name,
 * resourceGroup, location }, instanceCount, versions: { [version]: count },
 * quarantinedVersions: [...], instanceVersions?: { [instanceId]: version } } }`.
 * @example await fleetVersions(deps, sub, {}) → { value: [{ name: 'web', properties: { instanceCount: 3, versions: { '1.0.0': 1, '1.1.0': 2 }, … } }] }
 */
export async function fleetVersions(
  deps: ServiceDeps,
  sub: string,
  q: FleetVersionsQuery,
): Promise<{ value: Record<string, unknown>[] }> {
  const withInstances = expandsInstances(q.expand)
  const sets = [...(await deps.store.listResources({ type: SCALE_SET_TYPE, subscriptionId: sub }))]
  sets.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const value: Record<string, unknown>[] = []
  for (const r of sets) {
    const key = r.id.toLowerCase()
    const state = await deps.store.getScaleSet(key)
    if (!state) continue // being created or deleted: not a set yet, or no longer one
    const views = await deps.fabric.listInstances(key)
    const versions: Record<string, number> = {}
    const instanceVersions: Record<string, string> = {}
    for (const v of views) {
      versions[v.osImageVersion] = (versions[v.osImageVersion] ?? 0) + 1
      instanceVersions[v.instanceId] = v.osImageVersion
    }
    const setId = String(r.body['id'] ?? r.id)
    value.push({
      id: `${setId}/providers/${FLEET_VERSIONS_TYPE}/default`,
      name: 'default',
      type: FLEET_VERSIONS_TYPE,
      properties: {
        scaleSet: {
          id: setId,
          name: r.name,
          resourceGroup: r.resourceGroup,
          location: r.body['location'],
        },
        instanceCount: views.length,
        versions,
        quarantinedVersions: quarantineList(state).map((x) => quarantineView(setId, x)),
        ...(withInstances ? { instanceVersions } : {}),
      },
    })
  }
  return { value }
}

function expandsInstances(expand: string | undefined): boolean {
  if (expand === undefined || expand === '') return false
  if (expand.toLowerCase() === 'instances') return true
  throw Errors.InvalidParameter(
    `The value '${expand}' of $expand is not supported; the only value is 'instances'.`,
    '$expand',
  )
}
