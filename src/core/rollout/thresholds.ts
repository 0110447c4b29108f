/**
 * The arithmetic of docs/rollouts.md R2–R3, in integers so that no rounding ever decides a rollout.
 */

/**
 * Instances per batch: `max(1, floor(N × p / 100))`, so a small set still moves.
 * 10 × 20% → 2; 3 × 20% → 0.6 → 1; 5 × 20% → 1; 0 instances → 1 (nothing to pick anyway).
 * @example batchSize(10, 20) === 2
 */
export function batchSize(instanceCount: number, batchPercentMax: number): number {
  return Math.max(1, Math.floor((instanceCount * batchPercentMax) / 100))
}

/**
 * Strict "more than P%" in integer arithmetic: `count × 100 > P × base`.
 * 10 instances at 20%: 2 unhealthy is not more than 20% (200 > 200 is false), 3 is (300 > 200).
 * At 0%, one failure of any base exceeds: 1 × 100 > 0.
 * @example exceedsPercent(3, 10, 20) === true; exceedsPercent(2, 10, 20) === false
 */
export function exceedsPercent(count: number, base: number, percent: number): boolean {
  return count * 100 > percent * base
}

/**
 * A whole percentage for messages, rounded down: 1 of 3 → 33.
 * @example wholePercent(1, 2) === 50
 */
export function wholePercent(count: number, base: number): number {
  return base === 0 ? 0 : Math.floor((count * 100) / base)
}
