/**
 * Instance addresses from subnets (docs/api.md § Virtual networks and subnets, docs/architecture.md
 * § Subnet addresses): the control plane, not the fabric, gives each instance of a set that names
 * a subnet the lowest free address of the subnet's prefix from .4 up. Each address is a claim
 * stored as its own resource, created only if absent (`putResource(…, null)`), so two sets — on
 * two replicas even — never get the same address; a claim lives until its instance is deleted.
 */
import { AppError, Errors } from '../errors.js'
import type { ControlStore, StoredResource } from '../store/control-store.js'
import { hostAddress, parseCidr, usableHosts } from '../core/network/cidr.js'

/** Claims are osroll's own records, never an Azure resource: a type of its own namespace. */
export const ADDRESS_CLAIM_TYPE = 'Osroll.Network/addressClaims'

export type AddressClaim = Readonly<{
  subnetId: string
  address: string
  scaleSetKey: string
  instanceId: string
  /** The network interface and IP configuration names of the set's model. */
  nic: string
  ipConfig: string
}>

export type ClaimRequest = Omit<AddressClaim, 'address'> & Readonly<{ nowMs: number }>

const SUBNET_ID =
  /^(\/subscriptions\/([^/]+)\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+)\/subnets\/([^/]+)$/i

/**
 * A subnet id's parts: the VNet's id, the subscription and the subnet's name.
 * @example parseSubnetId('/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a')
 *   → { vnetId: '/subscriptions/s/…/virtualNetworks/v', subscription: 's', subnet: 'a' }
 */
export function parseSubnetId(
  id: string,
): { vnetId: string; subscription: string; subnet: string } | undefined {
  const m = SUBNET_ID.exec(id)
  return m
    ? { vnetId: m[1] as string, subscription: m[2] as string, subnet: m[3] as string }
    : undefined
}

/**
 * A subnet of a stored VNet: its canonical id and the prefix it gives addresses from (its
 * first), or undefined when the VNet has no such subnet.
 */
export function findSubnet(
  vnet: StoredResource | undefined,
  subnet: string,
): { id: string; prefix: string } | undefined {
  const subnets = (vnet?.body['properties'] as { subnets?: unknown } | undefined)?.subnets
  if (!vnet || !Array.isArray(subnets)) return undefined
  const s = subnets.find(
    (x: { name?: unknown }) => String(x?.name).toLowerCase() === subnet.toLowerCase(),
  ) as { name: string; properties?: { addressPrefix?: unknown; addressPrefixes?: unknown[] } }
  const p = s?.properties?.addressPrefix ?? s?.properties?.addressPrefixes?.[0]
  if (typeof p !== 'string') return undefined
  return { id: `${String(vnet.body['id'] ?? vnet.id)}/subnets/${s.name}`, prefix: p }
}

export class SubnetAddresses {
  constructor(private readonly store: ControlStore) {}

  /**
   * The instance's address in the subnet: the one it already holds (a retried create), else the
   * lowest free one, claimed atomically. A subnet with none left is `SubnetIsFull`.
   */
  async claim(r: ClaimRequest): Promise<string> {
    const held = (await this.ofScaleSet(r.scaleSetKey)).find((c) => c.instanceId === r.instanceId)
    if (held) return held.address
    const parts = parseSubnetId(r.subnetId)
    const prefix =
      parts && findSubnet(await this.store.getResource(parts.vnetId), parts.subnet)?.prefix
    const cidr = prefix === undefined ? undefined : parseCidr(prefix)
    if (!parts || cidr === undefined || typeof cidr === 'string')
      throw Errors.InvalidResourceReference(
        `Resource ${r.subnetId} referenced by resource ${r.scaleSetKey} was not found.`,
      )
    const used = new Set((await this.ofSubnet(r.subnetId)).map((c) => c.address))
    for (let n = 0; n < usableHosts(cidr); n++) {
      const address = hostAddress(cidr, n) as string
      if (used.has(address)) continue
      if (await this.tryClaim(r, address)) return address
    }
    throw Errors.SubnetIsFull(
      `Subnet ${parts.subnet} with address prefix ${prefix} does not have enough capacity for 1 IP address.`,
    )
  }

  /** Gives back the addresses of these instances of the set (all its instances if omitted). */
  async release(scaleSetKey: string, instanceIds?: readonly string[]): Promise<void> {
    const ids = instanceIds && new Set(instanceIds)
    for (const c of await this.ofScaleSet(scaleSetKey))
      if (!ids || ids.has(c.instanceId)) await this.store.deleteResource(claimId(c))
  }

  /** The claims in a subnet, by address. */
  async ofSubnet(subnetId: string): Promise<AddressClaim[]> {
    const rows = await this.store.listResources({
      type: ADDRESS_CLAIM_TYPE,
      idPrefix: `${subnetId}/addresses/`,
    })
    return rows.map((r) => r.body as AddressClaim)
  }

  /**
   * The claims of a set's instances. A claim is filed under the set's subscription with no
   * resource group, so no group's listing shows it (a set's key starts with its subscription).
   */
  async ofScaleSet(scaleSetKey: string): Promise<AddressClaim[]> {
    const sub = /^\/subscriptions\/([^/]+)\//i.exec(scaleSetKey)?.[1]
    const rows = await this.store.listResources({
      type: ADDRESS_CLAIM_TYPE,
      ...(sub ? { subscriptionId: sub } : {}),
    })
    const key = scaleSetKey.toLowerCase()
    return rows.map((r) => r.body as AddressClaim).filter((c) => c.scaleSetKey === key)
  }

  private async tryClaim(r: ClaimRequest, address: string): Promise<boolean> {
    const claim: AddressClaim = {
      subnetId: r.subnetId,
      address,
      scaleSetKey: r.scaleSetKey.toLowerCase(),
      instanceId: r.instanceId,
      nic: r.nic,
      ipConfig: r.ipConfig,
    }
    const sub = /^\/subscriptions\/([^/]+)\//i.exec(r.scaleSetKey)?.[1] ?? ''
    try {
      await this.store.putResource(
        {
          id: claimId(claim),
          type: ADDRESS_CLAIM_TYPE,
          subscriptionId: sub,
          resourceGroup: null,
          name: address,
          body: claim,
          etag: address,
          createdAtMs: r.nowMs,
          updatedAtMs: r.nowMs,
        },
        null,
      )
      return true
    } catch (err) {
      // Another instance claimed it first: try the next address.
      if (err instanceof AppError && err.code === 'PreconditionFailed') return false
      throw err
    }
  }
}

function claimId(c: AddressClaim): string {
  return `${c.subnetId}/addresses/${c.address}`.toLowerCase()
}
