/**
 * Microsoft.Network virtual networks and subnets (issue 18 §2, docs/api.md § Virtual networks and
 * subnets) through the API on the sim fabric: every route, every address rule with Azure's code,
 * the in-use refusals, a scale set's subnet reference, and instance addresses taken from the
 * subnet's prefix from .4 up, never shared, given back when the instances go.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import type { Call } from '../../test-support/api-harness.js'
import {
  armPaths,
  imageBody,
  privateAddresses,
  subnetSetBody,
} from '../../test-support/arm-fixtures.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
let sub: string
const rgPath = () => `/subscriptions/${sub}/resourceGroups/rg/providers`
const vnetPath = (name = 'vnet') => `${rgPath()}/Microsoft.Network/virtualNetworks/${name}`
const subnetPath = (subnet: string, vnet = 'vnet') => `${vnetPath(vnet)}/subnets/${subnet}`
const subnetId = (subnet: string, vnet = 'vnet') => subnetPath(subnet, vnet)

const vnetBody = (prefixes: unknown[], subnets: { name: string; prefix: unknown }[] = []) => ({
  location: 'westus',
  properties: {
    addressSpace: { addressPrefixes: prefixes },
    subnets: subnets.map((s) => ({ name: s.name, properties: { addressPrefix: s.prefix } })),
  },
})

const setBody = (capacity: number, subnetId: string | undefined) =>
  subnetSetBody({ capacity, ...(subnetId ? { subnetId } : {}) })

/** The set's NIC addresses once it has `count` instances, sorted numerically. */
const addressesOf = (set: string, count: number) =>
  waitFor(async () => {
    const ips = await privateAddresses(
      async (p) => (await call('GET', p)).body,
      armPaths(sub).set(set),
    )
    return ips.length === count && ips.sort((a, b) => lastOctets(a) - lastOctets(b))
  }, `${count} addresses of ${set}`)
const lastOctets = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0)

/** Expects a refusal with `code` that changed nothing: the VNet reads back as before. */
async function refused(
  method: string,
  path: string,
  body: unknown,
  status: number,
  code: string,
): Promise<any> {
  const before = await call('GET', vnetPath())
  const r = await call(method, path, { body })
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  expect(r.body.error.code).toBe(code)
  expect(typeof r.body.error.message).toBe('string')
  expect(await call('GET', vnetPath())).toMatchObject({ status: before.status, body: before.body })
  return r.body.error
}

beforeAll(async () => {
  h = await apiHarness()
  call = h.call
  sub = h.sub
  const image = await call('PUT', armPaths(sub).image('1.0.0'), { body: imageBody('sim:?boot=0') })
  expect(image.status).toBe(201)
})
afterAll(() => h.close())

