import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { batchSize, exceedsPercent, wholePercent } from './thresholds.js'

describe('batch size: max(1, floor(N × p / 100)) (docs/rollouts.md R3)', () => {
  it.each([
    [10, 20, 2],
    [3, 20, 1],
    [5, 20, 1],
    [100, 20, 20],
    [7, 50, 3],
    [1, 5, 1],
    [200, 5, 10],
    [10, 100, 10],
  ])('%i instances at %i%% → %i per batch', (n, p, size) => {
    expect(batchSize(n, p)).toBe(size)
  })
})

describe('thresholds are strict "more than", in integers (docs/rollouts.md R2)', () => {
  it.each([
    [2, 10, 20, false], // 10 instances at 20%: 2 unhealthy is allowed…
    [3, 10, 20, true], // …3 stops
    [1, 1, 0, true], // 0% threshold: the first failure stops
    [0, 10, 0, false],
    [1, 5, 20, false], // exactly 20%
    [1, 3, 20, true], // 33% > 20%
    [1, 2, 50, false],
  ])('%i of %i at %i%% → exceeded %s', (count, base, p, exceeded) => {
    expect(exceedsPercent(count, base, p)).toBe(exceeded)
  })

  it('agrees with exact rational arithmetic (property)', () => {
    fc.assert(
      fc.property(
        fc.nat(10_000),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 100 }),
        (count, base, p) => {
          expect(exceedsPercent(count, base, p)).toBe(
            BigInt(count) * 100n > BigInt(p) * BigInt(base),
          )
        },
      ),
    )
  })

  it('whole percentages round down for messages', () => {
    expect(wholePercent(1, 3)).toBe(33)
    expect(wholePercent(1, 2)).toBe(50)
    expect(wholePercent(0, 0)).toBe(0)
  })
})
