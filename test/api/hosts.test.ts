/**
 * The hosts registry's API without a host to reach (docs/api.md § Hosts): the implicit `local`
 * host, Operator-only access, api-version, and every bad input refused with an ARM error body
 * naming the member, writing nothing. The registration of real hosts over SSH is
 * test/e2e/hosts.test.ts (root).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness } from '../../test-support/api-harness.js'
import { createToken } from '../../src/services/tokens.js'

type Harness = Awaited<ReturnType<typeof apiHarness>>
let h: Harness
let key: string
let keyDir: string

beforeAll(async () => {
  h = await apiHarness()
  keyDir = mkdtempSync(join(tmpdir(), 'osroll-hosts-api-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'id')])
  key = readFileSync(join(keyDir, 'id'), 'utf8')
})
afterAll(async () => {
  await h.close()
  rmSync(keyDir, { recursive: true, force: true })
})

const HOSTS = '/providers/Osroll.Fabric/hosts'
const body = (p: Record<string, unknown> = {}) => ({
  properties: {
    address: '127.0.0.1',
    port: 1, // nothing listens there
    user: 'osroll',
    privateKey: key,
    capacity: { vms: 4, memoryMiB: 8192 },
    ...p,
  },
})

describe('hosts API', () => {
  it('lists the implicit local host, with no configuration', async () => {
    const list = await h.call('GET', HOSTS)
    expect(list.status).toBe(200)
    expect(list.body.value).toHaveLength(1)
    const local = list.body.value[0]
    expect(local).toMatchObject({
      id: `${HOSTS}/local`,
      name: 'local',
      type: 'Osroll.Fabric/hosts',
      properties: {
        kind: 'Local',
        address: null,
        identity: null,
        hostKey: null,
        capacity: null,
        status: { reachability: 'Reachable' },
      },
    })
    const version = execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' })
    expect(version).toContain(`version ${local.properties.status.qemuVersion as string}`)
    expect((await h.call('GET', `${HOSTS}/LOCAL`)).body.name).toBe('local')
  })

  it('refuses to register or delete local', async () => {
    for (const [method, payload] of [
      ['PUT', body()],
      ['DELETE', undefined],
    ] as const) {
      const r = await h.call(method, `${HOSTS}/local`, payload ? { body: payload } : {})
      expect(r.status).toBe(409)
      expect(r.body.error.code).toBe('OperationNotAllowed')
      expect(r.body.error.message).toContain('this machine')
    }
  })

  it('is for Operators only, reads included, and needs api-version', async () => {
    const owner = await createToken(h.sys.deps.store, {
      role: 'Owner',
      subscriptions: [],
      label: 'owner',
      nowMs: Date.now(),
    })
    for (const [method, path] of [
      ['GET', HOSTS],
      ['GET', `${HOSTS}/local`],
      ['PUT', `${HOSTS}/hv1`],
      ['DELETE', `${HOSTS}/hv1`],
      ['POST', `${HOSTS}/hv1/check`],
    ] as const) {
      const r = await h.call(method, path, { token: owner, body: body() })
      expect(r.status, `${method} ${path}`).toBe(403)
      expect(r.body.error.code).toBe('AuthorizationFailed')
      expect(r.body.error.message).toContain("role is 'Owner'")
    }
    expect((await h.call('GET', HOSTS, { token: null })).status).toBe(401)
    const r = await h.call('GET', HOSTS, { apiVersion: null })
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('MissingApiVersionParameter')
  })

  it.each([
    ['a bad address', { address: '10.0.0.300' }, 'properties.address'],
    ['an address with a user', { address: 'root@10.0.0.5' }, 'properties.address'],
    ['no address', { address: undefined }, 'properties.address'],
    ['no key', { privateKey: undefined }, 'properties.privateKey'],
    [
      'a public key for a private one',
      { privateKey: 'ssh-ed25519 AAAA x' },
      'properties.privateKey',
    ],
    [
      'a key that does not parse',
      {
        privateKey:
          '-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n',
      },
      'properties.privateKey',
    ],
    [
      'a negative VM capacity',
      { capacity: { vms: -1, memoryMiB: 1024 } },
      'properties.capacity.vms',
    ],
    ['no memory capacity', { capacity: { vms: 2 } }, 'properties.capacity.memoryMiB'],
    ['a bad port', { port: 0 }, 'properties.port'],
    ['a bad user', { user: '-oProxyCommand' }, 'properties.user'],
    ['a bad fingerprint', { hostKeyFingerprint: 'ab:cd' }, 'properties.hostKeyFingerprint'],
    ['a bad fault domain', { labels: { faultDomain: -2 } }, 'properties.labels.faultDomain'],
    ['a member it does not take', { placement: 'spread' }, 'properties.placement'],
    ['an unreachable host', {}, 'properties.address'],
  ])('refuses %s with an ARM error at its member, writing nothing', async (_, p, target) => {
    const r = await h.call('PUT', `${HOSTS}/hv1`, { body: body(p) })
    expect(r.status).toBe(400)
    expect(r.body.error.target).toBe(target)
    expect(r.body.error.message.length).toBeGreaterThan(20)
    expect(JSON.stringify(r.body)).not.toContain(key.split('\n')[1]) // never echoes the key
    expect((await h.call('GET', `${HOSTS}/hv1`)).status).toBe(404)
  })

  it('says why an unreachable host is refused', async () => {
    const r = await h.call('PUT', `${HOSTS}/hv1`, { body: body() })
    expect(r.body.error.code).toBe('HostUnreachable')
    expect(r.body.error.message).toContain(
      "The host 'hv1' at 127.0.0.1:1 cannot be reached over SSH",
    )
  })

  it('refuses a bad name, a body that is not a host, and answers a missing host', async () => {
    const bad = await h.call('PUT', `${HOSTS}/a_b`, { body: body() })
    expect([bad.status, bad.body.error.code]).toEqual([400, 'InvalidResourceName'])
    const none = await h.call('PUT', `${HOSTS}/hv1`, { body: { address: '10.0.0.5' } })
    expect([none.status, none.body.error.target]).toEqual([400, 'properties'])
    const missing = await h.call('GET', `${HOSTS}/hv9`)
    expect([missing.status, missing.body.error.code]).toEqual([404, 'ResourceNotFound'])
    expect((await h.call('POST', `${HOSTS}/hv9/check`)).status).toBe(404)
    expect((await h.call('DELETE', `${HOSTS}/hv9`)).status).toBe(204)
  })
})
