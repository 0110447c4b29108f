/**
 * The rules of a virtual network's address plan (docs/api.md § Virtual networks and subnets),
 * pure: every prefix is IPv4 CIDR without host bits, the address spaces do not overlap each
 * other, each subnet is at least a /29, lies inside one of the address spaces and overlaps no
 * other subnet. The first rule broken is the answer, with Azure's code and message.
 */
import type { Problem } from '../problem.js'
import { problem } from '../problem.js'
import { contains, formatCidr, overlaps, parseCidr, SMALLEST_SUBNET_BITS } from './cidr.js'
import type { Cidr } from './cidr.js'

/** A subnet as the rules see it: its name and the prefixes it was given (one or several). */
export type SubnetPlan = Readonly<{ name: string; prefixes: readonly unknown[]; target: string }>

export type VirtualNetworkPlan = Readonly<{
  name: string
  /** The VNet's ARM id, for the messages that name a resource. */
  id: string
  addressPrefixes: unknown
  subnets: readonly SubnetPlan[]
}>

const SPACE = 'properties.addressSpace.addressPrefixes'

/**
 * The first rule the plan breaks, or undefined.
 * @example checkVirtualNetwork({ name: 'v', id, addressPrefixes: ['10.0.0.0/16'],
 *   subnets: [{ name: 's', prefixes: ['10.1.0.0/24'], target }] })
 *   → { code: 'NetcfgSubnetRangeOutsideVnet', message: "Subnet 's' is not valid because …" }
 */
export function checkVirtualNetwork(v: VirtualNetworkPlan): Problem | undefined {
  if (!Array.isArray(v.addressPrefixes) || v.addressPrefixes.length === 0)
    return problem(
      SPACE,
      `Virtual network '${v.name}' needs at least one address prefix in ${SPACE}.`,
    )
  const spaces: Cidr[] = []
  for (const [i, text] of v.addressPrefixes.entries()) {
    const c = parseCidr(text)
    if (typeof c === 'string') return badPrefix(text, v.id, `${SPACE}[${i}]`)
    const clash = spaces.find((s) => overlaps(s, c))
    if (clash)
      return problem(
        `${SPACE}[${i}]`,
        `The address prefixes ${formatCidr(clash)} and ${formatCidr(c)} of virtual network '${v.name}' overlap: the address spaces of a virtual network must not overlap each other.`,
        'VnetAddressSpacesOverlap',
      )
    spaces.push(c)
  }
  const taken: { subnet: string; cidr: Cidr }[] = []
  for (const s of v.subnets) {
    const p = checkSubnet(v, s, spaces, taken)
    if (p) return p
  }
  return undefined
}

function checkSubnet(
  v: VirtualNetworkPlan,
  s: SubnetPlan,
  spaces: readonly Cidr[],
  taken: { subnet: string; cidr: Cidr }[],
): Problem | undefined {
  const invalid = `Subnet '${s.name}' is not valid in virtual network '${v.name}'.`
  if (s.prefixes.length === 0)
    return problem(
      `${s.target}.properties.addressPrefix`,
      `${invalid} It needs properties.addressPrefix (or properties.addressPrefixes).`,
      'NetcfgInvalidSubnet',
    )
  for (const text of s.prefixes) {
    const c = parseCidr(text)
    const at = `${s.target}.properties.addressPrefix`
    if (typeof c === 'string') return badPrefix(text, `${v.id}/subnets/${s.name}`, at)
    if (c.bits > SMALLEST_SUBNET_BITS)
      return problem(
        at,
        `${invalid} Its address prefix ${formatCidr(c)} is smaller than /${SMALLEST_SUBNET_BITS}, the smallest IPv4 subnet.`,
        'NetcfgInvalidSubnet',
      )
    if (!spaces.some((space) => contains(space, c)))
      return problem(
        at,
        `Subnet '${s.name}' is not valid because its IP address range is outside the IP address range of virtual network '${v.name}'.`,
        'NetcfgSubnetRangeOutsideVnet',
      )
    if (taken.some((t) => overlaps(t.cidr, c)))
      return problem(
        at,
        `Subnet '${s.name}' is not valid because its IP address range overlaps with that of an existing subnet in virtual network '${v.name}'.`,
        'NetcfgSubnetRangesOverlap',
      )
    taken.push({ subnet: s.name, cidr: c })
  }
  return undefined
}

function badPrefix(text: unknown, resourceId: string, target: string): Problem {
  const shown = (typeof text === 'string' ? text : String(JSON.stringify(text))).slice(0, 100)
  return problem(
    target,
    `Address prefix ${shown} of resource ${resourceId} is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24.`,
    'InvalidAddressPrefixFormatted',
  )
}
