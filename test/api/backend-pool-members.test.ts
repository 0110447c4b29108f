/**
 * A load balancer's backend pool lists the instances' NIC IP configurations that join it
 * (`backendIPConfigurations`, read-only, as Azure answers), and a pool a scale set joins cannot
 * go: neither by deleting the load balancer nor by a PUT that leaves the pool out
 * (`LoadBalancerInUseByVirtualMachineScaleSet`). docs/api.md § Load balancers and probes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import { armPaths, imageBody, subnetSetBody } from '../../test-support/arm-fixtures.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let p: ReturnType<typeof armPaths>

beforeAll(async () => {
  h = await apiHarness()
  p = armPaths(h.sub)
  expect((await h.call('PUT', p.image('1.0.0'), { body: imageBody('sim:?boot=0') })).status).toBe(
    201,
  )
})
afterAll(() => h.close())

function lbBody(pools: string[]): Record<string, unknown> {
  return {
    location: 'westus',
    sku: { name: 'Standard' },
    properties: { backendAddressPools: pools.map((name) => ({ name })) },
  }
}

/** A Manual-mode set of `capacity` whose NIC `nic`, IP configuration `ip` joins `pool` of lb. */
function setInPool(capacity: number, pool: string): Record<string, unknown> {
  const body = subnetSetBody({ capacity }) as any
  body.properties.virtualMachineProfile.networkProfile = {
    networkInterfaceConfigurations: [
      {
        name: 'nic',
        properties: {
          primary: true,
          ipConfigurations: [
            {
              name: 'ip',
              properties: {
                loadBalancerBackendAddressPools: [{ id: `${p.lb}/backendAddressPools/${pool}` }],
              },
            },
          ],
        },
      },
    ],
  }
  return body
}

async function instanceIds(name: string, count: number): Promise<string[]> {
  return waitFor(async () => {
    const r = await h.call('GET', `${p.set(name)}/virtualMachines`)
    const ids = (r.body.value ?? []).map((v: any) => String(v.instanceId)).sort()
    return ids.length === count && ids
  }, `${count} instances of ${name}`)
}

const member = (set: string, instance: string) => ({
  id: `${p.set(set)}/virtualMachines/${instance}/networkInterfaces/nic/ipConfigurations/ip`,
})

describe("a backend pool's members", () => {
  it('lists every instance of every set that joins it, follows a scale-out, and reads back unchanged', async () => {
    expect((await h.call('PUT', p.lb, { body: lbBody(['web', 'spare']) })).status).toBe(201)
    const put = await h.call('PUT', p.set('members'), { body: setInPool(2, 'web') })
    expect(put.status, JSON.stringify(put.body)).toBe(201)
    const two = await instanceIds('members', 2)
    const got = (await h.call('GET', p.lb)).body
    const [web, spare] = got.properties.backendAddressPools
    expect(web.properties.backendIPConfigurations).toEqual(two.map((i) => member('members', i)))
    expect(spare.properties.backendIPConfigurations).toBeUndefined()
    const listed = (await h.call('GET', p.lb.replace(/\/lb$/, ''))).body.value
    expect(listed.find((l: any) => l.name === 'lb')).toEqual(got)

    // A declarative tool PUTs the GET back: the read-only list is not written, the etag stays.
    const again = await h.call('PUT', p.lb, { body: got })
    expect(again.status).toBe(200)
    expect(again.body.etag).toBe(got.etag)
    const stored = await h.sys.deps.store.getResource(p.lb)
    expect(JSON.stringify(stored?.body)).not.toContain('backendIPConfigurations')

    const scaled = await h.call('PATCH', p.set('members'), { body: { sku: { capacity: 3 } } })
    expect(scaled.status, JSON.stringify(scaled.body)).toBe(200)
    const three = await instanceIds('members', 3)
    const after = (await h.call('GET', p.lb)).body.properties.backendAddressPools[0]
    expect(after.properties.backendIPConfigurations).toEqual(three.map((i) => member('members', i)))
  })

  it('a pool in use cannot be removed by a PUT, nor its load balancer deleted; nothing changes', async () => {
    const before = (await h.call('GET', p.lb)).body
    const drop = await h.call('PUT', p.lb, { body: lbBody(['spare']) })
    expect(drop.status).toBe(400)
    expect(drop.body.error).toEqual({
      code: 'LoadBalancerInUseByVirtualMachineScaleSet',
      target: 'properties.backendAddressPools',
      message: `Cannot remove backend address pool web from load balancer since it is in use by virtual machine scale set ${p.set('members')}.`,
    })
    // Removing the pool nobody joins is fine.
    const kept = await h.call('PUT', p.lb, { body: lbBody(['web']) })
    expect(kept.status, JSON.stringify(kept.body)).toBe(200)
    expect(kept.body.properties.backendAddressPools.map((x: any) => x.name)).toEqual(['web'])

    const del = await h.call('DELETE', p.lb)
    expect(del.status).toBe(400)
    expect(del.body.error).toMatchObject({
      code: 'LoadBalancerInUseByVirtualMachineScaleSet',
      message: `Cannot delete load balancer ${p.lb} since its child resources web are in use by virtual machine scale set ${p.set('members')}.`,
    })
    const still = (await h.call('GET', p.lb)).body
    expect(still.properties.backendAddressPools[0].properties.backendIPConfigurations).toHaveLength(
      3,
    )
    expect(before.etag).not.toBe(still.etag) // the 'spare' removal above wrote; the refusals did not

    // Once the set is gone, the pool is free and the load balancer can go.
    const gone = await h.call('DELETE', p.set('members'))
    expect([200, 202]).toContain(gone.status)
    await waitFor(async () => (await h.call('GET', p.set('members'))).status === 404, 'set deleted')
    const empty = (await h.call('GET', p.lb)).body.properties.backendAddressPools[0]
    expect(empty.properties.backendIPConfigurations).toBeUndefined()
    expect((await h.call('DELETE', p.lb)).status).toBe(200)
  })
})
