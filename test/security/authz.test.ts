/**
 * Issue 15, findings 1, 2, 6, 7 and 9: authorization is decided on what the router matched, never
 * on the raw URL. Each attack of the audit runs as a real request, with its variants, and checks
 * both the refusal and that nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, type Call } from '../../test-support/api-harness.js'
import { createToken } from '../../src/services/tokens.js'
import {
  armPaths,
  createResourceGroup,
  imageBody,
  loadBalancerBody,
  subnetSetBody,
  virtualNetworkBody,
} from '../../test-support/arm-fixtures.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
const B = '11111111-2222-3333-4444-555555555555'
let tokens: Record<'readerA' | 'contributorA' | 'ownerA' | 'ownerAll', string>

const lbBody = loadBalancerBody({ name: 'http', protocol: 'Http', port: 8080, requestPath: '/' })
const sneaky = { ...lbBody, tags: { changed: 'yes' } }

/** The same path of subscription B, as the audit and its variants spelled it. */
function variants(path: string): string[] {
  const rest = path.slice('/subscriptions/'.length)
  return [
    `/%73ubscriptions/${rest}`,
    `/SUBSCRIPTIONS/${rest}`,
    `/Subscriptions/${rest}`,
    `/%53%55%42%53%43%52%49%50%54%49%4F%4E%53/${rest}`,
    `/subscriptions/%31${rest.slice(1)}`,
    `/%2573ubscriptions/${rest}`,
    `/subscriptions%2F${rest}`,
    `/subscriptions/${B}./${rest.slice(B.length + 1)}`,
    `//subscriptions/${rest}`,
    `/subscriptions/./${rest}`,
    `/subscriptions/x/../${rest}`,
  ]
}

beforeAll(async () => {
  h = await apiHarness()
  call = h.call
  const mk = (role: 'Reader' | 'Contributor' | 'Owner', subscriptions: string[]) =>
    createToken(h.sys.deps.store, { role, subscriptions, label: role, nowMs: 0 })
  tokens = {
    readerA: await mk('Reader', [h.sub]),
    contributorA: await mk('Contributor', [h.sub]),
    ownerA: await mk('Owner', [h.sub]),
    ownerAll: await mk('Owner', []),
  }
  // Subscription B holds a load balancer; the admin token (the operator) creates both.
  await createResourceGroup((m, p, body) => call(m, p, { body }), B)
  expect((await call('PUT', armPaths(B).lb, { body: lbBody })).status).toBe(201)
  expect(
    (await call('PUT', armPaths(h.sub).image('1.0.0'), { body: imageBody('sim:') })).status,
  ).toBe(201)
})
afterAll(() => h.close())

describe("another subscription's resources, however the path is spelled (findings 1, 9)", () => {
  it.each(variants(armPaths(B).lb))(
    '%s: a token scoped to A neither reads nor changes B',
    async (path) => {
      const before = await call('GET', armPaths(B).lb)
      for (const token of [tokens.readerA, tokens.contributorA, tokens.ownerA]) {
        const get = await call('GET', path, { token })
        expect(get.status, `${path} ${JSON.stringify(get.body)}`).toBeGreaterThanOrEqual(400)
        expect(JSON.stringify(get.body)).not.toContain('"probes"')
        for (const method of ['PUT', 'DELETE']) {
          const r = await call(method, path, { token, body: sneaky })
          expect(r.status, `${method} ${path}`).toBeGreaterThanOrEqual(400)
          expect(typeof r.body.error?.code).toBe('string')
        }
      }
      expect(await call('GET', armPaths(B).lb)).toMatchObject({ status: 200, body: before.body })
    },
  )

  it('the api-version check sees the decoded path too', async () => {
    const r = await call(
      'GET',
      `/%73ubscriptions/${h.sub}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers`,
      {
        apiVersion: null,
      },
    )
    expect(r).toMatchObject({
      status: 400,
      body: { error: { code: 'MissingApiVersionParameter' } },
    })
  })

  it('an operation is readable only under the subscription that started it', async () => {
    const put = await call('PUT', armPaths(h.sub).lb.replace('/lb', '/lb2'), { body: lbBody })
    const set = await call('PUT', armPaths(h.sub).set('opset'), {
      body: {
        location: 'westus',
        sku: { capacity: 0 },
        properties: {
          virtualMachineProfile: {
            storageProfile: {
              imageReference: {
                publisher: 'Canonical',
                offer: 'UbuntuServer',
                sku: '18.04-LTS',
                version: 'latest',
              },
            },
          },
        },
      },
    })
    expect([put.status, set.status]).toEqual([201, 201])
    const op = String(set.headers['azure-asyncoperation'])
    const path = new URL(op).pathname
    expect((await call('GET', path)).status).toBe(200)
    const elsewhere = path.replace(`/subscriptions/${h.sub}/`, `/subscriptions/${B}/`)
    expect(elsewhere).not.toBe(path)
    expect((await call('GET', elsewhere)).status).toBe(404)
    expect((await call('GET', elsewhere, { token: tokens.ownerAll })).status).toBe(404)
  })
})

