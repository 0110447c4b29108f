import { describe, expect, it } from 'vitest'
import { contains, formatCidr, hostAddress, overlaps, parseCidr, usableHosts } from './cidr.js'
import type { Cidr } from './cidr.js'

const c = (text: string): Cidr => {
  const parsed = parseCidr(text)
  if (typeof parsed === 'string') throw new Error(`${text}: ${parsed}`)
  return parsed
}

describe('parseCidr', () => {
  it.each([
    ['10.0.1.0/24', '10.0.1.0/24'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['192.168.7.8/32', '192.168.7.8/32'],
    ['10.0.1.7/24', 'hostBits'],
    ['10.0.0.0/8x', 'syntax'],
    ['10.0.1/24', 'syntax'],
    ['10.0.256.0/24', 'syntax'],
    ['10.0.0.0/33', 'syntax'],
    ['fd00::/64', 'syntax'],
    [42, 'syntax'],
  ])('%s → %s', (text, want) => {
    const got = parseCidr(text)
    expect(typeof got === 'string' ? got : formatCidr(got)).toBe(want)
  })
})

describe('containment, overlap and host addresses', () => {
  it.each([
    ['10.0.0.0/16', '10.0.5.0/24', true, true],
    ['10.0.5.0/24', '10.0.0.0/16', false, true],
    ['10.0.0.0/24', '10.0.1.0/24', false, false],
    ['10.0.0.0/24', '10.0.0.0/23', false, true],
    ['10.0.0.0/24', '10.0.0.0/24', true, true],
  ])('%s and %s: contains %s, overlaps %s', (a, b, inside, overlap) => {
    expect(contains(c(a), c(b))).toBe(inside)
    expect(overlaps(c(a), c(b))).toBe(overlap)
  })

  it('the first four and the last address are reserved: a /24 gives .4 to .254, a /29 three', () => {
    expect(usableHosts(c('10.0.1.0/24'))).toBe(251)
    expect(hostAddress(c('10.0.1.0/24'), 0)).toBe('10.0.1.4')
    expect(hostAddress(c('10.0.1.0/24'), 250)).toBe('10.0.1.254')
    expect(hostAddress(c('10.0.1.0/24'), 251)).toBeUndefined()
    expect(usableHosts(c('10.0.0.8/29'))).toBe(3)
    expect([0, 1, 2].map((n) => hostAddress(c('10.0.0.8/29'), n))).toEqual([
      '10.0.0.12',
      '10.0.0.13',
      '10.0.0.14',
    ])
    expect(usableHosts(c('10.0.0.0/30'))).toBe(0)
    expect(hostAddress(c('10.0.0.0/16'), 252)).toBe('10.0.1.0')
  })
})
