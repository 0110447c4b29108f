/**
 * The facts around a rollout's decisions that the reconciler reads or records beside it: the
 * Service Fabric cluster's durability before each decision (docs/rollouts.md R3.4), and what an
 * ended platform OS rollout leaves on the set for the next trigger (docs/rollouts.md R1.3).
 */
import {
  extensionFingerprint,
  failedExtensionOf,
  versionOutcome,
} from '../core/rollout/recovery.js'
import type { Rollout } from '../core/rollout/types.js'
import type { ScaleSetState } from '../store/store.js'

/** Where a Service Fabric cluster's durability for a node type is read (null: unknown). */
export type ClusterDurabilities = Readonly<{
  durability: (clusterId: string, nodeTypeRef: string) => Promise<string | null>
}>

/**
 * What an ended platform OS rollout leaves on the set (docs/rollouts.md R1.3): a version the
 * image faulted is blocked, with the extension whose failure faulted it; a held one is retried
 * once its cause is gone; any other end is retried after the retry delay.
 */
export function recordEnd(
  state: ScaleSetState,
  r: Rollout,
  nowMs: number,
): Pick<ScaleSetState, 'faultedVersions' | 'lastPlatformRollout' | 'faultCauses'> {
  const version = r.target.imageVersion
  const unchanged = {
    faultedVersions: state.faultedVersions,
    lastPlatformRollout: state.lastPlatformRollout,
    ...(state.faultCauses ? { faultCauses: state.faultCauses } : {}),
  }
  if (r.kind !== 'OSImage' || r.startedBy !== 'Platform' || version === null) return unchanged
  const outcome = versionOutcome(r)
  const last = { version, endedAtMs: nowMs, ...(outcome === 'held' ? { held: true } : {}) }
  if (outcome !== 'faulted') return { ...unchanged, lastPlatformRollout: last }
  const name = failedExtensionOf(r)
  const ext = state.fabricModel.extensions.find((e) => e.name === name)
  const causes = (state.faultCauses ?? []).filter((c) => c.version !== version)
  return {
    faultedVersions: [...new Set([...state.faultedVersions, version])],
    lastPlatformRollout: last,
    faultCauses: ext
      ? [...causes, { version, extension: ext.name, fingerprint: extensionFingerprint(ext) }]
      : causes,
  }
}

/** The cluster's durability for a Service Fabric set's node type now (null: not asked). */
export async function clusterDurabilityOf(
  state: ScaleSetState,
  deps: Readonly<{ clusters?: ClusterDurabilities }>,
): Promise<string | null> {
  const nodeType = state.spec.serviceFabricNodeType
  if (!nodeType || !deps.clusters) return null
  return deps.clusters.durability(nodeType.clusterId, nodeType.nodeTypeRef)
}