describe("another subscription's virtual networks and subnets (issue 18 §2)", () => {
  it('tokens of A neither read, change nor link to B’s VNet and subnet, however spelled', async () => {
    const pB = armPaths(B)
    expect((await call('PUT', pB.vnet, { body: virtualNetworkBody() })).status).toBe(201)
    const before = await call('GET', pB.vnet)
    for (const path of [...variants(pB.vnet), ...variants(pB.subnet())]) {
      for (const token of [tokens.readerA, tokens.contributorA, tokens.ownerA]) {
        expect((await call('GET', path, { token })).status, path).toBeGreaterThanOrEqual(400)
        for (const method of ['PUT', 'DELETE']) {
          const body = path.includes('/subnets/')
            ? { properties: { addressPrefix: '10.0.2.0/24' } }
            : { ...virtualNetworkBody(), tags: { changed: 'yes' } }
          const r = await call(method, path, { token, body })
          expect(r.status, `${method} ${path}`).toBeGreaterThanOrEqual(400)
          expect(typeof r.body.error?.code).toBe('string')
        }
      }
    }
    // A scale set of A may not name B's subnet: the same answer whether it exists or not.
    for (const subnet of [pB.subnet(), pB.subnet('none')]) {
      const r = await call('PUT', armPaths(h.sub).set('linked'), {
        token: tokens.contributorA,
        body: subnetSetBody({ capacity: 0, subnetId: subnet }),
      })
      expect(r).toMatchObject({
        status: 403,
        body: { error: { code: 'LinkedAuthorizationFailed' } },
      })
    }
    expect(await call('GET', pB.vnet)).toMatchObject({ status: 200, body: before.body })
  })
})

describe('resource groups pass the same guard as every route (issue 18 §1)', () => {
  const group = (sub: string, rg = 'rg') => `/subscriptions/${sub}/resourcegroups/${rg}`

  it('a Reader reads groups but neither creates, changes nor deletes one', async () => {
    const token = tokens.readerA
    for (const path of [
      group(h.sub),
      `${group(h.sub)}/resources`,
      `/subscriptions/${h.sub}/resourcegroups`,
    ])
      expect((await call('GET', path, { token })).status, path).toBe(200)
    expect((await call('HEAD', group(h.sub), { token })).status).toBe(204)
    for (const [method, path] of [
      ['PUT', group(h.sub, 'readers')],
      ['PATCH', group(h.sub)],
      ['DELETE', group(h.sub)],
      // Authorization comes before the group check: a Reader learns nothing of a missing group.
      ['PUT', `${group(h.sub, 'missing')}/providers/Microsoft.Network/loadBalancers/lb`],
    ] as const) {
      const r = await call(method, path, { token, body: { location: 'westus', tags: { x: 'y' } } })
      expect([r.status, r.body.error.code], `${method} ${path}`).toEqual([
        403,
        'AuthorizationFailed',
      ])
    }
    expect((await call('GET', group(h.sub))).body.tags).toBeUndefined()
    expect((await call('HEAD', group(h.sub, 'readers'))).status).toBe(404)
  })

  it.each(variants(group(B)))(
    "%s: a token scoped to A neither reads, changes nor deletes B's group",
    async (path) => {
      for (const token of [tokens.readerA, tokens.contributorA, tokens.ownerA])
        for (const method of ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE']) {
          const r = await call(method, path, {
            token,
            body: { location: 'westus', tags: { x: 'y' } },
          })
          expect(r.status, `${method} ${path}`).toBeGreaterThanOrEqual(400)
        }
      const scoped = await call('DELETE', group(B), { token: tokens.ownerA })
      expect(scoped).toMatchObject({
        status: 404,
        body: { error: { code: 'SubscriptionNotFound' } },
      })
      const after = await call('GET', group(B))
      expect([after.status, after.body.tags]).toEqual([200, undefined])
      expect((await call('GET', armPaths(B).lb)).status).toBe(200)
    },
  )

  it("a Contributor manages its own subscription's groups; their delete's result stays in it", async () => {
    const token = tokens.contributorA
    expect(
      (await call('PUT', group(h.sub, 'mine'), { token, body: { location: 'westus' } })).status,
    ).toBe(201)
    const r = await call('DELETE', group(h.sub, 'mine'), { token })
    expect(r.status).toBe(202)
    const path = new URL(String(r.headers['location'])).pathname
    expect((await call('GET', path, { token })).status).toBe(200)
    const elsewhere = path.replace(`/subscriptions/${h.sub}/`, `/subscriptions/${B}/`)
    expect((await call('GET', elsewhere, { token: tokens.ownerA })).status).toBe(404)
    expect((await call('GET', elsewhere)).status).toBe(404)
  })
})

