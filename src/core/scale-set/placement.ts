/**
 * Instance placement (docs/api.md § Instances and their views): zones round-robin in order, update
 * domain = ordinal within the
 * zone (or the set) modulo 5, fault domain = ordinal modulo `platformFaultDomainCount`
 * (5 by default, 1 when zonal); and which instances a scale-in removes.
 */

export const UPDATE_DOMAIN_COUNT = 5

export type Placement = Readonly<{ zone: string | null; updateDomain: number; faultDomain: number }>

export type PlacedInstance = Readonly<{
  instanceId: string
  zone: string | null
  protectFromScaleIn: boolean
}>

/**
 * Places new instances after the existing ones: each goes to the zone with the fewest instances
 * (ties in zone order), which is round-robin for a fresh set and rebalances after scale-in.
 * @example 4 new instances in zones ['1','2','3'] → zones 1,2,3,1; UDs 0,0,0,1
 */
export function placeNewInstances(
  existing: readonly Readonly<{ zone: string | null }>[],
  zones: readonly string[],
  count: number,
  faultDomainCount: number | undefined,
): Placement[] {
  const fdCount = faultDomainCount ?? (zones.length > 0 ? 1 : 5)
  const perZone = new Map<string | null, number>()
  const keys: (string | null)[] = zones.length > 0 ? [...zones] : [null]
  for (const k of keys) perZone.set(k, 0)
  for (const i of existing) perZone.set(i.zone, (perZone.get(i.zone) ?? 0) + 1)
  const out: Placement[] = []
  for (let n = 0; n < count; n++) {
    let best = keys[0] ?? null
    for (const k of keys) if ((perZone.get(k) ?? 0) < (perZone.get(best) ?? 0)) best = k
    const ordinal = perZone.get(best) ?? 0
    perZone.set(best, ordinal + 1)
    out.push({
      zone: best,
      updateDomain: ordinal % UPDATE_DOMAIN_COUNT,
      faultDomain: ordinal % Math.max(1, fdCount),
    })
  }
  return out
}

/**
 * Chooses the instances a scale-in removes: repeatedly the highest unprotected id in the fullest
 * zone, so zones stay balanced. Returns fewer than asked when protection forbids more.
 * @example zones 1:[0,3] 2:[1,4] 3:[2] scaled in by 2 → removes 4 then 3
 */
export function chooseScaleIn(instances: readonly PlacedInstance[], count: number): string[] {
  const pool = instances.filter((i) => !i.protectFromScaleIn)
  const zoneCount = new Map<string | null, number>()
  for (const i of instances) zoneCount.set(i.zone, (zoneCount.get(i.zone) ?? 0) + 1)
  const removed: string[] = []
  while (removed.length < count && pool.length > 0) {
    pool.sort((a, b) => {
      const dz = (zoneCount.get(b.zone) ?? 0) - (zoneCount.get(a.zone) ?? 0)
      return dz !== 0 ? dz : Number(b.instanceId) - Number(a.instanceId)
    })
    const victim = pool.shift() as PlacedInstance
    zoneCount.set(victim.zone, (zoneCount.get(victim.zone) ?? 0) - 1)
    removed.push(victim.instanceId)
  }
  return removed
}

/**
 * Azure's computer name: prefix + the instance id in base 36, zero-padded to 6 characters.
 * @example computerName('web', '37') === 'web000011'
 */
export function computerName(prefix: string, instanceId: string): string {
  return prefix + Number(instanceId).toString(36).padStart(6, '0')
}
