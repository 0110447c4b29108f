/**
 * The hosts registry against real SSH (issue 23, docs/api.md § Hosts), root only: three
 * namespace hosts running Debian's sshd (test-support/ssh-hosts.ts) are registered through the
 * API, each with its host key pinned and its QEMU version read over SSH; a host whose key
 * changed is refused with both fingerprints quoted (by a check, the monitor and a PUT) until it
 * is registered again with the new fingerprint; a cut-off host shows Unreachable while the
 * others stay Reachable, and Reachable again when its link comes back (asked, and on the
 * monitor's own interval). Also refused: an
 * expected fingerprint the host does not offer, a key the host does not authorize (its public
 * half quoted), and a host without QEMU (named).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import { sshHostsSkipReason, startSshHosts } from '../../test-support/ssh-hosts.js'
import type { SshHosts } from '../../test-support/ssh-hosts.js'
import { HostMonitor } from '../../src/runtime/host-monitor.js'
import { SecretBox } from '../../src/store/secrets.js'
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js'
import type { SqlStore } from '../../src/store/sql/sql-store.js'

const skip = sshHostsSkipReason()
const HOSTS = '/providers/Osroll.Fabric/hosts'
const localQemu = /version (\S+)/.exec(
  execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }),
)?.[1]

describe.skipIf(skip !== null)(`hosts over SSH${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let h: Awaited<ReturnType<typeof apiHarness>>
  let ssh: SshHosts
  let otherKeyDir: string
  let store: SqlStore
  const body = (i: number, p: Record<string, unknown> = {}) => ({
    properties: {
      address: ssh.hosts[i]?.address,
      user: ssh.user,
      privateKey: ssh.privateKey,
      capacity: { vms: 2, memoryMiB: 4096 },
      labels: { zone: String(i + 1), faultDomain: i },
      ...p,
    },
  })
  const check = async (name: string) => (await h.call('POST', `${HOSTS}/${name}/check`)).body

  beforeAll(async () => {
    // Host 3 has no QEMU on its sessions' PATH.
    ssh = await startSshHosts(4, [{}, {}, {}, { path: '/nonexistent' }])
    store = await openSqliteStore(':memory:')
    h = await apiHarness({ store })
    await store.useSecrets(new SecretBox(randomBytes(32), 'test.key')) // as serve does
    otherKeyDir = mkdtempSync(join(tmpdir(), 'osroll-hosts-e2e-'))
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(otherKeyDir, 'id')])
  }, 60_000)
  afterAll(async () => {
    await h?.close()
    await ssh?.close()
    if (otherKeyDir) rmSync(otherKeyDir, { recursive: true, force: true })
  })

  it('registers three hosts: host key pinned, QEMU version read over SSH, key never shown', async () => {
    for (const i of [0, 1, 2]) {
      // hv0 names the fingerprint it expects; the others trust the key of first contact.
      const expected = i === 0 ? { hostKeyFingerprint: ssh.fingerprint(0) } : {}
      const r = await h.call('PUT', `${HOSTS}/hv${i}`, { body: body(i, expected) })
      expect(r.status, JSON.stringify(r.body)).toBe(201)
      expect(r.body).toMatchObject({
        id: `${HOSTS}/hv${i}`,
        type: 'Osroll.Fabric/hosts',
        properties: {
          kind: 'Ssh',
          address: ssh.hosts[i]?.address,
          port: 22,
          user: 'root',
          hostKey: { type: 'ssh-ed25519', fingerprint: ssh.fingerprint(i) },
          capacity: { vms: 2, memoryMiB: 4096 },
          labels: { zone: String(i + 1), faultDomain: i },
          status: { reachability: 'Reachable', qemuVersion: localQemu, message: null },
        },
      })
      const pub = readFileSync(`${ssh.privateKeyFile}.pub`, 'utf8').split(' ')
      expect(r.body.properties.identity.publicKey).toBe(`${pub[0]} ${pub[1]}`)
      const text = JSON.stringify((await h.call('GET', `${HOSTS}/hv${i}`)).body)
      expect(text).not.toContain('PRIVATE KEY')
    }
    const list = (await h.call('GET', HOSTS)).body.value.map((x: { name: string }) => x.name)
    expect(list).toEqual(['local', 'hv0', 'hv1', 'hv2'])
    // At rest the key is sealed: the row holds none of it.
    const rows = await store.db.selectFrom('hosts').select('document').execute()
    expect(JSON.stringify(rows)).not.toContain(ssh.privateKey.split('\n')[1])
    expect(JSON.stringify(rows)).toContain('$osrollEncrypted')
  }, 60_000)

  it('refuses an expected fingerprint the host does not offer, quoting both', async () => {
    const r = await h.call('PUT', `${HOSTS}/spoof`, {
      body: body(1, { hostKeyFingerprint: ssh.fingerprint(0) }),
    })
    expect([r.status, r.body.error.code]).toEqual([409, 'HostKeyRefused'])
    expect(r.body.error.message).toContain(ssh.fingerprint(1)) // offered
    expect(r.body.error.message).toContain(ssh.fingerprint(0)) // expected
    expect((await h.call('GET', `${HOSTS}/spoof`)).status).toBe(404)
  })

  it('refuses a key the host does not authorize, quoting its public half', async () => {
    const other = readFileSync(join(otherKeyDir, 'id'), 'utf8')
    const r = await h.call('PUT', `${HOSTS}/stranger`, { body: body(1, { privateKey: other }) })
    expect([r.status, r.body.error.code]).toEqual([400, 'HostAuthenticationFailed'])
    const pub = readFileSync(join(otherKeyDir, 'id.pub'), 'utf8').split(' ')
    expect(r.body.error.message).toContain(`${pub[0]} ${pub[1]}`)
    expect(r.body.error.message).toContain('~root/.ssh/authorized_keys')
  })

  it('refuses a host without QEMU, naming it', async () => {
    const r = await h.call('PUT', `${HOSTS}/bare`, { body: body(3) })
    expect([r.status, r.body.error.code]).toEqual([400, 'HostWithoutQemu'])
    expect(r.body.error.message).toContain(
      `The host 'bare' at ${ssh.hosts[3]?.address}:22 has no QEMU`,
    )
    expect(r.body.error.message).toContain('qemu-system-x86')
    expect((await h.call('GET', `${HOSTS}/bare`)).status).toBe(404)
  })

  it('refuses a host whose key changed, quoting both fingerprints, until re-registered', async () => {
    const pinned = ssh.fingerprint(2)
    const offered = await ssh.rekey(2)
    const s = (await check('hv2')).properties.status
    expect(s.reachability).toBe('HostKeyChanged')
    expect(s.offeredHostKeyFingerprints).toEqual([offered])
    expect(s.message).toContain(pinned)
    expect(s.message).toContain(offered)
    expect(s.qemuVersion).toBeNull()
    // The monitor sees the same, and the others stay as they were.
    const monitor = new HostMonitor({
      hosts: h.sys.deps.hosts.store,
      prober: h.sys.deps.hosts.prober,
      clock: h.sys.deps.clock,
      log: pino({ level: 'silent' }),
      intervalMs: 60_000,
    })
    const seen = await monitor.checkAll()
    expect(seen.get('hv2')?.reachability).toBe('HostKeyChanged')
    expect(seen.get('hv0')?.reachability).toBe('Reachable')
    // A PUT keeps the pinned key: refused, and the stored host is unchanged.
    const put = await h.call('PUT', `${HOSTS}/hv2`, {
      body: body(2, { capacity: { vms: 9, memoryMiB: 4096 } }),
    })
    expect([put.status, put.body.error.code]).toEqual([409, 'HostKeyRefused'])
    expect(put.body.error.message).toContain(pinned)
    expect(put.body.error.message).toContain(offered)
    const kept = (await h.call('GET', `${HOSTS}/hv2`)).body.properties
    expect([kept.capacity.vms, kept.hostKey.fingerprint]).toEqual([2, pinned])
    // Registering it again with the new fingerprint re-pins it.
    const again = await h.call('PUT', `${HOSTS}/hv2`, {
      body: body(2, { hostKeyFingerprint: offered, privateKey: undefined }),
    })
    expect(again.status, JSON.stringify(again.body)).toBe(200)
    expect(again.body.properties.hostKey.fingerprint).toBe(offered)
    expect(again.body.properties.status.reachability).toBe('Reachable')
  }, 60_000)

  it("keeps a host's pinned key when its address moves: another machine there is refused", async () => {
    const r = await h.call('PUT', `${HOSTS}/hv1`, {
      body: body(1, { address: ssh.hosts[0]?.address }),
    })
    expect([r.status, r.body.error.code]).toEqual([409, 'HostKeyRefused'])
    expect(r.body.error.message).toContain(ssh.fingerprint(1)) // pinned
    expect(r.body.error.message).toContain(ssh.fingerprint(0)) // offered at the new address
    const kept = (await h.call('GET', `${HOSTS}/hv1`)).body.properties
    expect(kept.address).toBe(ssh.hosts[1]?.address)
  })

  it('shows a cut-off host unreachable, the others unharmed, and reachable when it is back', async () => {
    await ssh.cutOff(1)
    try {
      const s = (await check('hv1')).properties.status
      expect(s.reachability).toBe('Unreachable')
      expect(s.qemuVersion).toBeNull()
      expect(s.message).toBeTruthy()
      for (const other of ['hv0', 'hv2'])
        expect((await check(other)).properties.status.reachability).toBe('Reachable')
    } finally {
      await ssh.restore(1)
    }
    const back = (await check('hv1')).properties.status
    expect([back.reachability, back.qemuVersion]).toEqual(['Reachable', localQemu])
  }, 60_000)

  it('records a cut-off host and its return on its own, on the monitor interval', async () => {
    const monitor = new HostMonitor({
      hosts: h.sys.deps.hosts.store,
      prober: h.sys.deps.hosts.prober,
      clock: h.sys.deps.clock,
      log: pino({ level: 'silent' }),
      intervalMs: 200,
    })
    const reachability = async () =>
      (await h.call('GET', `${HOSTS}/hv1`)).body.properties.status.reachability as string
    monitor.start()
    try {
      await ssh.cutOff(1)
      await waitFor(async () => (await reachability()) === 'Unreachable', 'hv1 unreachable', 30_000)
      await ssh.restore(1)
      await waitFor(async () => (await reachability()) === 'Reachable', 'hv1 back', 30_000)
    } finally {
      await ssh.restore(1)
      await monitor.stop()
    }
  }, 90_000)

  it('removes a host', async () => {
    expect((await h.call('DELETE', `${HOSTS}/hv0`)).status).toBe(200)
    expect((await h.call('GET', `${HOSTS}/hv0`)).status).toBe(404)
    expect((await h.call('DELETE', `${HOSTS}/hv0`)).status).toBe(204)
    const list = (await h.call('GET', HOSTS)).body.value.map((x: { name: string }) => x.name)
    expect(list).toEqual(['local', 'hv1', 'hv2'])
    // Every connection's key file goes with it: none stays in the data dir (a check of the
    // monitor still in flight holds its own until it ends).
    await waitFor(
      async () => readdirSync(join(h.dataDir, 'hosts')).length === 0,
      'no key file left in the data dir',
      10_000,
    )
  })
})
