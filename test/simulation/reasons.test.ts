/**
 * Typed reasons everywhere (issue 20 §7, docs/rollouts.md § Reason catalogue): every reason the
 * engine records, in any canonical scenario and in random ones, is a code of the one catalogue,
 * and so is every rollout's error code and every instance's failure reason.
 */
import { describe, expect, it } from 'vitest'
import { REASONS, reasonCode } from '../../src/core/rollout/reasons.js'
import { CANONICAL } from './canonical.js'
import { generateScenario } from './generate.js'
import { runScenario } from './harness.js'

describe('the reason catalogue', () => {
  it('holds every reason the engine records', { timeout: 120_000 }, async () => {
    const unknown = new Map<string, string>()
    const seen = new Set<string>()
    const scenarios = [
      ...CANONICAL,
      ...Array.from({ length: 30 }, (_, i) => generateScenario(i + 1)),
    ]
    for (const s of scenarios) {
      const r = await runScenario(s)
      const recorded = [
        ...r.events.map((e) => e.reason),
        ...r.rollouts.flatMap((x) => (x.error ? [x.error.code] : [])),
        ...r.rollouts.flatMap((x) =>
          x.attempts.flatMap((a) => (a.failure ? [a.failure.reason] : [])),
        ),
      ]
      for (const reason of recorded) {
        const code = reasonCode(reason)
        if (code === null) unknown.set(reason, `${s.name} (seed ${s.seed})`)
        else seen.add(code)
      }
    }
    expect(Object.fromEntries(unknown)).toEqual({})
    // The scenarios reach most of the catalogue: the check above is not vacuous.
    expect(seen.size).toBeGreaterThan(Object.keys(REASONS).length / 2)
  })

  it('normalises batch reasons and refuses what it does not hold', () => {
    expect(reasonCode('Batch12')).toBe('Batch')
    expect(reasonCode('Batch3Soak')).toBe('BatchSoak')
    expect(reasonCode('HealthDeadlineExceeded')).toBe('HealthDeadlineExceeded')
    expect(reasonCode('Batch')).toBeNull()
    expect(reasonCode('toString')).toBeNull()
    expect(reasonCode('SomethingElse')).toBeNull()
  })
})
