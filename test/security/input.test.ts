/**
 * Input validation (issue 15, audit findings 11, 13 and 15): resource names by ARM's rules,
 * names inside a scale set model, tags by ARM's limits, JSON nesting and string limits at parse
 * time, and customData never returned. Every refusal is an ARM error and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness } from '../../test-support/api-harness.js'
import type { Call } from '../../test-support/api-harness.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
let sub: string
const rgPath = (rg = 'rg') => `/subscriptions/${sub}/resourceGroups/${rg}/providers`
const setPath = (name: string, rg = 'rg') =>
  `${rgPath(rg)}/Microsoft.Compute/virtualMachineScaleSets/${name}`
const lbPath = (name: string) => `${rgPath()}/Microsoft.Network/loadBalancers/${name}`
const galPath = (name: string) => `${rgPath()}/Microsoft.Compute/galleries/${name}`
const sfPath = (name: string) => `${rgPath()}/Microsoft.ServiceFabric/clusters/${name}`
const imgPath = (pub: string, v = '1.0.0') =>
  `/subscriptions/${sub}/providers/Microsoft.Compute/locations/westus/publishers/${pub}/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions/${v}`
const enc = encodeURIComponent

type Vmp = Record<string, unknown>
const setBody = (vmp: Vmp = {}, extra: Record<string, unknown> = {}) => ({
  location: 'westus',
  sku: { capacity: 1 },
  ...extra,
  properties: {
    upgradePolicy: { mode: 'Manual' },
    virtualMachineProfile: {
      storageProfile: {
        imageReference: {
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
const lbBody = (extra: Record<string, unknown> = {}) => ({
  location: 'westus',
  properties: { probes: [{ name: 'tcp', properties: { protocol: 'Tcp', port: 80 } }] },
  ...extra,
})

/** Everything a refused write could have changed, as the API lists it. */
const snapshot = async () => {
  const lists = [
    await call('GET', `${rgPath()}/Microsoft.Compute/virtualMachineScaleSets`),
    await call('GET', `${rgPath()}/Microsoft.Network/loadBalancers`),
    await call('GET', `/subscriptions/${sub}/providers/Microsoft.Compute/virtualMachineScaleSets`),
  ]
  expect(lists.map((l) => l.status)).toEqual([200, 200, 200])
  // Ids and ETags: what a write changes (provisioningState moves on by itself).
  return JSON.stringify(lists.map((l) => l.body.value.map((v: any) => [v.id, v.etag])))
}

/** `write` is refused with `status`/`code` and leaves every list as it was. */
async function refused(write: () => ReturnType<Call>, status: number, code: string | RegExp) {
  const before = await snapshot()
  const r = await write()
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  expect(r.body.error.code).toMatch(code)
  expect(typeof r.body.error.message).toBe('string')
  expect(await snapshot()).toBe(before)
  return r.body.error as { code: string; message: string; target?: string }
}

beforeAll(async () => {
  h = await apiHarness()
  call = h.call
  sub = h.sub
  const img = await call('PUT', imgPath('Canonical'), {
    body: { location: 'westus', properties: { source: { uri: 'sim:?boot=0' } } },
  })
  expect(img.status).toBe(201)
  expect((await call('PUT', lbPath('lb'), { body: lbBody() })).status).toBe(201)
})
afterAll(() => h.close())

/**
 * A name in the path that the URI check refuses first (an encoded slash, a control character, a
 * trailing dot: src/api/guard.ts) answers InvalidRequestUri; in a body, the name rule's code.
 */
const PATH_REFUSED = /^Invalid(ResourceName|RequestUri)$/
const SUB_REFUSED = /^Invalid(SubscriptionId|RequestUri)$/

const BAD_NAMES = [
  'a/b',
  'line\nbreak',
  'nul\u0000x',
  'rtl\u202Eexe.txt',
  '<script>alert(1)</script>',
  '..x',
  '../../etc',
  'a b',
  '-lead',
  'trail.',
  'x'.repeat(81),
]

