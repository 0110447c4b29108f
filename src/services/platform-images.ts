/**
 * Publishing and deleting platform image versions, beyond the catalog's own records (catalog.ts):
 * a publish wakes every scale set, as one that follows `latest` may roll to the new version; a
 * version an instance runs, or keeps as its previous disk, cannot be deleted.
 */
import { Errors } from '../errors.js'
import { imageLineKey } from '../core/image/image-ref.js'
import { SCALE_SET_TYPE } from '../arm/arm.js'
import type { PlatformImageKey, PlatformImageVersion, PublishInput } from './catalog.js'
import type { ServiceDeps } from './deps.js'

/** A version, seen from a subscription (the one of the request's URL). */
export type PlatformImageRef = Readonly<{ sub: string; key: PlatformImageKey; version: string }>

/**
 * Publishes a version (StoreCatalog.publish) and wakes every scale set and rollout plan.
 * @returns whether it was created (201) rather than already there (200), and the version.
 */
export async function publishPlatformImage(
  deps: ServiceDeps,
  input: PublishInput,
): Promise<{ created: boolean; image: PlatformImageVersion }> {
  const published = await deps.catalog.publish(input)
  for (const key of await deps.store.listScaleSetKeys()) deps.notify(key)
  // Rollout plans too: a new version starts a wave (docs/rollouts.md § Waves across scale sets).
  for (const key of await deps.plans.listPlanKeys()) deps.notify(key)
  return published
}

/**
 * Deletes a version no instance uses; 409 Conflict naming the users otherwise.
 * @returns false when there was no such version (the route answers 204).
 */
export async function deletePlatformImage(
  deps: ServiceDeps,
  ref: PlatformImageRef,
): Promise<boolean> {
  if (!(await deps.catalog.get(ref.key, ref.version))) return false
  const users = await instancesUsing(deps, ref)
  if (users.here.length > 0 || users.elsewhere > 0)
    throw Errors.Conflict(
      `Image version ${ref.version} is in use by ${inUse(users)}; it cannot be deleted.`,
    )
  await deps.catalog.delete(ref.key, ref.version)
  return true
}

type Users = { here: string[]; elsewhere: number }

/** "instance web/0 and 2 instances in other subscriptions": names only the URL's subscription's. */
function inUse(u: Users): string {
  const here =
    u.here.length > 0
      ? `instance ${u.here.slice(0, 3).join(', ')}${u.here.length > 3 ? ` and ${u.here.length - 3} more` : ''}`
      : ''
  const there =
    u.elsewhere > 0
      ? `${u.elsewhere} instance${u.elsewhere === 1 ? '' : 's'} in other subscriptions`
      : ''
  return [here, there].filter((x) => x !== '').join(' and ')
}

/**
 * The instances whose OS disk or kept previous disk is this version: named (set/id) in the
 * subscription of the request's URL, only counted in the others (whose names it may not learn).
 */
async function instancesUsing(deps: ServiceDeps, ref: PlatformImageRef): Promise<Users> {
  const { key, version } = ref
  const line = imageLineKey({
    kind: 'platform',
    publisher: key.publisher,
    offer: key.offer,
    sku: key.sku,
    version,
  })
  const users: Users = { here: [], elsewhere: 0 }
  for (const r of await deps.store.listResources({ type: SCALE_SET_TYPE })) {
    const state = await deps.store.getScaleSet(r.id)
    if (!state || imageLineKey(state.spec.image) !== line || state.spec.location !== key.location)
      continue
    const using = (await deps.fabric.listInstances(state.key)).filter(
      (i) => i.osImageVersion === version || i.previousOsImageVersion === version,
    )
    if (r.subscriptionId.toLowerCase() === ref.sub.toLowerCase())
      users.here.push(...using.map((v) => `${r.name}/${v.instanceId}`))
    else users.elsewhere += using.length
  }
  return users
}
