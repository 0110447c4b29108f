/**
 * A set's per-set timing (docs/rollouts.md § Per-set timing) as a rollout freezes it when it
 * starts: the stored settings, with the server's health deadline where the set gives none. One
 * place, so that the orchestrator, a user's start and the dry-run plan freeze the same values.
 */
import type { BatchSoak } from './types.js'

/** The stored settings (`ScaleSetState.upgradeSettings`), flat and in milliseconds. */
export type TimingSettings = Readonly<{
  healthDeadlineMs?: number
  minHealthyTimeMs?: number
  batchSoakMinMs?: number
  batchSoakMaxMs?: number
  progressDeadlineMs?: number
  adaptiveRamp?: boolean
}>

export type FrozenTiming = Readonly<{
  healthDeadlineMs: number
  minHealthyTimeMs: number
  batchSoak: BatchSoak | null
  progressDeadlineMs: number | null
  /** docs/rollouts.md § Adaptive ramp. */
  adaptiveRamp: boolean
}>

/**
 * @example frozenTiming({ batchSoakMinMs: 30_000, batchSoakMaxMs: 600_000 }, 300_000) →
 *   { healthDeadlineMs: 300_000, minHealthyTimeMs: 0, batchSoak: { minMs: 30_000, maxMs: 600_000 },
 *     progressDeadlineMs: null, adaptiveRamp: false }
 */
export function frozenTiming(
  s: TimingSettings | null | undefined,
  serverHealthDeadlineMs: number,
): FrozenTiming {
  const min = s?.batchSoakMinMs
  const max = s?.batchSoakMaxMs
  return {
    healthDeadlineMs: s?.healthDeadlineMs ?? serverHealthDeadlineMs,
    minHealthyTimeMs: s?.minHealthyTimeMs ?? 0,
    batchSoak: min !== undefined && max !== undefined ? { minMs: min, maxMs: max } : null,
    progressDeadlineMs: s?.progressDeadlineMs ?? null,
    adaptiveRamp: s?.adaptiveRamp === true,
  }
}
