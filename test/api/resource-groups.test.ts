/**
 * Resource groups (issue 18 §1, docs/api.md § Resource groups): every route and its status codes
 * and error bodies, `ResourceGroupNotFound` for resources in a missing group, the group's delete
 * removing what it holds in dependency order (instances on the sim fabric included), the
 * `--implicit-resource-groups` switch on and off, and the adoption of groups at start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import type { Call } from '../../test-support/api-harness.js'
import {
  armPaths,
  autoUpgradeSetBody,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'
import { adoptResourceGroups } from '../../src/services/resource-groups.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
let sub: string
const group = (rg: string) => armPaths(sub, rg).group()
const lb = (rg: string) => armPaths(sub, rg).lb
const set = (rg: string, name = 'web') => armPaths(sub, rg).set(name)
const gallery = (rg: string) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/galleries/gal`
const probeBody = loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 })
/** A set of `capacity` instances whose health probe is the load balancer `lb`'s `tcp` of `rg`. */
const setBody = (rg: string, capacity = 3) =>
  autoUpgradeSetBody({ sub, capacity, probe: 'tcp', group: rg })
const put = async (path: string, body: unknown, status = 201) => {
  const r = await call('PUT', path, { body })
  expect(r.status, `PUT ${path}: ${JSON.stringify(r.body)}`).toBe(status)
  return r
}
const notFound = (rg: string) => ({
  status: 404,
  body: {
    error: { code: 'ResourceGroupNotFound', message: `Resource group '${rg}' could not be found.` },
  },
})

beforeAll(async () => {
  h = await apiHarness({ groups: [] })
  call = h.call
  sub = h.sub
  await put(armPaths(sub).image('1.0.0'), imageBody('sim:?boot=0'))
})
afterAll(() => h.close())

describe('resource group routes', () => {
  it('PUT creates (201) and updates (200) in Azure shape; GET, HEAD and the list read it', async () => {
    const created = await put(group('Alpha'), { location: 'West US', tags: { team: 'a' } })
    expect(created.body).toEqual({
      id: `/subscriptions/${sub}/resourceGroups/Alpha`,
      name: 'Alpha',
      type: 'Microsoft.Resources/resourceGroups',
      location: 'westus',
      tags: { team: 'a' },
      properties: { provisioningState: 'Succeeded' },
    })
    // ARM paths and group names ignore case; the name keeps its first spelling.
    const again = await put(
      `/subscriptions/${sub}/RESOURCEGROUPS/alpha`,
      { location: 'westus', managedBy: '/subscriptions/x/resourceGroups/y' },
      200,
    )
    expect(again.body).toMatchObject({
      name: 'Alpha',
      managedBy: '/subscriptions/x/resourceGroups/y',
    })
    expect(again.body.tags).toBeUndefined() // PUT replaces: tags not sent are gone
    const got = await call('GET', `/subscriptions/${sub}/resourceGroups/ALPHA`)
    expect(got).toMatchObject({ status: 200, body: again.body })
    const head = await call('HEAD', group('alpha'))
    expect([head.status, head.body]).toEqual([204, ''])
    const missing = await call('HEAD', group('nowhere'))
    expect([missing.status, missing.body]).toEqual([404, ''])
    await put(group('beta'), { location: 'eastus' })
    const list = await call('GET', `/subscriptions/${sub}/resourcegroups`)
    expect(list.body.value.map((g: any) => [g.name, g.location])).toEqual([
      ['Alpha', 'westus'],
      ['beta', 'eastus'],
    ])
    const top = await call('GET', `/subscriptions/${sub}/resourcegroups?$top=1`)
    expect(top.body.value.map((g: any) => g.name)).toEqual(['Alpha'])
    expect(
      (await call('GET', `/subscriptions/${sub}/resourcegroups?$top=zero`)).body.error.code,
    ).toBe('InvalidParameter')
  })

  it('refuses bad input with ARM errors, and a location change with 409 InvalidResourceGroupLocation', async () => {
    const moved = await call('PUT', group('alpha'), { body: { location: 'eastus' } })
    expect(moved).toMatchObject({
      status: 409,
      body: {
        error: {
          code: 'InvalidResourceGroupLocation',
          message:
            "Invalid resource group location 'eastus'. The Resource group already exists in location 'westus'.",
        },
      },
    })
    const cases: [unknown, number, string][] = [
      [{}, 400, 'LocationRequired'],
      [[], 400, 'InvalidRequestContent'],
      [{ location: 'westus', tags: { 'a/b': 'x' } }, 400, 'InvalidTagNameCharacters'],
      [{ location: 'westus', managedBy: 7 }, 400, 'InvalidRequestContent'],
    ]
    for (const [body, status, code] of cases) {
      const r = await call('PUT', group('gamma'), { body })
      expect([r.status, r.body.error?.code], JSON.stringify(body)).toEqual([status, code])
    }
    const badName = await call('PUT', group('ends-with-dot.x%2A'), { body: { location: 'westus' } })
    expect(badName.status).toBe(400)
    expect((await call('GET', group('gamma'))).status).toBe(404) // nothing was made
  })

  it('PATCH changes tags and managedBy; a missing group is ResourceGroupNotFound everywhere', async () => {
    const patched = await call('PATCH', group('beta'), { body: { tags: { env: 'test' } } })
    expect(patched).toMatchObject({
      status: 200,
      body: { name: 'beta', location: 'eastus', tags: { env: 'test' } },
    })
    expect((await call('PATCH', group('beta'), { body: { location: 'westus' } })).status).toBe(409)
    expect(await call('PATCH', group('nowhere'), { body: { tags: {} } })).toMatchObject(
      notFound('nowhere'),
    )
    expect(await call('GET', group('nowhere'))).toMatchObject(notFound('nowhere'))
    expect(await call('DELETE', group('nowhere'))).toMatchObject(notFound('nowhere'))
    expect(await call('GET', `${group('nowhere')}/resources`)).toMatchObject(notFound('nowhere'))
  })
})

