/**
 * Cross-subscription references (issue 15, audit finding 5): a write may link to a resource of
 * another subscription only when the caller's token may read that subscription; otherwise 403
 * LinkedAuthorizationFailed, with the same answer whether the resource exists or not (no
 * existence oracle), and nothing stored. References within the caller's subscriptions behave as
 * before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness } from '../../test-support/api-harness.js'
import type { Call } from '../../test-support/api-harness.js'
import { createToken } from '../../src/services/tokens.js'
import { isServiceFabricClusterId, linkedIds } from '../../src/core/references.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
let a: string
const b = 'bbbbbbbb-0000-4000-8000-00000000000b'
let onlyA: string
let aAndB: string
const rg = (sub: string) => `/subscriptions/${sub}/resourceGroups/rg/providers`
const setPath = (name: string) => `${rg(a)}/Microsoft.Compute/virtualMachineScaleSets/${name}`
const lbPath = (sub: string, name: string) => `${rg(sub)}/Microsoft.Network/loadBalancers/${name}`
const probeId = (sub: string, probe = 'tcp', lb = 'lb') => `${lbPath(sub, lb)}/probes/${probe}`
const imageId = (sub: string, image = 'img') =>
  `${rg(sub)}/Microsoft.Compute/galleries/gal/images/${image}`
const clusterId = (sub: string, name = 'sfb') =>
  `${rg(sub)}/Microsoft.ServiceFabric/clusters/${name}`

const setBody = (vmp: Record<string, unknown>, imageReference?: Record<string, unknown>) => ({
  location: 'westus',
  sku: { capacity: 1 },
  properties: {
    upgradePolicy: { mode: 'Manual' },
    virtualMachineProfile: {
      storageProfile: {
        imageReference: imageReference ?? {
          publisher: 'Canonical',
          offer: 'UbuntuServer',
          sku: '18.04-LTS',
          version: 'latest',
        },
      },
      ...vmp,
    },
  },
})
const withProbe = (id: string) => setBody({ networkProfile: { healthProbe: { id } } })
const withImage = (id: string) => setBody({}, { id })
const withPool = (id: string) =>
  setBody({
    networkProfile: {
      networkInterfaceConfigurations: [
        {
          name: 'nic',
          properties: {
            ipConfigurations: [
              { name: 'ip', properties: { loadBalancerBackendAddressPools: [{ id }] } },
            ],
          },
        },
      ],
    },
  })
const withCluster = (endpoint: string) =>
  setBody({
    extensionProfile: {
      extensions: [
        {
          name: 'sf',
          properties: {
            publisher: 'Microsoft.Azure.ServiceFabric',
            type: 'ServiceFabricNode',
            typeHandlerVersion: '1.1',
            settings: { clusterEndpoint: endpoint, nodeTypeRef: 'nt1', durabilityLevel: 'Silver' },
          },
        },
      ],
    },
  })

const inA = async () => {
  const r = await call('GET', `${rg(a)}/Microsoft.Compute/virtualMachineScaleSets`)
  return JSON.stringify(r.body.value.map((v: any) => [v.id, v.etag]))
}

/** Refused as LinkedAuthorizationFailed; returns the message with the linked id blanked. */
async function linkRefused(path: string, body: unknown, linked: string): Promise<string> {
  const before = await inA()
  const r = await call('PUT', path, { body, token: onlyA })
  expect(r.status, JSON.stringify(r.body)).toBe(403)
  expect(r.body.error.code).toBe('LinkedAuthorizationFailed')
  expect(r.body.error.message).toContain(linked)
  expect(r.body.error.message).not.toMatch(/not found|exist/i)
  expect((await call('GET', path)).status).toBe(404)
  expect(await inA()).toBe(before)
  return String(r.body.error.message).replace(linked, '<id>')
}

beforeAll(async () => {
  h = await apiHarness()
  call = h.call
  a = h.sub
  const store = h.sys.deps.store
  onlyA = await createToken(store, { role: 'Owner', subscriptions: [a], label: 'a', nowMs: 0 })
  aAndB = await createToken(store, { role: 'Owner', subscriptions: [a, b], label: 'ab', nowMs: 0 })
  const put = async (path: string, body: unknown) => {
    const r = await call('PUT', path, { body })
    expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBeLessThan(300)
  }
  await put(
    `/subscriptions/${a}/providers/Microsoft.Compute/locations/westus/publishers/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions/1.0.0`,
    { location: 'westus', properties: { source: { uri: 'sim:?boot=0' } } },
  )
  const lb = {
    location: 'westus',
    properties: { probes: [{ name: 'tcp', properties: { protocol: 'Tcp', port: 80 } }] },
  }
  await put(lbPath(a, 'lb'), lb)
  await put(`/subscriptions/${b}/resourcegroups/rg`, { location: 'westus' })
  await put(lbPath(b, 'lb'), lb) // the admin token may use B
  await put(`${rg(b)}/Microsoft.Compute/galleries/gal`, { location: 'westus' })
  await put(imageId(b), {
    location: 'westus',
    properties: { osType: 'Linux', identifier: { publisher: 'b', offer: 'private', sku: '1' } },
  })
  await put(`${imageId(b)}/versions/1.0.0`, {
    location: 'westus',
    properties: { storageProfile: { osDiskImage: { source: { uri: 'sim:?boot=0' } } } },
  })
  await put(clusterId(b), {
    location: 'westus',
    properties: { nodeTypes: [{ name: 'nt1', durabilityLevel: 'Gold' }] },
  })
})
afterAll(() => h.close())

