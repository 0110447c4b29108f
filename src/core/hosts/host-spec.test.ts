import { describe, expect, it } from 'vitest'
import { hostNameProblem, parseHostBody, qemuVersionOf } from './host-spec.js'

const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n'
const good = {
  address: '10.0.0.5',
  user: 'osroll',
  privateKey: KEY,
  capacity: { vms: 8, memoryMiB: 16384 },
}
const body = (p: Record<string, unknown>) => ({ properties: { ...good, ...p } })
const targets = (b: unknown, keyOptional = false) => {
  const r = parseHostBody(b, keyOptional)
  return r.ok ? [] : r.problems.map((p) => p.target)
}

describe('parseHostBody', () => {
  it('takes a minimal body with defaults', () => {
    expect(parseHostBody(body({}), false)).toEqual({
      ok: true,
      host: {
        spec: {
          ...good,
          port: 22,
          labels: { zone: null, faultDomain: null },
        },
        expectedFingerprint: null,
      },
    })
  })

  it.each([
    ['IPv4', '192.168.1.20'],
    ['IPv6', 'fd00::1'],
    ['full IPv6', '2001:db8:0:0:0:0:0:1'],
    ['DNS name', 'hv-3.rack1.example.com'],
  ])('takes an address: %s', (_, address) => {
    expect(targets(body({ address }))).toEqual([])
  })

  it.each([
    ['', 'properties.address'],
    ['10.0.0.256', 'properties.address'],
    ['root@10.0.0.5', 'properties.address'],
    ['10.0.0.5:22', 'properties.address'],
    ['-oProxyCommand=x', 'properties.address'],
    ['ssh://h', 'properties.address'],
    ['1::2::3', 'properties.address'],
  ])('refuses the address %j', (address, target) => {
    expect(targets(body({ address }))).toEqual([target])
  })

  it.each([
    [{ user: '-l' }, 'properties.user'],
    [{ user: 'a b' }, 'properties.user'],
    [{ user: undefined }, 'properties.user'],
    [{ port: 0 }, 'properties.port'],
    [{ port: 70000 }, 'properties.port'],
    [{ port: '22' }, 'properties.port'],
    [{ privateKey: undefined }, 'properties.privateKey'],
    [{ privateKey: 'ssh-ed25519 AAAA… a public key' }, 'properties.privateKey'],
    [{ hostKeyFingerprint: 'MD5:aa:bb' }, 'properties.hostKeyFingerprint'],
    [{ capacity: undefined }, 'properties.capacity'],
    [{ capacity: { vms: -1, memoryMiB: 1024 } }, 'properties.capacity.vms'],
    [{ capacity: { vms: 2, memoryMiB: 0 } }, 'properties.capacity.memoryMiB'],
    [{ capacity: { vms: 2.5, memoryMiB: 1024 } }, 'properties.capacity.vms'],
    [{ capacity: { vms: 2 } }, 'properties.capacity.memoryMiB'],
    [{ capacity: { vms: 2, memoryMiB: 8, cpus: 4 } }, 'properties.capacity.cpus'],
    [{ labels: { zone: 'a zone' } }, 'properties.labels.zone'],
    [{ labels: { faultDomain: -1 } }, 'properties.labels.faultDomain'],
    [{ labels: { rack: 'r1' } }, 'properties.labels.rack'],
    [{ drain: true }, 'properties.drain'],
  ])('refuses %j at its member', (p, target) => {
    expect(targets(body(p))).toEqual([target])
  })

  it('refuses a body without properties, and names every bad member at once', () => {
    expect(targets({})).toEqual(['properties'])
    expect(targets({ properties: { address: 'a b' } })).toEqual([
      'properties.address',
      'properties.user',
      'properties.privateKey',
      'properties.capacity',
    ])
  })

  it('keeps the stored key of an existing host when the body has none', () => {
    const r = parseHostBody(body({ privateKey: undefined }), true)
    expect(r.ok && r.host.spec.privateKey).toBe('')
  })

  it('takes labels and an expected fingerprint', () => {
    const fp = 'SHA256:' + 'a'.repeat(43)
    const r = parseHostBody(
      body({ hostKeyFingerprint: fp, labels: { zone: '2', faultDomain: 1 } }),
      false,
    )
    expect(r.ok && r.host).toMatchObject({
      expectedFingerprint: fp,
      spec: { labels: { zone: '2', faultDomain: 1 } },
    })
  })
})

describe('host names and QEMU versions', () => {
  it('names', () => {
    expect(hostNameProblem('rack1-a')).toBeUndefined()
    expect(hostNameProblem('a.b')?.code).toBe('InvalidResourceName')
    expect(hostNameProblem('-a')?.code).toBe('InvalidResourceName')
  })

  it('reads the version of qemu-system-x86_64 --version', () => {
    expect(qemuVersionOf('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\nCopyright')).toBe(
      '7.2.22',
    )
    expect(qemuVersionOf('bash: qemu-system-x86_64: command not found')).toBeNull()
  })
})