describe('resources in a group that does not exist (Azure: ResourceGroupNotFound)', () => {
  it('refuses a PUT of any resource and stores nothing; reads, lists, actions and deletes too', async () => {
    expect(await call('PUT', lb('ghost'), { body: probeBody })).toMatchObject(notFound('ghost'))
    expect(await call('PUT', set('ghost'), { body: setBody('ghost') })).toMatchObject(
      notFound('ghost'),
    )
    expect(await call('PUT', gallery('ghost'), { body: { location: 'westus' } })).toMatchObject(
      notFound('ghost'),
    )
    expect(await call('GET', set('ghost'))).toMatchObject(notFound('ghost'))
    expect(await call('GET', lb('ghost'))).toMatchObject(notFound('ghost'))
    expect(
      await call(
        'GET',
        `/subscriptions/${sub}/resourceGroups/ghost/providers/Microsoft.Compute/virtualMachineScaleSets`,
      ),
    ).toMatchObject(notFound('ghost'))
    expect(await call('POST', `${set('ghost')}/osRollingUpgrade`)).toMatchObject(notFound('ghost'))
    expect(await call('DELETE', lb('ghost'))).toMatchObject(notFound('ghost'))
    expect(await call('HEAD', group('ghost'))).toMatchObject({ status: 404 })
    const stored = await h.sys.deps.store.listResources({
      type: 'Microsoft.Network/loadBalancers',
      resourceGroup: 'ghost',
    })
    expect(stored).toEqual([])
  })
})

describe('a group holding resources', () => {
  it('lists them as generic resources', async () => {
    await put(group('shop'), { location: 'westus' })
    await put(lb('shop'), { ...probeBody, tags: { tier: 'front' } })
    await put(gallery('shop'), { location: 'westus' })
    await put(`${gallery('shop')}/images/web`, {
      location: 'westus',
      properties: { osType: 'Linux', identifier: { publisher: 'p', offer: 'o', sku: 's' } },
    })
    const r = await call('GET', `${group('shop')}/resources`)
    expect(r.status).toBe(200)
    expect(r.body.value).toEqual([
      {
        id: lb('shop'),
        name: 'lb',
        type: 'Microsoft.Network/loadBalancers',
        location: 'westus',
        tags: { tier: 'front' },
        sku: { name: 'Basic', tier: 'Regional' },
      },
      {
        id: `${gallery('shop')}/images/web`,
        name: 'gal/web',
        type: 'Microsoft.Compute/galleries/images',
        location: 'westus',
      },
      {
        id: gallery('shop'),
        name: 'gal',
        type: 'Microsoft.Compute/galleries',
        location: 'westus',
      },
    ])
    expect((await call('GET', `${group('shop')}/resources?$top=1`)).body.value).toHaveLength(1)
  })

  it('DELETE answers 202 with a Location that ends 200; everything in it is gone, instances too', async () => {
    await put(group('doomed'), { location: 'westus' })
    await put(lb('doomed'), probeBody)
    await put(set('doomed'), setBody('doomed'))
    const key = set('doomed').toLowerCase()
    await waitFor(
      async () => (await h.sys.deps.fabric.listInstances(key)).length === 3,
      'instances',
    )
    await put(gallery('doomed'), { location: 'westus' })
    await put(`${gallery('doomed')}/images/web`, {
      location: 'westus',
      properties: { osType: 'Linux', identifier: { publisher: 'p', offer: 'o', sku: 'd' } },
    })
    const r = await call('DELETE', group('doomed'))
    expect(r.status).toBe(202)
    expect(r.headers['azure-asyncoperation']).toBeUndefined()
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0)
    const location = String(r.headers['location'])
    expect(location).toMatch(/\/subscriptions\/[^/]+\/operationresults\/[^/?]+\?api-version=/)
    const final = await call('GET', location.replace(/^http:\/\/[^/]+/, ''), { apiVersion: null })
    expect([final.status, final.body]).toEqual([200, ''])
    expect(await call('GET', group('doomed'))).toMatchObject(notFound('doomed'))
    for (const path of [set('doomed'), lb('doomed'), gallery('doomed')])
      expect(await call('GET', path)).toMatchObject(notFound('doomed'))
    expect(await h.sys.deps.fabric.listInstances(key)).toEqual([])
    expect(await h.sys.deps.store.getScaleSet(key)).toBeUndefined()
    for (const type of [
      'Microsoft.Compute/virtualMachineScaleSets',
      'Microsoft.Network/loadBalancers',
      'Microsoft.Compute/galleries',
      'Microsoft.Compute/galleries/images',
    ])
      expect(await h.sys.deps.store.listResources({ type, resourceGroup: 'doomed' })).toEqual([])
    // The group can be made again, empty.
    await put(group('doomed'), { location: 'eastus' })
    expect((await call('GET', `${group('doomed')}/resources`)).body.value).toEqual([])
  })

  it("stops at a resource another group's set still uses, and keeps the group", async () => {
    await put(group('probes'), { location: 'westus' })
    await put(group('users'), { location: 'westus' })
    await put(lb('probes'), probeBody)
    await put(set('users', 'user'), setBody('probes', 1))
    const r = await call('DELETE', group('probes'))
    expect(r).toMatchObject({
      status: 400,
      body: { error: { code: 'CannotRemoveProbeUsedByVMSS' } },
    })
    expect((await call('GET', group('probes'))).status).toBe(200)
    expect((await call('GET', lb('probes'))).status).toBe(200)
    const deleted = await call('DELETE', group('users'))
    expect(deleted.status).toBe(202)
    expect((await call('DELETE', group('probes'))).status).toBe(202)
  })

  it('an operation result of another subscription is not found', async () => {
    await put(group('gone'), { location: 'westus' })
    const r = await call('DELETE', group('gone'))
    const path = String(r.headers['location'])
      .replace(/^http:\/\/[^/]+/, '')
      .replace(sub, '11111111-2222-3333-4444-555555555555')
    expect((await call('GET', path, { apiVersion: null })).status).toBe(404)
  })
})

