/**
 * A scale set's subnets (docs/api.md § Virtual networks and subnets): every subnet its network
 * interface configurations name must exist, in the set's region (`InvalidResourceReference`, as
 * Azure answers), and the primary one must have room for the set's capacity beside the addresses
 * other sets hold (`SubnetIsFull`). A model that names no subnet is left as it was.
 */
import { Errors } from '../errors.js'
import type { ArmScaleSet } from '../core/scale-set/arm-model.js'
import { normalizeLocation } from '../core/scale-set/to-spec.js'
import { subnetReferences } from '../core/network/nic-config.js'
import { parseCidr, usableHosts } from '../core/network/cidr.js'
import type { FabricModel } from '../fabrics/types/fabric.js'
import { findSubnet, parseSubnetId, SubnetAddresses } from '../runtime/subnet-addresses.js'
import type { ServiceDeps } from './deps.js'

/**
 * Checks the model's subnet references and returns the one instances get their address from.
 * @example await resolveNetwork(deps, model, setId) → { subnetId, nic: 'nic', ipConfig: 'ip' }
 */
export async function resolveNetwork(
  deps: ServiceDeps,
  model: ArmScaleSet,
  setId: string,
): Promise<FabricModel['network']> {
  const refs = subnetReferences(model.properties?.virtualMachineProfile?.networkProfile)
  const location = normalizeLocation(typeof model.location === 'string' ? model.location : '')
  const found: { id: string; prefix: string }[] = []
  for (const r of refs) {
    const parts = parseSubnetId(r.subnetId)
    const vnet = parts && (await deps.store.getResource(parts.vnetId))
    const subnet = parts && findSubnet(vnet ?? undefined, parts.subnet)
    const sameRegion = normalizeLocation(String(vnet?.body['location'] ?? '')) === location
    if (!subnet || !sameRegion)
      throw Errors.InvalidResourceReference(
        `Resource ${r.subnetId} referenced by resource ${setId} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
        r.target,
      )
    found.push(subnet)
  }
  const primary = refs[0]
  const subnet = found[0]
  if (!primary || !subnet) return null
  await requireRoom(deps, {
    subnetId: subnet.id,
    prefix: subnet.prefix,
    setKey: setId.toLowerCase(),
    capacity: Number(model.sku?.capacity ?? 0),
  })
  return { subnetId: subnet.id, nic: primary.nic, ipConfig: primary.ipConfig }
}

/** The subnet has addresses for `capacity` instances once other sets' addresses are counted. */
async function requireRoom(
  deps: ServiceDeps,
  o: { subnetId: string; prefix: string; setKey: string; capacity: number },
): Promise<void> {
  const cidr = parseCidr(o.prefix)
  if (typeof cidr === 'string') return // a stored subnet's prefix was validated when written
  const claims = await new SubnetAddresses(deps.store).ofSubnet(o.subnetId)
  const others = claims.filter((c) => c.scaleSetKey !== o.setKey).length
  const free = usableHosts(cidr) - others
  if (o.capacity > free) {
    const name = parseSubnetId(o.subnetId)?.subnet ?? o.subnetId
    throw Errors.SubnetIsFull(
      `Subnet ${name} with address prefix ${o.prefix} does not have enough capacity for ${o.capacity} IP addresses.`,
      'sku.capacity',
    )
  }
}
