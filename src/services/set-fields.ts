/**
 * The one list of the per-set fields osroll keeps on a scale set's orchestrator state beside its
 * ARM model: each extension resource's (set-extension.ts), the pause of the running rollout
 * (docs/rollouts.md § Pause and resume) and the rollout whose end is not recorded yet
 * (docs/architecture.md § Recording a rollout's end). A save of the state from the set's model (a
 * set PUT) carries every one of them over, so that no write of one drops another's.
 */
import type { ScaleSetState } from '../store/store.js'

/** Each field, and who writes it: its extension resource, a rollout control, or the reconciler. */
export const CARRIED_FIELDS = {
  upgradeSettings: 'extension',
  lifecycleHooks: 'extension',
  maintenanceWindows: 'extension',
  pauseRequest: 'control',
  healthGates: 'extension',
  openRollout: 'reconciler',
} as const satisfies Partial<Record<keyof ScaleSetState, string>>

export type CarriedField = keyof typeof CARRIED_FIELDS
/** The fields an extension resource writes (`{set}/providers/Osroll.Upgrades/{type}/default`). */
export type ExtensionField = {
  [F in CarriedField]: (typeof CARRIED_FIELDS)[F] extends 'extension' ? F : never
}[CarriedField]

/** The carried fields `current` holds (those unset or null are left out, as before they existed). */
export function carriedFields(
  current: ScaleSetState | undefined,
): Partial<Pick<ScaleSetState, CarriedField>> {
  const out: Partial<Record<CarriedField, unknown>> = {}
  for (const field of Object.keys(CARRIED_FIELDS) as CarriedField[])
    if (current?.[field]) out[field] = current[field]
  return out as Partial<Pick<ScaleSetState, CarriedField>>
}