describe('--implicit-resource-groups (the compatibility switch)', () => {
  let legacy: Awaited<ReturnType<typeof apiHarness>>
  beforeAll(async () => {
    legacy = await apiHarness({ groups: [], config: { implicitResourceGroups: 'true' } })
  })
  afterAll(() => legacy.close())
  const path = (rg: string) =>
    `/subscriptions/${legacy.sub}/resourceGroups/${rg}/providers/Microsoft.Network/loadBalancers/lb`

  it('a resource PUT into a missing group makes the group, in the resource location', async () => {
    const r = await legacy.call('PUT', path('Auto'), {
      body: { ...probeBody, location: 'East US' },
    })
    expect(r.status).toBe(201)
    const g = await legacy.call('GET', `/subscriptions/${legacy.sub}/resourcegroups/auto`)
    expect(g.body).toMatchObject({ name: 'Auto', location: 'eastus' })
  })

  it('a refused PUT makes no group; a read in a missing group answers for the resource', async () => {
    const r = await legacy.call('PUT', path('refused'), {
      body: { location: 'westus', properties: { probes: [{ name: 'p' }] } },
    })
    expect(r.status).toBe(400)
    expect(
      (await legacy.call('HEAD', `/subscriptions/${legacy.sub}/resourcegroups/refused`)).status,
    ).toBe(404)
    const read = await legacy.call('GET', path('unknown'))
    expect(read).toMatchObject({ status: 404, body: { error: { code: 'ResourceNotFound' } } })
  })
})

describe('adoption at start', () => {
  it("makes the groups an older osroll's resources are in, once, keeping their names", async () => {
    const old = await apiHarness({ groups: [] })
    try {
      const g = `/subscriptions/${old.sub}/resourcegroups/Legacy`
      expect((await old.call('PUT', g, { body: { location: 'westus' } })).status).toBe(201)
      const lbPath = `/subscriptions/${old.sub}/resourceGroups/Legacy/providers/Microsoft.Network/loadBalancers/lb`
      expect((await old.call('PUT', lbPath, { body: probeBody })).status).toBe(201)
      // As an osroll before resource groups left it: the resource, and no group.
      await old.sys.deps.store.deleteResource(`/subscriptions/${old.sub}/resourceGroups/legacy`)
      expect((await old.call('GET', lbPath)).status).toBe(404)
      expect(await adoptResourceGroups(old.sys.deps)).toBe(1)
      expect((await old.call('GET', g)).body).toMatchObject({ name: 'Legacy', location: 'westus' })
      expect((await old.call('GET', lbPath)).status).toBe(200)
      expect(await adoptResourceGroups(old.sys.deps)).toBe(0)
    } finally {
      await old.close()
    }
  })
})
