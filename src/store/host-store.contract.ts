/**
 * The contract every HostStore passes (STYLE R8): a host round-trips with its private key,
 * revisions fence stale writers, a status write lands only when newer and never on a deleted
 * host, and hosts list in key order. The SQLite and PostgreSQL stores run this same suite.
 */
import { describe, expect, it } from 'vitest'
import type { HostStatus } from '../core/hosts/host-spec.js'
import type { HostStore, StoredHost } from './host-store.js'

export function storedHost(name: string): StoredHost {
  return {
    key: name.toLowerCase(),
    name,
    spec: {
      address: '10.0.0.5',
      port: 22,
      user: 'osroll',
      privateKey:
        '-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n-----END OPENSSH PRIVATE KEY-----\n',
      capacity: { vms: 4, memoryMiB: 8192 },
      labels: { zone: '1', faultDomain: 0 },
    },
    hostKey: {
      type: 'ssh-ed25519',
      base64: 'AAAAC3NzaC1lZDI1NTE5AAAA',
      fingerprint: 'SHA256:' + 'a'.repeat(43),
      pinnedAtMs: 1,
    },
    identity: { publicKey: 'ssh-ed25519 AAAA osroll', fingerprint: 'SHA256:' + 'b'.repeat(43) },
    status: null,
    createdAtMs: 1,
    updatedAtMs: 1,
    revision: 0,
  }
}

const status = (atMs: number, reachability: HostStatus['reachability']): HostStatus => ({
  reachability,
  qemuVersion: reachability === 'Reachable' ? '7.2.22' : null,
  message: null,
  offeredFingerprints: [],
  checkedAtMs: atMs,
})

export function runHostStoreContract(
  name: string,
  create: () => Promise<{ hosts: HostStore; close: () => Promise<void> }>,
): void {
  const withHosts = async (fn: (h: HostStore) => Promise<void>): Promise<void> => {
    const { hosts, close } = await create()
    try {
      await fn(hosts)
    } finally {
      await close()
    }
  }

  describe(`HostStore contract: ${name}`, () => {
    it('round-trips a host, key and status included, and lists hosts by key', () =>
      withHosts(async (hosts) => {
        const b = await hosts.putHost({ ...storedHost('B'), status: status(5, 'Reachable') }, null)
        const a = await hosts.putHost(storedHost('a'), null)
        expect(b.revision).toBe(1)
        expect(await hosts.getHost('b')).toEqual(b)
        expect((await hosts.getHost('b'))?.spec.privateKey).toContain('secret')
        expect((await hosts.listHosts()).map((h) => h.key)).toEqual([a.key, b.key])
        expect(await hosts.getHost('c')).toBeUndefined()
      }))

    it('refuses a second create and a stale revision, changing nothing', () =>
      withHosts(async (hosts) => {
        const saved = await hosts.putHost(storedHost('h1'), null)
        await expect(hosts.putHost(storedHost('h1'), null)).rejects.toMatchObject({
          code: 'RevisionConflict',
        })
        const next = await hosts.putHost({ ...saved, updatedAtMs: 2 }, saved.revision)
        expect(next.revision).toBe(2)
        await expect(hosts.putHost({ ...saved, updatedAtMs: 3 }, 1)).rejects.toMatchObject({
          code: 'RevisionConflict',
        })
        expect(await hosts.getHost('h1')).toEqual(next)
      }))

    it('writes a status only when newer, never onto a deleted host', () =>
      withHosts(async (hosts) => {
        const saved = await hosts.putHost(storedHost('h1'), null)
        expect(await hosts.putHostStatus('h1', status(10, 'Unreachable'))).toBe(true)
        expect(await hosts.putHostStatus('h1', status(9, 'Reachable'))).toBe(false)
        expect(await hosts.putHostStatus('h1', status(10, 'Reachable'))).toBe(false)
        const read = await hosts.getHost('h1')
        expect(read?.status).toEqual(status(10, 'Unreachable'))
        expect(read?.revision).toBe(saved.revision) // a status is not a spec write
        expect(await hosts.putHostStatus('h1', status(11, 'Reachable'))).toBe(true)
        expect((await hosts.getHost('h1'))?.status?.reachability).toBe('Reachable')
        expect(await hosts.deleteHost('h1')).toBe(true)
        expect(await hosts.deleteHost('h1')).toBe(false)
        expect(await hosts.putHostStatus('h1', status(12, 'Reachable'))).toBe(false)
        expect(await hosts.getHost('h1')).toBeUndefined()
        expect(await hosts.listHosts()).toEqual([])
      }))
  })
}
