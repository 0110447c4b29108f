/**
 * Service Fabric facts of a scale set model (docs/api.md § Service Fabric clusters): which
 * cluster node type its Service Fabric extension names, and at which durability, and the
 * cluster's own durability for that node type. Validation checks them on write; the rollout
 * checks them again before every batch (docs/rollouts.md R3.4).
 */
import type { ArmScaleSet } from './arm-model.js'
import { isServiceFabricExtension } from './arm-model.js'
import { isServiceFabricClusterId } from '../references.js'

export type ServiceFabricNodeType = Readonly<{
  /** The cluster's ARM id (`clusterEndpoint`), as written. */
  clusterId: string
  nodeTypeRef: string
  /** The durability the set's extension says, e.g. `Silver`. */
  durability: string
}>

/**
 * The node type the model's Service Fabric extension names, when it names a cluster id.
 * @example settings { clusterEndpoint: '/subscriptions/s/…/clusters/sf', nodeTypeRef: 'nt1',
 *   durabilityLevel: 'Silver' } → { clusterId: '/subscriptions/s/…/clusters/sf', nodeTypeRef: 'nt1', durability: 'Silver' }
 */
export function serviceFabricNodeTypeOf(model: ArmScaleSet): ServiceFabricNodeType | null {
  const extensions = model.properties?.virtualMachineProfile?.extensionProfile?.extensions ?? []
  const settings = extensions.find(isServiceFabricExtension)?.properties?.settings ?? {}
  const endpoint = settings['clusterEndpoint']
  if (typeof endpoint !== 'string' || !isServiceFabricClusterId(endpoint)) return null
  return {
    clusterId: endpoint,
    nodeTypeRef: String(settings['nodeTypeRef'] ?? ''),
    durability: String(settings['durabilityLevel'] ?? ''),
  }
}

/**
 * The durability a cluster's body gives a node type (names compare without case), or null.
 * @example nodeTypeDurability({ properties: { nodeTypes: [{ name: 'NT1', durabilityLevel: 'Gold' }] } }, 'nt1') === 'Gold'
 */
export function nodeTypeDurability(
  clusterBody: Readonly<Record<string, unknown>> | undefined,
  nodeTypeRef: string,
): string | null {
  const props = clusterBody?.['properties'] as
    { nodeTypes?: { name?: unknown; durabilityLevel?: unknown }[] } | undefined
  const nodeTypes = Array.isArray(props?.nodeTypes) ? props.nodeTypes : []
  const wanted = nodeTypeRef.toLowerCase()
  const nt = nodeTypes.find((n) => String(n?.name ?? '').toLowerCase() === wanted)
  return typeof nt?.durabilityLevel === 'string' && nt.durabilityLevel !== ''
    ? nt.durabilityLevel
    : null
}

/**
 * Whether the cluster's durability for the node type differs from the set's; unknown (null or
 * absent) is no mismatch.
 * @example durabilityMismatched({ …, durability: 'Silver' }, 'Gold') === true
 */
export function durabilityMismatched(
  nodeType: ServiceFabricNodeType | null | undefined,
  clusterDurability: string | null | undefined,
): boolean {
  if (!nodeType || nodeType.durability === '') return false
  if (clusterDurability === undefined || clusterDurability === null) return false
  return clusterDurability !== nodeType.durability
}

/**
 * Azure's message when the set's and the cluster's durability differ, verbatim.
 * @example durabilityMismatchMessage('nt1', 'Silver', 'Gold') === 'Durability Mismatch Detected
 *   for NodeType nt1. VMSS Durability Silver does not match the current SFRP NodeType durability level Gold'
 */
export function durabilityMismatchMessage(
  nodeTypeRef: string,
  setDurability: string,
  clusterDurability: string,
): string {
  return `Durability Mismatch Detected for NodeType ${nodeTypeRef}. VMSS Durability ${setDurability} does not match the current SFRP NodeType durability level ${clusterDurability}`
}
