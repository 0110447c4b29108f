/**
 * Who uses a subnet (docs/api.md § Virtual networks and subnets): the IP configurations of
 * instances that hold one of its addresses, and the scale sets whose model names it (a set
 * with no instance yet still uses it). A subnet in use cannot be deleted or have its prefix
 * changed; its read-only `ipConfigurations` list the instances' IP configurations.
 */
import { SCALE_SET_TYPE } from '../arm/arm.js'
import { subnetReferences } from '../core/network/nic-config.js'
import { SubnetAddresses } from '../runtime/subnet-addresses.js'
import type { AddressClaim } from '../runtime/subnet-addresses.js'
import type { ServiceDeps } from './deps.js'

/**
 * The ids of what uses the subnet: instance IP configurations first, then scale sets whose
 * model names the subnet but hold no address in it.
 * @example await subnetUsers(deps, subnetId)
 *   → ['/subscriptions/s/…/virtualMachineScaleSets/web/virtualMachines/0/networkInterfaces/nic/ipConfigurations/ip']
 */
export async function subnetUsers(deps: ServiceDeps, subnetId: string): Promise<string[]> {
  const claims = await new SubnetAddresses(deps.store).ofSubnet(subnetId)
  const configs = await ipConfigurationIds(deps, claims)
  const holders = new Set(claims.map((c) => c.scaleSetKey))
  const wanted = subnetId.toLowerCase()
  const sets = await deps.store.listResources({ type: SCALE_SET_TYPE })
  const naming = sets.filter(
    (s) =>
      !holders.has(s.id.toLowerCase()) &&
      subnetReferences(networkProfileOf(s.body)).some((r) => r.subnetId.toLowerCase() === wanted),
  )
  return [...configs, ...naming.map((s) => String(s.body['id'] ?? s.id))]
}

/**
 * The ARM id of each claim's IP configuration, with the scale set's id as it was created:
 * `{set}/virtualMachines/{instance}/networkInterfaces/{nic}/ipConfigurations/{ipConfig}`.
 */
export async function ipConfigurationIds(
  deps: ServiceDeps,
  claims: readonly AddressClaim[],
): Promise<string[]> {
  const setIds = new Map<string, string>()
  for (const key of new Set(claims.map((c) => c.scaleSetKey))) {
    const r = await deps.store.getResource(key)
    setIds.set(key, String(r?.body['id'] ?? key))
  }
  return claims.map(
    (c) =>
      `${setIds.get(c.scaleSetKey) ?? c.scaleSetKey}/virtualMachines/${c.instanceId}/networkInterfaces/${c.nic}/ipConfigurations/${c.ipConfig}`,
  )
}

/** A scale set body's `virtualMachineProfile.networkProfile`, if any. */
export function networkProfileOf(body: Readonly<Record<string, unknown>>): unknown {
  const props = body['properties'] as
    { virtualMachineProfile?: { networkProfile?: unknown } } | undefined
  return props?.virtualMachineProfile?.networkProfile
}