describe('virtual networks: routes and shapes', () => {
  it('PUT creates (201) and answers Azure’s shape; GET, lists and a second PUT (200) agree', async () => {
    const body = vnetBody(['10.0.0.0/16'], [{ name: 'default', prefix: '10.0.1.0/24' }])
    const put = await call('PUT', vnetPath(), { body })
    expect(put.status).toBe(201)
    expect(put.body).toMatchObject({
      id: vnetPath(),
      name: 'vnet',
      type: 'Microsoft.Network/virtualNetworks',
      location: 'westus',
      properties: {
        provisioningState: 'Succeeded',
        addressSpace: { addressPrefixes: ['10.0.0.0/16'] },
        subnets: [
          {
            id: subnetPath('default'),
            name: 'default',
            type: 'Microsoft.Network/virtualNetworks/subnets',
            etag: put.body.etag,
            properties: { addressPrefix: '10.0.1.0/24', provisioningState: 'Succeeded' },
          },
        ],
      },
    })
    expect(put.body.etag).toMatch(/^W\/"/)
    expect(typeof put.body.properties.resourceGuid).toBe('string')
    const get = await call('GET', vnetPath())
    expect(get).toMatchObject({ status: 200, body: put.body })
    const list = await call('GET', `${rgPath()}/Microsoft.Network/virtualNetworks`)
    expect(list.body.value).toEqual([put.body])
    const all = await call(
      'GET',
      `/subscriptions/${sub}/providers/Microsoft.Network/virtualNetworks`,
    )
    expect(all.body.value.map((v: any) => v.id)).toContain(vnetPath())
    // What a GET returns may be PUT back unchanged: 200, same content, same resourceGuid.
    const again = await call('PUT', vnetPath(), { body: get.body })
    expect(again.status).toBe(200)
    expect({ ...again.body, etag: '' }).toEqual({
      ...get.body,
      etag: '',
      properties: {
        ...get.body.properties,
        subnets: get.body.properties.subnets.map((s: any) => ({ ...s, etag: again.body.etag })),
      },
    })
  })

  it('subnet routes: PUT (201 then 200), GET, list, DELETE (200 then 204); a PUT of the VNet replaces its subnets', async () => {
    const put = await call('PUT', subnetPath('app'), {
      body: { properties: { addressPrefix: '10.0.2.0/24' } },
    })
    expect(put.status).toBe(201)
    expect(put.body).toMatchObject({
      id: subnetPath('app'),
      name: 'app',
      type: 'Microsoft.Network/virtualNetworks/subnets',
      properties: { addressPrefix: '10.0.2.0/24', provisioningState: 'Succeeded' },
    })
    const update = await call('PUT', subnetPath('app'), {
      body: { properties: { addressPrefixes: ['10.0.3.0/24'] } },
    })
    expect(update.status).toBe(200)
    // Azure's defaults for what the PUT left out are answered (read-back equals write).
    expect(update.body.properties).toEqual({
      addressPrefixes: ['10.0.3.0/24'],
      privateEndpointNetworkPolicies: 'Disabled',
      privateLinkServiceNetworkPolicies: 'Enabled',
      provisioningState: 'Succeeded',
    })
    expect((await call('GET', subnetPath('APP'))).body).toEqual(update.body)
    const list = await call('GET', `${vnetPath()}/subnets`)
    expect(list.body.value.map((s: any) => s.name)).toEqual(['default', 'app'])
    expect((await call('DELETE', subnetPath('app'))).status).toBe(200)
    expect((await call('DELETE', subnetPath('app'))).status).toBe(204)
    expect((await call('GET', subnetPath('app'))).status).toBe(404)
    // Network's PUT replaces: a VNet PUT without subnets removes the unused ones.
    const bare = await call('PUT', vnetPath('other'), { body: vnetBody(['10.9.0.0/16']) })
    expect(bare.status).toBe(201)
    await call('PUT', subnetPath('s', 'other'), {
      body: { properties: { addressPrefix: '10.9.0.0/24' } },
    })
    const replaced = await call('PUT', vnetPath('other'), { body: vnetBody(['10.9.0.0/16']) })
    expect(replaced.body.properties.subnets).toEqual([])
    expect((await call('DELETE', vnetPath('other'))).status).toBe(200)
    expect((await call('DELETE', vnetPath('other'))).status).toBe(204)
    expect((await call('GET', vnetPath('other'))).body.error.code).toBe('ResourceNotFound')
  })

  it('a subnet of a missing VNet is 404 ResourceNotFound; bad names are InvalidResourceName', async () => {
    const r = await call('PUT', subnetPath('s', 'nope'), {
      body: { properties: { addressPrefix: '10.0.0.0/24' } },
    })
    expect(r).toMatchObject({ status: 404, body: { error: { code: 'ResourceNotFound' } } })
    expect(
      (await call('PUT', vnetPath('x'), { body: vnetBody(['10.0.0.0/16']) })).body.error,
    ).toMatchObject({
      code: 'InvalidResourceName',
    })
    await refused(
      'PUT',
      subnetPath('-bad'),
      { properties: { addressPrefix: '10.0.9.0/24' } },
      400,
      'InvalidResourceName',
    )
  })
})

describe('virtual networks: the address rules, each refused with Azure’s code and changing nothing', () => {
  it.each([
    ['not CIDR', vnetBody(['10.0.0/16']), 'InvalidAddressPrefixFormatted'],
    ['host bits set', vnetBody(['10.0.0.1/16']), 'InvalidAddressPrefixFormatted'],
    ['an octet past 255', vnetBody(['10.0.256.0/24']), 'InvalidAddressPrefixFormatted'],
    ['no address space', vnetBody([]), 'InvalidParameter'],
    [
      'address spaces overlapping',
      vnetBody(['10.0.0.0/16', '10.0.5.0/24']),
      'VnetAddressSpacesOverlap',
    ],
    [
      'a subnet prefix not CIDR',
      vnetBody(['10.0.0.0/16'], [{ name: 'a', prefix: 'ten' }]),
      'InvalidAddressPrefixFormatted',
    ],
    [
      'a subnet outside the VNet',
      vnetBody(['10.0.0.0/16'], [{ name: 'a', prefix: '10.1.0.0/24' }]),
      'NetcfgSubnetRangeOutsideVnet',
    ],
    [
      'a subnet half outside',
      vnetBody(['10.0.0.0/24'], [{ name: 'a', prefix: '10.0.0.0/23' }]),
      'NetcfgSubnetRangeOutsideVnet',
    ],
    [
      'subnets overlapping',
      vnetBody(
        ['10.0.0.0/16'],
        [
          { name: 'a', prefix: '10.0.0.0/24' },
          { name: 'b', prefix: '10.0.0.128/25' },
        ],
      ),
      'NetcfgSubnetRangesOverlap',
    ],
    [
      'a subnet smaller than /29',
      vnetBody(['10.0.0.0/16'], [{ name: 'a', prefix: '10.0.0.0/30' }]),
      'NetcfgInvalidSubnet',
    ],
    [
      'a subnet without a prefix',
      vnetBody(['10.0.0.0/16'], [{ name: 'a', prefix: undefined }]),
      'NetcfgInvalidSubnet',
    ],
    [
      'a subnet name twice',
      vnetBody(
        ['10.0.0.0/16'],
        [
          { name: 'a', prefix: '10.0.0.0/24' },
          { name: 'A', prefix: '10.0.1.0/24' },
        ],
      ),
      'InvalidParameter',
    ],
  ])('%s', async (_what, body, code) => {
    await refused('PUT', vnetPath(), body, 400, code)
  })

  it('the messages are Azure’s, naming the subnet and the VNet', async () => {
    const outside = await refused(
      'PUT',
      subnetPath('far'),
      { properties: { addressPrefix: '10.1.0.0/24' } },
      400,
      'NetcfgSubnetRangeOutsideVnet',
    )
    expect(outside.message).toBe(
      "Subnet 'far' is not valid because its IP address range is outside the IP address range of virtual network 'vnet'.",
    )
    const overlap = await refused(
      'PUT',
      subnetPath('twin'),
      { properties: { addressPrefix: '10.0.1.0/25' } },
      400,
      'NetcfgSubnetRangesOverlap',
    )
    expect(overlap.message).toBe(
      "Subnet 'twin' is not valid because its IP address range overlaps with that of an existing subnet in virtual network 'vnet'.",
    )
    const format = await refused(
      'PUT',
      subnetPath('odd'),
      { properties: { addressPrefix: '10.0.7.9/24' } },
      400,
      'InvalidAddressPrefixFormatted',
    )
    expect(format.message).toBe(
      `Address prefix 10.0.7.9/24 of resource ${vnetPath()}/subnets/odd is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24.`,
    )
    // A /29 is the smallest subnet Azure allows, and it is accepted.
    const small = await call('PUT', subnetPath('tiny'), {
      body: { properties: { addressPrefix: '10.0.200.0/29' } },
    })
    expect(small.status).toBe(201)
    expect((await call('DELETE', subnetPath('tiny'))).status).toBe(200)
  })
})

describe('scale sets in a subnet', () => {
  it('a missing subnet, a missing VNet or another region is 400 InvalidResourceReference, and nothing is created', async () => {
    const east = { ...vnetBody(['10.0.0.0/16'], [{ name: 'default', prefix: '10.0.1.0/24' }]) }
    expect(
      (await call('PUT', vnetPath('east'), { body: { ...east, location: 'eastus' } })).status,
    ).toBe(201)
    for (const id of [
      subnetId('missing'),
      subnetId('default', 'novnet'),
      subnetId('default', 'east'),
    ]) {
      const r = await call('PUT', armPaths(sub).set('lost'), { body: setBody(1, id) })
      expect(r.status, JSON.stringify(r.body)).toBe(400)
      expect(r.body.error).toMatchObject({
        code: 'InvalidResourceReference',
        message: `Resource ${id} referenced by resource ${armPaths(sub).set('lost')} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
        target:
          'properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations[0].properties.ipConfigurations[0].properties.subnet.id',
      })
      expect((await call('GET', armPaths(sub).set('lost'))).status).toBe(404)
    }
  })

  it('instances get the subnet’s addresses from .4 up; NICs name the subnet; the subnet lists their IP configurations', async () => {
    const put = await call('PUT', armPaths(sub).set('web'), {
      body: setBody(3, subnetId('default')),
    })
    expect(put.status, JSON.stringify(put.body)).toBe(201)
    expect(await addressesOf('web', 3)).toEqual(['10.0.1.4', '10.0.1.5', '10.0.1.6'])
    const nics = (await call('GET', `${armPaths(sub).set('web')}/networkInterfaces`)).body.value
    const nic0 = nics.find((n: any) =>
      n.properties.virtualMachine.id.endsWith('/virtualMachines/0'),
    )
    expect(nic0).toMatchObject({
      id: `${armPaths(sub).set('web')}/virtualMachines/0/networkInterfaces/nic`,
      name: 'nic',
      properties: {
        ipConfigurations: [
          {
            id: `${armPaths(sub).set('web')}/virtualMachines/0/networkInterfaces/nic/ipConfigurations/ip`,
            name: 'ip',
            properties: { privateIPAddress: '10.0.1.4', subnet: { id: subnetId('default') } },
          },
        ],
      },
    })
    const one = await call('GET', `${armPaths(sub).set('web')}/virtualMachines/1/networkInterfaces`)
    expect(one.body.value[0].properties.ipConfigurations[0].properties.privateIPAddress).toBe(
      '10.0.1.5',
    )
    const subnet = (await call('GET', subnetPath('default'))).body
    expect(subnet.properties.ipConfigurations.map((c: any) => c.id).sort()).toEqual(
      ['0', '1', '2'].map(
        (i) =>
          `${armPaths(sub).set('web')}/virtualMachines/${i}/networkInterfaces/nic/ipConfigurations/ip`,
      ),
    )
  })

  it('a second set in the same subnet gets the next free addresses: none is shared', async () => {
    expect(
      (await call('PUT', armPaths(sub).set('api'), { body: setBody(2, subnetId('default')) }))
        .status,
    ).toBe(201)
    expect(await addressesOf('api', 2)).toEqual(['10.0.1.7', '10.0.1.8'])
  })

  it('a subnet in use is neither deleted, renumbered nor dropped by a VNet PUT, and the VNet is not deleted', async () => {
    const e = await refused(
      'DELETE',
      subnetPath('default'),
      undefined,
      400,
      'InUseSubnetCannotBeDeleted',
    )
    expect(e.message).toMatch(
      /^Subnet default is in use by \/subscriptions\/.+\/virtualMachines\/\d\/networkInterfaces\/nic\/ipConfigurations\/ip.* and cannot be deleted\. In order to delete the subnet, delete all the resources within the subnet\. See aka\.ms\/deletesubnet\.$/,
    )
    await refused(
      'PUT',
      subnetPath('default'),
      { properties: { addressPrefix: '10.0.4.0/24' } },
      400,
      'InUseSubnetCannotBeUpdated',
    )
    await refused('PUT', vnetPath(), vnetBody(['10.0.0.0/16']), 400, 'InUseSubnetCannotBeDeleted')
    await refused('DELETE', vnetPath(), undefined, 400, 'InUseSubnetCannotBeDeleted')
    // Other changes to the VNet are fine: a second address space.
    const get = (await call('GET', vnetPath())).body
    get.properties.addressSpace.addressPrefixes.push('10.5.0.0/16')
    expect((await call('PUT', vnetPath(), { body: get })).status).toBe(200)
  })

  it('a set that names the subnet but has no instance yet holds it too', async () => {
    await call('PUT', subnetPath('spare'), {
      body: { properties: { addressPrefix: '10.0.9.0/24' } },
    })
    expect(
      (await call('PUT', armPaths(sub).set('empty'), { body: setBody(0, subnetId('spare')) }))
        .status,
    ).toBe(201)
    const e = await refused(
      'DELETE',
      subnetPath('spare'),
      undefined,
      400,
      'InUseSubnetCannotBeDeleted',
    )
    expect(e.message).toContain(armPaths(sub).set('empty'))
  })

  it('a set larger than the subnet’s free addresses is 400 SubnetIsFull', async () => {
    await call('PUT', subnetPath('small'), {
      body: { properties: { addressPrefix: '10.0.10.0/29' } },
    })
    const r = await call('PUT', armPaths(sub).set('big'), { body: setBody(4, subnetId('small')) })
    expect(r.status).toBe(400)
    expect(r.body.error).toMatchObject({
      code: 'SubnetIsFull',
      message:
        'Subnet small with address prefix 10.0.10.0/29 does not have enough capacity for 4 IP addresses.',
    })
    const fits = await call('PUT', armPaths(sub).set('big'), {
      body: setBody(3, subnetId('small')),
    })
    expect(fits.status).toBe(201)
    expect(await addressesOf('big', 3)).toEqual(['10.0.10.4', '10.0.10.5', '10.0.10.6'])
  })

  it('scaling in gives addresses back and scaling out takes the lowest free one; deleting the set frees the subnet', async () => {
    const path = armPaths(sub).set('web')
    expect((await call('PATCH', path, { body: { sku: { capacity: 1 } } })).status).toBe(200)
    expect(await addressesOf('web', 1)).toEqual(['10.0.1.4'])
    expect((await call('PATCH', path, { body: { sku: { capacity: 2 } } })).status).toBe(200)
    expect(await addressesOf('web', 2)).toEqual(['10.0.1.4', '10.0.1.5'])
    for (const set of ['web', 'api']) {
      const del = await call('DELETE', armPaths(sub).set(set))
      expect(del.status).toBe(202)
    }
    const subnet = (await call('GET', subnetPath('default'))).body
    expect(subnet.properties.ipConfigurations).toBeUndefined()
    expect((await call('DELETE', subnetPath('default'))).status).toBe(200)
  })

  it('a set without a network profile works as before: the fabric’s own address, no subnet', async () => {
    expect(
      (await call('PUT', armPaths(sub).set('plain'), { body: setBody(1, undefined) })).status,
    ).toBe(201)
    const [ip] = await addressesOf('plain', 1)
    const nic = (await call('GET', `${armPaths(sub).set('plain')}/networkInterfaces`)).body.value[0]
    expect(nic.name).toBe('nic0')
    expect(nic.properties.ipConfigurations[0]).toEqual({
      name: 'ipconfig1',
      properties: { primary: true, privateIPAddress: ip, privateIPAllocationMethod: 'Dynamic' },
    })
  })
})
