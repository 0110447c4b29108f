/**
 * What the end of a platform OS rollout means for its version, and what releases a version that
 * faulted (docs/rollouts.md R1.3). A rollout the image failed *faults* its version: it is not
 * retried on its own. A rollout stopped by something else — unhealthy instances of the fleet
 * (the pre-check of R3.4) or a Service Fabric durability mismatch — *holds* it: it is retried
 * once the cause is gone. A model change that changes the extension whose failure faulted the
 * version releases that version for one new attempt, as re-enabling automatic upgrades does.
 */
import { CODES } from './messages.js'
import { mostImpactfulFailure } from './progress.js'
import type { Rollout } from './types.js'

/** How an ended platform OS rollout leaves its version. */
export type VersionOutcome = 'faulted' | 'held' | 'retry'

/** Error codes of stops that are not the image's doing. */
const HELD_CODES: ReadonlySet<string> = new Set([
  CODES.beforeRollingUpgrade,
  CODES.inRollingUpgrade,
  CODES.durabilityMismatch,
])

/**
 * The outcome of an ended rollout for its target version.
 * @example a rollout Faulted with MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade → 'held';
 *   Faulted with MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade → 'faulted';
 *   Completed or Cancelled → 'retry' (after the retry delay)
 */
export function versionOutcome(r: Pick<Rollout, 'status' | 'error'>): VersionOutcome {
  if (r.status !== 'Faulted') return 'retry'
  return r.error !== null && HELD_CODES.has(r.error.code) ? 'held' : 'faulted'
}

/** The extension whose failure faulted a version, and what it was then (its fingerprint). */
export type FaultCause = Readonly<{ version: string; extension: string; fingerprint: string }>

/** The parts of an extension a fix can change (the fabric's extension model has them all). */
export type ExtensionFacts = Readonly<{
  name: string
  publisher: string
  type: string
  typeHandlerVersion: string
  settings: Readonly<Record<string, unknown>>
  protectedSettings: Readonly<Record<string, unknown>>
}>

/**
 * The root-cause extension of a faulted rollout: the one the most impactful failure names
 * ("VM has reported a failure when processing extension 'X'"), if that failure is one.
 * @example attempts failed with "… processing extension 'install'. Error message: …" → 'install'
 */
export function failedExtensionOf(r: Pick<Rollout, 'attempts'>): string | null {
  const worst = mostImpactfulFailure(r.attempts)
  if (worst === null || worst.reason !== 'ProvisioningFailed') return null
  const m = /processing extension '([^']+)'/.exec(worst.message)
  return m ? (m[1] as string) : null
}

/**
 * A stable digest of what an extension is (FNV-1a over its canonical JSON), so that a fix can
 * be told from no change without keeping secrets in the clear.
 * @example extensionFingerprint(e) === extensionFingerprint({ ...e }); a new `settings` value
 *   gives another fingerprint
 */
export function extensionFingerprint(e: ExtensionFacts): string {
  const text = canonicalJson([
    e.publisher,
    e.type,
    e.typeHandlerVersion,
    e.settings,
    e.protectedSettings,
  ])
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(16).padStart(8, '0')
}

/**
 * The versions a new model releases: those whose failed extension it changes (settings,
 * protected settings, handler version, publisher or type) or removes.
 * @example causes [{ version: '1.1.0', extension: 'install', fingerprint: 'a1…' }], the new
 *   model's 'install' has new settings → ['1.1.0']; the same 'install' → []
 */
export function releasedByModel(
  causes: readonly FaultCause[],
  extensions: readonly ExtensionFacts[],
): string[] {
  const byName = new Map(extensions.map((e) => [e.name.toLowerCase(), e]))
  return causes
    .filter((c) => {
      const now = byName.get(c.extension.toLowerCase())
      return now === undefined || extensionFingerprint(now) !== c.fingerprint
    })
    .map((c) => c.version)
}

/** What a set remembers of its faulted versions (the store's ScaleSetState has these fields). */
export type FaultMemory = Readonly<{
  faultedVersions: readonly string[]
  lastPlatformRollout: Readonly<{ version: string; endedAtMs: number; held?: boolean }> | null
  faultCauses: readonly FaultCause[]
}>

/**
 * Applies `releasedByModel` to what a set remembers; `extensions` is the new model's, or null
 * when the model did not change. A released version is retried without the retry delay.
 * @example { faultedVersions: ['1.1.0'], causes: install@a1 }, new 'install' → { faultedVersions: [] }
 */
export function releaseByModel(
  m: FaultMemory,
  extensions: readonly ExtensionFacts[] | null,
): FaultMemory {
  const free = new Set(extensions === null ? [] : releasedByModel(m.faultCauses, extensions))
  if (free.size === 0) return m
  const last = m.lastPlatformRollout
  return {
    faultedVersions: m.faultedVersions.filter((v) => !free.has(v)),
    lastPlatformRollout: last !== null && free.has(last.version) ? null : last,
    faultCauses: m.faultCauses.filter((c) => !free.has(c.version)),
  }
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    )
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`
  }
  return JSON.stringify(v) ?? 'null'
}