describe('a link to another subscription needs read access there (finding 5)', () => {
  it.each([
    ['a gallery image (private to B)', withImage, imageId(b), imageId(b, 'missing')],
    [
      'a pinned gallery image version',
      withImage,
      `${imageId(b)}/versions/1.0.0`,
      `${imageId(b)}/versions/9.9.9`,
    ],
    ['a health probe', withProbe, probeId(b), probeId(b, 'missing')],
    [
      'a backend address pool',
      withPool,
      `${lbPath(b, 'lb')}/backendAddressPools/pool`,
      `${lbPath(b, 'nolb')}/backendAddressPools/x`,
    ],
    [
      'a Service Fabric cluster (clusterEndpoint)',
      withCluster,
      clusterId(b),
      clusterId(b, 'missing'),
    ],
  ])(
    'refuses %s, whether it exists or not, with the same answer',
    async (_what, body, existing, missing) => {
      const one = await linkRefused(setPath('linked'), body(existing), existing)
      const two = await linkRefused(setPath('linked'), body(missing), missing)
      expect(one).toBe(two) // no existence oracle
    },
  )

  it('refuses links from load balancers, galleries and clusters too', async () => {
    const subnet = `/subscriptions/${b}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s`
    await linkRefused(
      lbPath(a, 'lb2'),
      {
        location: 'westus',
        properties: {
          frontendIPConfigurations: [{ name: 'fe', properties: { subnet: { id: subnet } } }],
        },
      },
      subnet,
    )
    await linkRefused(
      `${rg(a)}/Microsoft.ServiceFabric/clusters/sfa`,
      { location: 'westus', properties: { x: { id: subnet } } },
      subnet,
    )
    await linkRefused(
      `${rg(a)}/Microsoft.Compute/galleries/gala`,
      { location: 'westus', properties: { x: { id: subnet } } },
      subnet,
    )
  })

  it('a PATCH that adds a link is refused and the set keeps its model', async () => {
    expect(
      (await call('PUT', setPath('patched'), { body: setBody({}), token: onlyA })).status,
    ).toBe(201)
    const before = (await call('GET', setPath('patched'))).body.etag
    const r = await call('PATCH', setPath('patched'), {
      token: onlyA,
      body: {
        properties: {
          virtualMachineProfile: { networkProfile: { healthProbe: { id: probeId(b) } } },
        },
      },
    })
    expect(r).toMatchObject({ status: 403, body: { error: { code: 'LinkedAuthorizationFailed' } } })
    expect((await call('GET', setPath('patched'))).body.etag).toBe(before)
  })

  it('a token that may read B links to it; the admin token too; a set boots B’s gallery image', async () => {
    const r1 = await call('PUT', setPath('ab'), { body: withProbe(probeId(b)), token: aAndB })
    expect(r1.status, JSON.stringify(r1.body)).toBe(201)
    const r2 = await call('PUT', setPath('admin'), {
      body: withImage(`${imageId(b)}/versions/1.0.0`),
    })
    expect(r2.status, JSON.stringify(r2.body)).toBe(201)
  })

  it('links within the caller’s subscription behave as before (a missing probe is 404)', async () => {
    const ok = await call('PUT', setPath('own'), { body: withProbe(probeId(a)), token: onlyA })
    expect(ok.status).toBe(201)
    const missing = await call('PUT', setPath('own2'), {
      body: withProbe(probeId(a, 'nope')),
      token: onlyA,
    })
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'NotFound' } } })
  })
})

describe('what counts as a link', () => {
  it('every id member and clusterEndpoint that starts /subscriptions/, at any depth', () => {
    const links = linkedIds({
      id: '/subscriptions/x/a',
      list: [{ ID: '/SUBSCRIPTIONS/y/b' }],
      deep: { settings: { clusterEndpoint: '/subscriptions/z' } },
      other: '/subscriptions/ignored',
      notId: { uri: '/subscriptions/ignored' },
    })
    expect(links.map((l) => [l.path, l.subscription]).sort()).toEqual([
      ['deep.settings.clusterEndpoint', 'z'],
      ['id', 'x'],
      ['list[0].ID', 'y'],
    ])
  })

  it('clusterEndpoint is looked up only when it is a Service Fabric cluster id', () => {
    expect(isServiceFabricClusterId(clusterId('s'))).toBe(true)
    expect(isServiceFabricClusterId(lbPath('s', 'lb'))).toBe(false)
    expect(isServiceFabricClusterId('/subscriptions/s')).toBe(false)
    expect(isServiceFabricClusterId(`${clusterId('s')}/x`)).toBe(false)
  })
})
