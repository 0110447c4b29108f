import { describe, expect, it } from 'vitest'
import { AddressPool } from './addresses.js'

const pool = (inUse: string[] = [], start = 1) =>
  new AddressPool({ ready: async () => undefined, inUse: async () => inUse, start })

describe('AddressPool', () => {
  it('hands out the lowest free address, skipping .0 and .255 and what is in use', async () => {
    const p = pool(['127.77.0.1'])
    expect(await p.allocate()).toBe('127.77.0.2')
    expect(await p.allocate()).toBe('127.77.0.3') // the first is reserved until released
  })

  it("keeps a subnet address's last two octets when that address is free", async () => {
    const p = pool()
    expect(await p.allocate('10.1.0.5')).toBe('127.77.0.5')
    expect(await p.allocate('10.2.3.4')).toBe('127.77.3.4')
    // The same octets from another subnet are taken: the lowest free address instead.
    expect(await p.allocate('10.9.0.5')).toBe('127.77.0.1')
  })

  it('ignores a preference below its start, on .0 or .255, or not an IPv4 address', async () => {
    const p = pool([], 300)
    expect(await p.allocate('10.1.0.5')).toBe('127.77.1.44')
    expect(await p.allocate('10.1.2.255')).toBe('127.77.1.45')
    expect(await p.allocate('fd00::5')).toBe('127.77.1.46')
    expect(await p.allocate('10.1.2.6')).toBe('127.77.2.6')
  })
})
