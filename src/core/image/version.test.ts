import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { compareVersions, isVersion, maxVersion, sortVersions } from './version.js'

describe('image versions (docs/decisions.md § Versions: numeric, part by part, never as strings)', () => {
  it.each([
    ['1.10.0', '1.9.0', 1],
    ['1.9.0', '1.10.0', -1],
    ['2.0.0', '10.0.0', -1],
    ['1.2.3', '1.2.3', 0],
    ['0.0.1', '0.0.0', 1],
    ['18446744073709551616.0.0', '18446744073709551615.9.9', 1], // parts beyond 64 bits
    ['2024.0101.123456789012', '2024.0101.99999999999', 1],
    ['18.04.202401161', '18.4.202401160', 1], // leading zeros compare numerically
  ])('%s vs %s → %i', (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign)
  })

  it.each(['1.2', '1.2.3.4', 'latest', '-1.2.3', '1.2.x', '', ' 1.2.3', '1.2.3\n'])(
    'rejects %j',
    (text) => {
      expect(isVersion(text)).toBe(false)
      expect(() => compareVersions(text, '1.0.0')).toThrow(TypeError)
    },
  )

  it('orders like tuples of big integers (property)', () => {
    const part = fc.bigInt({ min: 0n, max: 2n ** 70n })
    fc.assert(
      fc.property(fc.tuple(part, part, part), fc.tuple(part, part, part), (a, b) => {
        const text = (t: bigint[]): string => t.join('.')
        const expected = a[0] !== b[0] ? a[0] < b[0] : a[1] !== b[1] ? a[1] < b[1] : a[2] < b[2]
        const equal = a.every((x, i) => x === b[i])
        const c = compareVersions(text(a), text(b))
        expect(c === 0).toBe(equal)
        if (!equal) expect(c < 0).toBe(expected)
        expect(Math.sign(compareVersions(text(b), text(a)))).toBe(-Math.sign(c))
      }),
    )
  })

  it('finds the highest and sorts ascending', () => {
    expect(maxVersion(['1.9.0', '1.10.0', '1.2.0'])).toBe('1.10.0')
    expect(maxVersion([])).toBeUndefined()
    expect(sortVersions(['1.10.0', '1.9.0', '1.2.0'])).toEqual(['1.2.0', '1.9.0', '1.10.0'])
  })
})
