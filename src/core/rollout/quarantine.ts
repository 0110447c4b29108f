/**
 * Quarantine (docs/rollouts.md § Quarantine and roll forward): a version whose OS rollout the
 * image faulted, on any trigger, is quarantined for that set, with the rollout that faulted it,
 * when, and its error. The set's `faultedVersions` stay the list of quarantined versions (as
 * stored before quarantine had records); the records add the why, and are joined on read.
 */
import { compareVersions } from '../image/version.js'
import { versionOutcome } from './recovery.js'
import type { FaultCause } from './recovery.js'
import type { Rollout, RolloutError } from './types.js'

/** Why one version is quarantined; the details are null for versions stored before records. */
export type QuarantineRecord = Readonly<{
  version: string
  rolloutId: string | null
  atMs: number | null
  reason: RolloutError | null
}>

/** What a set keeps of its quarantine (the store's ScaleSetState has these fields). */
export type QuarantineMemory = Readonly<{
  faultedVersions: readonly string[]
  quarantine?: readonly QuarantineRecord[]
}>

/**
 * The quarantined versions of a set, newest first, each with its record (derived with null
 * details when the set was stored before records existed).
 * @example { faultedVersions: ['1.1.0', '1.2.0'], quarantine: [{ version: '1.2.0', … }] } →
 *   [{ version: '1.2.0', rolloutId: 'r2', … }, { version: '1.1.0', rolloutId: null, … }]
 */
export function quarantineList(m: QuarantineMemory): QuarantineRecord[] {
  const byVersion = new Map((m.quarantine ?? []).map((q) => [q.version, q]))
  return [...new Set(m.faultedVersions)]
    .map((v) => byVersion.get(v) ?? { version: v, rolloutId: null, atMs: null, reason: null })
    .sort((a, b) => compareVersions(b.version, a.version))
}

/**
 * Whether an ended rollout quarantines its target version: an OS image rollout, on any trigger,
 * that the image faulted (not one held by the fleet's health or a durability mismatch, R1.3).
 * @example Faulted with MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade → true;
 *   Faulted with MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade → false
 */
export function quarantines(r: Pick<Rollout, 'kind' | 'status' | 'error' | 'target'>): boolean {
  return r.kind === 'OSImage' && r.target.imageVersion !== null && versionOutcome(r) === 'faulted'
}

/**
 * The memory after `r` ended and quarantined its version (its record replaces an older one).
 * @example quarantine({ faultedVersions: [] }, r faulted on 1.2.0 at t) →
 *   { faultedVersions: ['1.2.0'], quarantine: [{ version: '1.2.0', rolloutId: r.id, atMs: t, … }] }
 */
export function quarantine(
  m: QuarantineMemory,
  r: Pick<Rollout, 'id' | 'error' | 'target'>,
  nowMs: number,
): Required<QuarantineMemory> {
  const version = r.target.imageVersion as string
  const kept = (m.quarantine ?? []).filter(
    (q) => q.version !== version && m.faultedVersions.includes(q.version),
  )
  return {
    faultedVersions: [...new Set([...m.faultedVersions, version])],
    quarantine: [...kept, { version, rolloutId: r.id, atMs: nowMs, reason: r.error }],
  }
}

/**
 * Releases one version (an operator's `release`), or null when it is not quarantined.
 * @example release({ faultedVersions: ['1.2.0'], … }, '1.2.0') →
 *   { faultedVersions: [], quarantine: [] }
 */
export function release(m: QuarantineMemory, version: string): Required<QuarantineMemory> | null {
  if (!m.faultedVersions.includes(version)) return null
  return {
    faultedVersions: m.faultedVersions.filter((v) => v !== version),
    quarantine: (m.quarantine ?? []).filter((q) => q.version !== version),
  }
}

/** The parts of a set's state a release changes (the store's ScaleSetState has these fields). */
export type ReleasableState = QuarantineMemory &
  Readonly<{
    lastPlatformRollout: Readonly<{ version: string; endedAtMs: number; held?: boolean }> | null
    faultCauses?: readonly FaultCause[]
  }>

/**
 * An operator's release of `version` on a set, or null when it is not quarantined: out of the
 * quarantine, its fault cause forgotten, and its retry delay dropped (R1.3: retried at once).
 * @example releaseOnSet({ faultedVersions: ['1.2.0'],
 *   lastPlatformRollout: { version: '1.2.0', … } }, '1.2.0') → { faultedVersions: [], quarantine: [], lastPlatformRollout: null, faultCauses: [] }
 */
export function releaseOnSet<S extends ReleasableState>(s: S, version: string): S | null {
  const freed = release(s, version)
  if (freed === null) return null
  const last = s.lastPlatformRollout
  return {
    ...s,
    ...freed,
    faultCauses: (s.faultCauses ?? []).filter((c) => c.version !== version),
    lastPlatformRollout: last !== null && last.version === version ? null : last,
  }
}
