/**
 * What the fleet runs, in one read (docs/api.md § Fleet versions): per scale set of the
 * subscription, the instances per image version and the quarantined versions; with
 * `$expand=instances` each instance's version. It follows a rollout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../test-support/api-harness.js'
import { armPaths, autoUpgradeSetBody, imageBody } from '../../test-support/arm-fixtures.js'
import { servedSimFleet } from '../../test-support/served-fleet.js'
import type { ServedFleet } from '../../test-support/served-fleet.js'

let f: ServedFleet
let p: ReturnType<typeof armPaths>
let fleet: string

beforeAll(async () => {
  f = await servedSimFleet({ capacity: 3 })
  p = armPaths(f.h.sub)
  fleet = `/subscriptions/${f.h.sub}/providers/Osroll.Upgrades/fleetVersions`
  const api = await f.call(
    'PUT',
    p.set('api'),
    autoUpgradeSetBody({ sub: f.h.sub, capacity: 2, probe: 'tcp' }),
  )
  expect(api.status, JSON.stringify(api.body)).toBe(201)
})
afterAll(() => f.close())

async function counts(): Promise<Record<string, Record<string, number>>> {
  const r = await f.call('GET', fleet)
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  return Object.fromEntries(
    r.body.value.map((x: any) => [x.properties.scaleSet.name, x.properties.versions]),
  )
}

describe('fleetVersions', () => {
  it('lists every set with its instances per version, ordered by id; $expand=instances adds each instance', async () => {
    await waitFor(async () => (await counts())['api']?.['1.0.0'] === 2, 'the api set created')
    const r = await f.call('GET', fleet)
    expect(r.body.value.map((x: any) => x.properties.scaleSet.name)).toEqual(['api', 'web'])
    expect(r.body.value[1]).toEqual({
      id: `${p.set('web')}/providers/Osroll.Upgrades/fleetVersions/default`,
      name: 'default',
      type: 'Osroll.Upgrades/fleetVersions',
      properties: {
        scaleSet: { id: p.set('web'), name: 'web', resourceGroup: 'rg', location: 'westus' },
        instanceCount: 3,
        versions: { '1.0.0': 3 },
        quarantinedVersions: [],
      },
    })
    const expanded = await f.call('GET', `${fleet}?$expand=instances`)
    const web = expanded.body.value[1].properties
    const vms = (await f.call('GET', `${p.set('web')}/virtualMachines`)).body.value
    expect(web.instanceVersions).toEqual(
      Object.fromEntries(vms.map((v: any) => [v.instanceId, '1.0.0'])),
    )
  })

  it('follows a rollout: the counts move to the new version', { timeout: 60_000 }, async () => {
    expect((await f.call('PUT', p.image('1.1.0'), imageBody('sim:?boot=0'))).status).toBe(201)
    await waitFor(
      async () => {
        const c = await counts()
        return c['web']?.['1.1.0'] === 3 && c['api']?.['1.1.0'] === 2 && c
      },
      'both sets on 1.1.0',
      45_000,
    )
    expect(await counts()).toEqual({ api: { '1.1.0': 2 }, web: { '1.1.0': 3 } })
  })

  it('refuses an unknown $expand; another subscription holds no set', async () => {
    const bad = await f.call('GET', `${fleet}?$expand=everything`)
    expect([bad.status, bad.body.error.code, bad.body.error.target]).toEqual([
      400,
      'InvalidParameter',
      '$expand',
    ])
    // The admin token is an Operator, which creates a subscription by using it (docs/api.md § Roles and scopes).
    const other = await f.call(
      'GET',
      '/subscriptions/00000000-0000-0000-0000-00000000abcd/providers/Osroll.Upgrades/fleetVersions',
    )
    expect([other.status, other.body]).toEqual([200, { value: [] }])
  })
})
