/**
 * What a resource group holds, in the order deleting the group removes it
 * (docs/api.md § Resource groups): what depends on others goes first, so each type's own delete,
 * with its own rules, finds nothing in the group still using it. A new resource type in a group
 * is one line here.
 */
import { LB_TYPE, SCALE_SET_TYPE, SERVICE_FABRIC_TYPE, VNET_TYPE } from '../arm/arm.js'
import type { StoredResource } from '../store/control-store.js'
import type { ServiceDeps } from './deps.js'
import { GALLERY_IMAGE_TYPE, GALLERY_TYPE, GALLERY_VERSION_TYPE } from './galleries.js'
import { deleteLoadBalancer } from './load-balancers.js'
import { deleteScaleSet } from './scale-sets.js'
import { deleteVirtualNetwork } from './virtual-networks.js'

export type GroupMember = Readonly<{
  /** The ARM type, canonically cased (the store keeps it lower-cased). */
  type: string
  /** Deletes one resource of the type through the type's own delete path. */
  remove: (deps: ServiceDeps, r: StoredResource) => Promise<unknown>
}>

/**
 * Dependency order: scale sets first (their instances go with them, through the scale set
 * delete; they use probes, subnets, galleries and Service Fabric clusters), then load balancers,
 * virtual networks, Service
 * Fabric clusters, and galleries from their versions outwards (a gallery with definitions
 * cannot be deleted, nor a definition with versions).
 */
export const GROUP_MEMBERS: readonly GroupMember[] = [
  { type: SCALE_SET_TYPE, remove: (deps, r) => deleteScaleSet(deps, refOf(r)) },
  { type: LB_TYPE, remove: (deps, r) => deleteLoadBalancer(deps, refOf(r)) },
  // After the scale sets: a VNet whose subnet a set uses cannot be deleted.
  { type: VNET_TYPE, remove: (deps, r) => deleteVirtualNetwork(deps, refOf(r)) },
  { type: SERVICE_FABRIC_TYPE, remove: (deps, r) => deps.store.deleteResource(r.id) },
  { type: GALLERY_VERSION_TYPE, remove: galleryDelete(GALLERY_VERSION_TYPE) },
  { type: GALLERY_IMAGE_TYPE, remove: galleryDelete(GALLERY_IMAGE_TYPE) },
  { type: GALLERY_TYPE, remove: galleryDelete(GALLERY_TYPE) },
]

function refOf(r: StoredResource): { sub: string; rg: string; name: string } {
  return { sub: r.subscriptionId, rg: r.resourceGroup ?? '', name: r.name }
}

function galleryDelete(type: string): GroupMember['remove'] {
  return (deps, r) => deps.catalog.galleries.delete(r.id, type)
}
