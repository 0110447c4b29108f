import { describe, expect, it } from 'vitest'
import { heldVersionCap, setsLeaving } from './membership.js'
import type { WavePlanSpec } from './wave.js'

const plan = (...stages: string[][]): WavePlanSpec => ({
  image: { kind: 'platform', publisher: 'p', offer: 'o', sku: 's', version: 'latest' },
  stages: stages.map((scaleSets, i) => ({ name: `s${i}`, scaleSets, bakeMs: 0 })),
})

describe('heldVersionCap (W3: what a held set builds new instances from)', () => {
  it.each([
    ['not in a plan', null, ['1.0.0'], null],
    ['released 1.1.0', { release: { version: '1.1.0', atMs: 5 } }, ['1.0.0'], '1.1.0'],
    ['no release: the newest it runs', { release: null }, ['0.9.0', '1.0.0', '0.10.0'], '1.0.0'],
    ['no release, no instances: uncapped', { release: null }, [], null],
  ] as const)('%s', (_what, gate, versions, cap) => {
    expect(heldVersionCap(gate, versions)).toBe(cap)
  })
})

describe('setsLeaving (W3: sets a plan change lets go)', () => {
  it('names the sets the new spec no longer holds, in the old order', () => {
    expect(setsLeaving(plan(['a'], ['b', 'c']), plan(['c'], ['a']))).toEqual(['b'])
    expect(setsLeaving(plan(['a'], ['b']), plan(['a'], ['b', 'd']))).toEqual([])
    expect(setsLeaving(null, plan(['a']))).toEqual([])
  })
})