describe('resource names follow ARM rules (finding 15)', () => {
  it.each(BAD_NAMES)('refuses scale set, load balancer and gallery named %j', async (name) => {
    for (const [path, body] of [
      [setPath(enc(name)), setBody()],
      [lbPath(enc(name)), lbBody()],
      [galPath(enc(name)), { location: 'westus' }],
      [sfPath(enc(name)), { location: 'westus' }],
    ] as const) {
      const e = await refused(() => call('PUT', path, { body }), 400, /^Invalid/)
      // The router refuses a few (NUL) itself; every other one is the name rule's refusal.
      if (e.code === 'InvalidResourceName') {
        expect(e.message).toMatch(/name .* is invalid: it must be 1 to \d+ characters of/)
        for (const raw of ['\n', '\u0000', '\u202E']) expect(e.message).not.toContain(raw) // shown escaped
      }
      expect([400, 404]).toContain((await call('GET', path)).status) // gone, or refused as a URI
    }
  })

  it('refuses bad resource group and subscription names and accepts ARM-valid ones', async () => {
    for (const rg of ['rg.', 'r%2Fg', 'r%0Ag', enc('r\u202Eg'), 'x'.repeat(91)]) {
      const e = await refused(
        () => call('PUT', setPath('web', rg), { body: setBody() }),
        400,
        /^Invalid/,
      )
      if (e.code === 'InvalidResourceName') expect(e.message).toMatch(/resource group name/)
    }
    for (const rg of ['rg(1)', 'my_rg-2.x', enc('grüppe')]) {
      const group = await call('PUT', `/subscriptions/${sub}/resourcegroups/${rg}`, {
        body: { location: 'westus' },
      })
      expect(group.status, JSON.stringify(group.body)).toBe(201)
      const r = await call('PUT', lbPath('lb').replace('/rg/', `/${rg}/`), { body: lbBody() })
      expect(r.status, JSON.stringify(r.body)).toBe(201)
    }
    const badSub = `/subscriptions/bad..sub./resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb`
    expect((await call('PUT', badSub, { body: lbBody() })).body.error.code).toMatch(SUB_REFUSED)
    // An Owner's first use creates a subscription: never one with a malformed id, even on GET.
    for (const id of ['bad..sub.', '%3Cscript%3E', 'a%0Ab', 'x%E2%80%AEy']) {
      const r = await call(
        'GET',
        `/subscriptions/${id}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers`,
      )
      expect(r.status).toBe(400)
      expect(r.body.error.code).toMatch(SUB_REFUSED)
    }
    const subs = (await call('GET', '/subscriptions')).body.value.map((s: any) => s.subscriptionId)
    expect(subs.filter((s: string) => !/^[A-Za-z0-9-]+$/.test(s))).toEqual([])
  })

  it('accepts names that ARM accepts for each type', async () => {
    expect((await call('PUT', setPath('Web_1.a-b'), { body: setBody() })).status).toBe(201)
    expect((await call('PUT', lbPath('lb-2_'), { body: lbBody() })).status).toBe(201)
    expect(
      (await call('PUT', galPath('my_gallery.1'), { body: { location: 'westus' } })).status,
    ).toBe(201)
    expect((await call('PUT', sfPath('cluster-1'), { body: { location: 'westus' } })).status).toBe(
      201,
    )
    await call('DELETE', setPath('Web_1.a-b'))
  })

  it('gallery rules: no hyphen in a gallery; versions are Major.Minor.Patch of 32-bit integers', async () => {
    await refused(
      () => call('PUT', galPath('my-gallery'), { body: { location: 'westus' } }),
      400,
      PATH_REFUSED,
    )
    const def = `${galPath('my_gallery.1')}/images`
    await refused(
      () => call('PUT', `${def}/-img`, { body: { location: 'westus' } }),
      400,
      PATH_REFUSED,
    )
    const img = await call('PUT', `${def}/img-1`, {
      body: {
        location: 'westus',
        properties: { osType: 'Linux', identifier: { publisher: 'p', offer: 'o', sku: 's' } },
      },
    })
    expect(img.status).toBe(201)
    const version = {
      location: 'westus',
      properties: { storageProfile: { osDiskImage: { source: { uri: 'sim:' } } } },
    }
    for (const v of ['1.0', '1.0.0.0', '4294967296.0.0', 'latest', enc('1.0.0/../x')]) {
      const e = await refused(
        () => call('PUT', `${def}/img-1/versions/${v}`, { body: version }),
        400,
        PATH_REFUSED,
      )
      if (e.code === 'InvalidResourceName') expect(e.message).toMatch(/Major\.Minor\.Patch/)
    }
  })

  it('load balancer child names (probes, pools, frontends, rules) follow the rule', async () => {
    for (const kind of [
      'probes',
      'backendAddressPools',
      'frontendIPConfigurations',
      'loadBalancingRules',
    ]) {
      const child =
        kind === 'probes'
          ? { name: 'a/b', properties: { protocol: 'Tcp', port: 80 } }
          : { name: '../x' }
      const body = { location: 'westus', properties: { ...lbBody().properties, [kind]: [child] } }
      const e = await refused(() => call('PUT', lbPath('lb'), { body }), 400, 'InvalidResourceName')
      expect(e.target).toBe(`properties.${kind}[0].name`)
    }
  })

  it('platform image publisher/offer/sku segments follow the rule', async () => {
    const body = { location: 'westus', properties: { source: { uri: 'sim:' } } }
    for (const pub of ['a..b', enc('a/b'), '-x'])
      await refused(() => call('PUT', imgPath(pub), { body }), 400, PATH_REFUSED)
  })
})

