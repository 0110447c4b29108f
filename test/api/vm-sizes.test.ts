/**
 * VM sizes (docs/api.md § VM sizes): the location's `vmSizes` and the Resource SKUs list in
 * Azure's shapes, `$filter=location eq '…'`, and a scale set's `sku.name` checked against the
 * table — an unknown size refused with Azure's 400 `InvalidParameter`, a known one accepted and
 * shown on the instances with each data disk's size.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import type { Call } from '../../test-support/api-harness.js'
import { armPaths, imageBody } from '../../test-support/arm-fixtures.js'
import { LOCATIONS } from '../../src/config/defaults.js'
import { VM_SIZES } from '../../src/core/scale-set/vm-sizes.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
let p: ReturnType<typeof armPaths>
const compute = () => `/subscriptions/${h.sub}/providers/Microsoft.Compute`

beforeAll(async () => {
  h = await apiHarness()
  call = h.call
  p = armPaths(h.sub)
  expect((await call('PUT', p.image('1.0.0'), { body: imageBody('sim:?boot=0') })).status).toBe(201)
})
afterAll(() => h.close())

function setBody(sku: Record<string, unknown>, dataDisks?: unknown[]): Record<string, unknown> {
  return {
    location: 'westus',
    sku,
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
          ...(dataDisks ? { dataDisks } : {}),
        },
      },
    },
  }
}

describe('GET …/locations/{location}/vmSizes', () => {
  it("lists every size of the table in Compute's shape", async () => {
    const r = await call('GET', `${compute()}/locations/westus/vmSizes`)
    expect(r.status).toBe(200)
    expect(r.body.value).toHaveLength(VM_SIZES.length)
    expect(r.body.value).toContainEqual({
      name: 'Standard_D2s_v3',
      numberOfCores: 2,
      osDiskSizeInMB: 1_047_552,
      resourceDiskSizeInMB: 16_384,
      memoryInMB: 8_192,
      maxDataDiskCount: 4,
    })
    expect(r.body.value.find((s: { name: string }) => s.name === 'Standard_B1s')).toMatchObject({
      numberOfCores: 1,
      memoryInMB: 1_024,
    })
  })

  it('answers the same list in any location a scale set may use', async () => {
    const a = await call('GET', `${compute()}/locations/westus/vmSizes`)
    const b = await call('GET', `${compute()}/Locations/NorthEurope/vmSizes`)
    expect(b.status).toBe(200)
    expect(b.body).toEqual(a.body)
  })

  it('needs a token, like every ARM route', async () => {
    const r = await call('GET', `${compute()}/locations/westus/vmSizes`, { token: null })
    expect(r.status).toBe(401)
  })
})

describe('GET …/providers/Microsoft.Compute/skus', () => {
  it('lists one virtualMachines entry per size and listed location', async () => {
    const r = await call('GET', `${compute()}/skus`)
    expect(r.status).toBe(200)
    expect(r.body.value).toHaveLength(VM_SIZES.length * LOCATIONS.length)
    const d2 = r.body.value.find(
      (s: { name: string; locations: string[] }) =>
        s.name === 'Standard_D2s_v3' && s.locations[0] === 'eastus',
    )
    expect(d2).toMatchObject({
      resourceType: 'virtualMachines',
      name: 'Standard_D2s_v3',
      tier: 'Standard',
      size: 'D2s_v3',
      family: 'standardDSv3Family',
      locations: ['eastus'],
      locationInfo: [{ location: 'eastus', zones: ['1', '2', '3'], zoneDetails: [] }],
      restrictions: [],
    })
    expect(d2.capabilities).toContainEqual({ name: 'vCPUs', value: '2' })
    expect(d2.capabilities).toContainEqual({ name: 'MemoryGB', value: '8' })
    expect(d2.capabilities).toContainEqual({ name: 'MaxDataDiskCount', value: '4' })
  })

  it("keeps one location with $filter=location eq '…', as Azure does", async () => {
    const filter = encodeURIComponent("location eq 'WestUS2'")
    const r = await call('GET', `${compute()}/skus?$filter=${filter}`)
    expect(r.status).toBe(200)
    expect(r.body.value).toHaveLength(VM_SIZES.length)
    for (const s of r.body.value) expect(s.locations).toEqual(['westus2'])
    const ds1 = r.body.value.find((s: { name: string }) => s.name === 'Standard_DS1_v2')
    expect(ds1.capabilities).toContainEqual({ name: 'MemoryGB', value: '3.5' })
  })

  it('refuses a filter it cannot apply, naming the one it takes', async () => {
    const filter = encodeURIComponent("name eq 'Standard_B1s'")
    const r = await call('GET', `${compute()}/skus?$filter=${filter}`)
    expect(r.status).toBe(400)
    expect(r.body.error).toMatchObject({ code: 'InvalidParameter', target: '$filter' })
    expect(r.body.error.message).toContain("location eq '{location}'")
  })
})

describe("a scale set's sku.name", () => {
  it("refuses a size that is not in the table with Azure's InvalidParameter, storing nothing", async () => {
    const r = await call('PUT', p.set('nosuch'), {
      body: setBody({ name: 'Standard_Z99_v9', capacity: 1 }),
    })
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('InvalidParameter')
    expect(r.body.error.target).toBe('sku.name')
    expect(r.body.error.message).toMatch(
      /^The value Standard_Z99_v9 provided for the VM size is not valid\. The valid sizes in the current region are: .*Standard_D2s_v3/,
    )
    expect((await call('GET', p.set('nosuch'))).status).toBe(404)
  })

  it('refuses an empty size name and a size that cannot take the data disks', async () => {
    const empty = await call('PUT', p.set('empty'), { body: setBody({ name: '', capacity: 1 }) })
    expect(empty.status).toBe(400)
    expect(empty.body.error.message).toMatch(/^The value {2}provided for the VM size is not valid/)
    const disks = [0, 1, 2].map((lun) => ({ lun, diskSizeGB: 1, createOption: 'Empty' }))
    const many = await call('PUT', p.set('many'), {
      body: setBody({ name: 'Standard_B1s', capacity: 1 }, disks),
    })
    expect(many.status).toBe(409)
    expect(many.body.error).toMatchObject({
      code: 'OperationNotAllowed',
      message: 'The maximum number of data disks allowed to be attached to a VM of this size is 2.',
    })
  })

  it("refuses a data disk size outside Azure's 1–32,767 GiB", async () => {
    for (const diskSizeGB of [0, 32_768, 1.5]) {
      const r = await call('PUT', p.set('disk'), {
        body: setBody({ name: 'Standard_B1s', capacity: 1 }, [
          { lun: 0, diskSizeGB, createOption: 'Empty' },
        ]),
      })
      expect(r.status, `diskSizeGB ${diskSizeGB}`).toBe(400)
      expect(r.body.error.target).toBe(
        'properties.virtualMachineProfile.storageProfile.dataDisks[0].diskSizeGB',
      )
    }
  })

  it('accepts a size of the table (any case), keeps capacity, and shows size and disk size on instances', async () => {
    const body = setBody({ name: 'standard_b2s', capacity: 2 }, [
      { lun: 0, diskSizeGB: 64, createOption: 'Empty' },
      { lun: 1, createOption: 'Empty' },
    ])
    const put = await call('PUT', p.set('sized'), { body })
    expect(put.status).toBe(201)
    expect(put.body.sku).toMatchObject({ name: 'standard_b2s', capacity: 2 })
    const vms = await waitFor(async () => {
      const r = await call('GET', `${p.set('sized')}/virtualMachines`)
      return r.body.value?.length === 2 && (r.body.value as Record<string, any>[])
    }, 'two instances')
    for (const vm of vms) {
      expect(vm.sku).toEqual({ name: 'Standard_B2s', tier: 'Standard' })
      const disks = vm.properties.storageProfile.dataDisks
      expect(disks[0]).toMatchObject({ lun: 0, diskSizeGB: 64 })
      expect(disks[1].lun).toBe(1)
      expect(disks[1]).not.toHaveProperty('diskSizeGB')
    }
    const set = await call('GET', p.set('sized'))
    expect(set.body.sku).toMatchObject({ name: 'standard_b2s', capacity: 2 })
  })

  it('keeps accepting a set that names no size; its instances then show none', async () => {
    const put = await call('PUT', p.set('nosize'), { body: setBody({ capacity: 1 }) })
    expect(put.status).toBe(201)
    const [vm] = await waitFor(async () => {
      const r = await call('GET', `${p.set('nosize')}/virtualMachines`)
      return r.body.value?.length === 1 && (r.body.value as Record<string, any>[])
    }, 'one instance')
    expect(vm).not.toHaveProperty('sku')
  })
})
