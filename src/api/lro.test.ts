import { describe, expect, it } from 'vitest'
import type { OperationRecord } from '../store/control-store.js'
import { retryAfterSecondsOf } from './lro.js'

const op = (kind: OperationRecord['tracks']['kind']): OperationRecord => ({
  id: 'op',
  name: 'x',
  status: 'InProgress',
  startTimeMs: 1_000_000,
  endTimeMs: null,
  error: null,
  tracks:
    kind === 'none'
      ? { kind }
      : kind === 'scaleSet'
        ? { kind, scaleSetKey: 'k' }
        : { kind, rolloutId: 'r' },
  resourceId: null,
})

describe('retryAfterSecondsOf', () => {
  it.each([
    // kind, age in seconds, base, expected
    ['rollout', 0, 1, 1],
    ['rollout', 19, 1, 1],
    ['rollout', 45, 1, 4],
    ['rollout', 120, 1, 10],
    ['rollout', 3600, 1, 10],
    ['rolloutEnd', 120, 1, 10],
    ['scaleSet', 45, 1, 4],
    ['scaleSet', 120, 1, 5],
    ['none', 120, 1, 1],
    ['rollout', 0, 3, 3],
    ['rollout', -5, 1, 1],
  ] as const)('%s at %i s with base %i → %i', (kind, ageS, base, want) => {
    const o = op(kind)
    expect(retryAfterSecondsOf(o, o.startTimeMs + ageS * 1000, base)).toBe(want)
  })
})