describe('names inside a scale set model (finding 15)', () => {
  const ext = (name: unknown) => ({
    extensionProfile: {
      extensions: [
        {
          name,
          properties: {
            publisher: 'Microsoft.Azure.Extensions',
            type: 'CustomScript',
            typeHandlerVersion: '2.1',
            settings: {},
          },
        },
      ],
    },
  })
  it.each([
    '../../../../tmp/x',
    'a/b',
    'a\\b',
    'x..y',
    'nul\u0000',
    'line\nx',
    '\u202Eabc',
    'x'.repeat(65),
  ])('refuses an extension named %j (nothing stored, no file written)', async (name) => {
    const e = await refused(
      () => call('PUT', setPath('ext'), { body: setBody(ext(name)) }),
      400,
      'InvalidResourceName',
    )
    expect(e.target).toBe('properties.virtualMachineProfile.extensionProfile.extensions[0].name')
    expect(e.message).toMatch(/extension name/)
    expect((await call('GET', setPath('ext'))).status).toBe(404)
  })

  it('refuses bad NIC and IP configuration names and platform image segments in the model', async () => {
    const nic = (nicName: string, ipName: string) => ({
      networkProfile: {
        networkInterfaceConfigurations: [
          { name: nicName, properties: { ipConfigurations: [{ name: ipName }] } },
        ],
      },
    })
    let e = await refused(
      () => call('PUT', setPath('nic'), { body: setBody(nic('a/b', 'ip')) }),
      400,
      'InvalidResourceName',
    )
    expect(e.target).toMatch(/networkInterfaceConfigurations\[0\]\.name$/)
    e = await refused(
      () => call('PUT', setPath('nic'), { body: setBody(nic('nic', '<x>')) }),
      400,
      'InvalidResourceName',
    )
    expect(e.target).toMatch(/ipConfigurations\[0\]\.name$/)
    expect(
      (await call('PUT', setPath('nic'), { body: setBody(nic('nic-1', 'ipconfig1')) })).status,
    ).toBe(201)
    const os = (prefix: string) => setBody({ osProfile: { computerNamePrefix: prefix } })
    e = await refused(
      () => call('PUT', setPath('cn'), { body: os('../x') }),
      400,
      'InvalidResourceName',
    )
    expect(e.target).toMatch(/osProfile\.computerNamePrefix$/)
    await refused(() => call('PUT', setPath('cn'), { body: os('a/b') }), 400, 'InvalidResourceName')
    expect((await call('PUT', setPath('cn'), { body: os('web_1-') })).status).toBe(201)
    const body = setBody()
    ;(body.properties.virtualMachineProfile.storageProfile.imageReference as any).publisher = '../x'
    e = await refused(() => call('PUT', setPath('img'), { body }), 400, 'InvalidResourceName')
    expect(e.target).toMatch(/imageReference\.publisher$/)
  })
})
