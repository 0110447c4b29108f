/**
 * The facts around a rollout's decisions that the reconciler reads or records beside it: the
 * Service Fabric cluster's durability before each decision (docs/rollouts.md R3.4), what an
 * ended platform OS rollout leaves on the set for the next trigger (docs/rollouts.md R1.3), and
 * the writes that record a rollout as open and its end on the set, across crashes and racing set
 * writes (docs/architecture.md § Recording a rollout's end).
 */
import {
  extensionFingerprint,
  failedExtensionOf,
  versionOutcome,
} from '../core/rollout/recovery.js'
import { quarantine, quarantines } from '../core/rollout/quarantine.js'
import type { Rollout } from '../core/rollout/types.js'
import type { ScaleSetState, Store } from '../store/store.js'
import { AppError } from '../errors.js'
import type { Clock } from './clock.js'
import type { Logger } from './logger.js'

/** What recording an end uses of the reconciler's deps. */
export type EndDeps = Readonly<{ store: Store; log: Logger; clock: Clock }>

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

/**
 * Writes a rollout's end onto its set: the end's records (quarantine, retry delay), the cancel
 * and pause requests cleared, the rollout no longer open. The rollout is already saved; a set
 * write that races it (a set PUT) is retried on the set as it is now, so the end is never lost
 * (docs/architecture.md § Recording a rollout's end).
 */
export async function writeEnd(
  state: ScaleSetState,
  ended: Rollout,
  nextInstanceId: number,
  nowMs: number,
  deps: EndDeps,
  /** False when another rollout runs now: its cancel or pause request is its own. */
  clearRequests = true,
): Promise<ScaleSetState> {
  let current = state
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.store.putScaleSet(
        {
          ...current,
          nextInstanceId: Math.max(nextInstanceId, current.nextInstanceId),
          ...(clearRequests ? { cancelRequestedAtMs: null } : {}),
          ...(current.pauseRequest?.rolloutId === ended.id ||
          (clearRequests && current.pauseRequest)
            ? { pauseRequest: null }
            : {}),
          ...(current.openRollout !== undefined ? { openRollout: null } : {}),
          ...recordEnd(current, ended, nowMs),
        },
        current.revision,
      )
    } catch (err) {
      if (!isConflict(err) || attempt >= 5) throw err
      const fresh = await deps.store.getScaleSet(current.key)
      if (!fresh) return current
      current = fresh
    }
  }
}

/**
 * A set whose rollout ended without the set recording it (a crash, or the set write refused,
 * between the two writes) records it now, at the rollout's end time. A rollout that is gone
 * (history pruned, set re-created) is forgotten.
 */
export async function recordOpenEnd(
  state: ScaleSetState,
  deps: EndDeps,
  clearRequests: boolean,
): Promise<ScaleSetState> {
  const open = await deps.store.getRollout(state.openRollout!)
  if (open && open.status === 'RollingForward') return state
  if (!open) return deps.store.putScaleSet({ ...state, openRollout: null }, state.revision)
  deps.log.warn(
    { scaleSet: state.key, rollout: open.id },
    'Recording the end of a rollout the set had not recorded (the control plane stopped between the two writes)',
  )
  const atMs = open.endedAtMs ?? deps.clock.nowMs()
  return writeEnd(state, open, state.nextInstanceId, atMs, deps, clearRequests)
}

export function isConflict(err: unknown): boolean {
  return err instanceof AppError && err.code === 'RevisionConflict'
}

/** Notes `rolloutId` as the set's open rollout; a racing set write leaves it to the next pass. */
export async function noteOpen(
  state: ScaleSetState,
  rolloutId: string,
  deps: EndDeps,
): Promise<ScaleSetState> {
  try {
    return await deps.store.putScaleSet({ ...state, openRollout: rolloutId }, state.revision, {
      onlyWithRollout: rolloutId,
    })
  } catch (err) {
    if (!isConflict(err)) throw err
    return state
  }
}