describe('the platform catalog needs the operator role (findings 2, 6)', () => {
  const image = (v: string) => armPaths(h.sub).image(v)
  const spellings = (v: string) => [
    image(v),
    image(v).replace('/vmimage/', '/vmimag%65/'),
    image(v).replace('/vmimage/', '/VMIMAGE/'),
    image(v).replace('/artifacttypes/', '/%61rtifacttypes/'),
    image(v).replace('/subscriptions/', '/%73ubscriptions/'),
  ]
  const versions = async () =>
    JSON.stringify((await call('GET', image('').replace(/\/$/, ''))).body)

  it.each(['contributorA', 'ownerA', 'ownerAll'] as const)(
    'a %s token can neither publish nor delete a version, however the path is spelled',
    async (who) => {
      const before = await versions()
      for (const path of spellings('9.9.9')) {
        const put = await call('PUT', path, { token: tokens[who], body: imageBody('sim:') })
        expect(put.status, path).toBe(403)
        expect(put.body.error.code).toBe('AuthorizationFailed')
      }
      for (const path of spellings('1.0.0')) {
        const del = await call('DELETE', path, { token: tokens[who] })
        expect(del.status, path).toBe(403)
      }
      expect(await versions()).toBe(before)
    },
  )

  it('the operator (the data dir admin token) publishes and deletes', async () => {
    expect((await call('PUT', image('2.0.0'), { body: imageBody('sim:') })).status).toBe(201)
    expect((await call('DELETE', image('2.0.0'))).status).toBe(200)
  })

  it('an Operator token cannot be limited to subscriptions', async () => {
    await expect(
      createToken(h.sys.deps.store, {
        role: 'Operator',
        subscriptions: [h.sub],
        label: 'x',
        nowMs: 0,
      }),
    ).rejects.toThrow()
  })
})

describe('limits before authentication (finding 7)', () => {
  it('bad and missing tokens are limited per address, and spacing gives no fresh quota', async () => {
    const l = await apiHarness({ rateLimit: '5' })
    try {
      const statuses: number[] = []
      for (let i = 0; i < 8; i++)
        statuses.push(
          (
            await l.call('GET', '/subscriptions', {
              token: null as unknown as string,
            })
          ).status,
        )
      expect(statuses.slice(0, 5).every((s) => s === 401)).toBe(true)
      expect(statuses.slice(5)).toEqual([429, 429, 429])
      const good = await createToken(l.sys.deps.store, {
        role: 'Reader',
        subscriptions: [],
        label: 'r',
        nowMs: 0,
      })
      const spelled = [`Bearer ${good}`, `Bearer    ${good}`, `bearer ${good}  `, `BEARER\t${good}`]
      const got: number[] = []
      for (let i = 0; i < 8; i++)
        got.push(
          (
            await l.call('GET', '/subscriptions', {
              token: null as unknown as string,
              headers: { authorization: spelled[i % spelled.length] as string },
            })
          ).status,
        )
      expect(got.filter((s) => s === 429).length).toBeGreaterThanOrEqual(3)
    } finally {
      await l.close()
    }
  })

  it('failed logins back off, at the token endpoint too', async () => {
    const l = await apiHarness()
    try {
      const form = (secret: string) => ({
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer x' },
        body: `grant_type=client_credentials&client_id=osroll&client_secret=${secret}`,
        apiVersion: null,
        token: null as unknown as string,
      })
      const statuses: number[] = []
      for (let i = 0; i < 14; i++)
        statuses.push((await l.call('POST', '/adfs/oauth2/token', form(`guess${i}`))).status)
      expect(statuses.slice(0, 10).every((s) => s === 400 || s === 401)).toBe(true)
      expect(statuses.slice(11)).toContain(429)
      const locked = await l.call('GET', '/subscriptions', {
        token: null as unknown as string,
        headers: { authorization: `Bearer ${l.sys.adminToken}` },
      })
      expect(locked.status).toBe(429)
      expect(locked.headers['retry-after']).toBeDefined()
    } finally {
      await l.close()
    }
  })
})

describe('dashboard headers (finding 17)', () => {
  it('/ sends a CSP, X-Frame-Options and Referrer-Policy', async () => {
    const r = await h.sys.app.inject({ method: 'GET', url: '/' })
    expect(String(r.headers['content-security-policy'])).toContain("frame-ancestors 'none'")
    expect(r.headers['x-frame-options']).toBe('DENY')
    expect(r.headers['referrer-policy']).toBe('no-referrer')
  })
})
