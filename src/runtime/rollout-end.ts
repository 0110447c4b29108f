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
import { quarantine, quarantines } from '../core/rollout/quarantine.js'
import type { Rollout } from '../core/rollout/types.js'
import type { ScaleSetState } from '../store/store.js'

/** Where a Service Fabric cluster's durability for a node type is read (null: unknown). */
export type ClusterDurabilities = Readonly<{
  durability: (clusterId: string, nodeTypeRef: string) => Promise<string | null>
}>

/**
 * What an ended OS rollout leaves on the set (docs/rollouts.md R1.3, and
 * docs/rollouts.md § Quarantine and roll forward): a version the image faulted, on any
 * trigger, is quarantined, with the rollout, its error and the extension whose failure faulted
 * it; after a platform rollout, a held version is retried
 * once its cause is gone, and any other end is retried after the retry delay.
 */
export function recordEnd(
  state: ScaleSetState,
  r: Rollout,
  nowMs: number,
): Pick<ScaleSetState, 'faultedVersions' | 'lastPlatformRollout' | 'faultCauses' | 'quarantine'> {
  const version = r.target.imageVersion
  const unchanged = {
    faultedVersions: state.faultedVersions,
    lastPlatformRollout: state.lastPlatformRollout,
    ...(state.faultCauses ? { faultCauses: state.faultCauses } : {}),
    ...(state.quarantine ? { quarantine: state.quarantine } : {}),
  }
  if (r.kind !== 'OSImage' || version === null) return unchanged
  const platform = r.startedBy === 'Platform'
  const outcome = versionOutcome(r)
  const last = platform
    ? { version, endedAtMs: nowMs, ...(outcome === 'held' ? { held: true } : {}) }
    : state.lastPlatformRollout
  if (!quarantines(r)) return { ...unchanged, lastPlatformRollout: last }
  const name = failedExtensionOf(r)
  const ext = state.fabricModel.extensions.find((e) => e.name === name)
  const causes = (state.faultCauses ?? []).filter((c) => c.version !== version)
  return {
    ...quarantine(state, r, nowMs),
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
