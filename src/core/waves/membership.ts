/**
 * What a plan's membership means for its sets beyond the trigger's gate (W3 of
 * docs/rollouts.md § Waves across scale sets): the version a held set builds new instances
 * from, and the sets a plan change lets go. Pure; the reconciler and the plan service apply them.
 */
import { compareVersions } from '../image/version.js'
import type { Release, WavePlanSpec } from './wave.js'

/**
 * W3: the newest version a set held by a plan may build new instances from (a scale-out, a
 * replacement), or null when the plan caps nothing. Released a version: that one. Not released
 * one yet: the newest version its instances run, so that a scale-out adds what the set already
 * is, not what the plan has not let it have; an empty set not yet released is not capped.
 * @example released 1.1.0 → '1.1.0'; no release, instances on 1.0.0 and 0.9.0 → '1.0.0';
 *   not in a plan → null
 */
export function heldVersionCap(
  gate: Readonly<{ release: Release | null }> | null,
  instanceVersions: readonly string[],
): string | null {
  if (gate === null) return null
  if (gate.release !== null) return gate.release.version
  let newest: string | null = null
  for (const v of instanceVersions)
    if (newest === null || compareVersions(v, newest) > 0) newest = v
  return newest
}

/**
 * The sets a plan's new spec no longer holds: they are no longer gated, so their triggers must
 * run now rather than at their next pass (a held set may have no pass due at all).
 * @example before a, b, c; after a, c → ['b']
 */
export function setsLeaving(before: WavePlanSpec | null, after: WavePlanSpec): string[] {
  if (before === null) return []
  const kept = new Set(after.stages.flatMap((s) => s.scaleSets))
  return before.stages.flatMap((s) => s.scaleSets).filter((k) => !kept.has(k))
}
