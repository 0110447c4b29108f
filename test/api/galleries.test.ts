/**
 * Galleries (SPEC §2.3): asynchronous per-region replication that is observable and delayed,
 * eligibility only once replicated and not excluded from latest (version or region level),
 * automatic rollouts that start when replication completes, immutable sources.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import type { Call } from '../../test-support/api-harness.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
let sub: string
const gal = () =>
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal`
const def = () => `${gal()}/images/web`
const ver = (v: string) => `${def()}/versions/${v}`
const setPath = (rest = '') =>
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/gset${rest}`
const version = (uri: string, o: { regions?: unknown[]; exclude?: boolean } = {}) => ({
  location: 'westus',
  properties: {
    publishingProfile: {
      targetRegions: o.regions ?? [{ name: 'westus' }, { name: 'East US' }],
      ...(o.exclude !== undefined ? { excludeFromLatest: o.exclude } : {}),
    },
    storageProfile: { osDiskImage: { source: { uri } } },
  },
})
/** Waits until a version's replication to all its regions is complete. */
const replicated = (v: string) =>
  waitFor(
    async () =>
      (await call('GET', `${ver(v)}?$expand=ReplicationStatus`)).body.properties.replicationStatus
        .aggregatedState === 'Completed',
    `replication of ${v}`,
  )
const history = async () => (await call('GET', setPath('/osUpgradeHistory'))).body.value as any[]

beforeAll(async () => {
  h = await apiHarness({ replicationDelay: 'PT0.3S' })
  call = h.call
  sub = h.sub
})
afterAll(() => h.close())

describe('galleries', () => {
  it('creates a gallery, a definition and a version whose replication is observable', async () => {
    expect((await call('PUT', gal(), { body: { location: 'westus' } })).status).toBe(201)
    expect(
      (
        await call('PUT', def(), {
          body: { location: 'westus', properties: { osType: 'Windows' } },
        })
      ).status,
    ).toBe(400)
    expect(
      (
        await call('PUT', def(), {
          body: {
            location: 'westus',
            properties: {
              osType: 'Linux',
              identifier: { publisher: 'me', offer: 'web', sku: '1' },
            },
          },
        })
      ).status,
    ).toBe(201)
    expect((await call('PUT', ver('1.0.0'), { body: version('sim:?boot=0') })).status).toBe(201)
    const early = await call('GET', `${ver('1.0.0')}?$expand=ReplicationStatus`)
    expect(early.body.properties.replicationStatus.aggregatedState).toBe('InProgress')
    expect(
      early.body.properties.replicationStatus.summary.map((s: any) => [s.region, s.state]),
    ).toEqual([
      ['westus', 'Replicating'],
      ['eastus', 'Replicating'],
    ])
    const done = await waitFor(async () => {
      const r = await call('GET', `${ver('1.0.0')}?$expand=ReplicationStatus`)
      return r.body.properties.replicationStatus.aggregatedState === 'Completed' && r.body
    }, 'replication')
    expect(done.properties.replicationStatus.summary.every((s: any) => s.progress === 100)).toBe(
      true,
    )
    expect((await call('GET', `${def()}/versions`)).body.value.map((v: any) => v.name)).toEqual([
      '1.0.0',
    ])
  })

  it('a scale set on the definition (latest) rolls out new versions only once they replicate', async () => {
    const body = {
      location: 'westus',
      sku: { capacity: 2 },
      properties: {
        upgradePolicy: {
          mode: 'Automatic',
          automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: true },
        },
        virtualMachineProfile: {
          storageProfile: { imageReference: { id: def() } },
          extensionProfile: {
            extensions: [
              {
                name: 'health',
                properties: {
                  publisher: 'Microsoft.ManagedServices',
                  type: 'ApplicationHealthLinux',
                  typeHandlerVersion: '2.0',
                  settings: { port: 80 },
                },
              },
            ],
          },
        },
      },
    }
    expect((await call('PUT', setPath(), { body })).status).toBe(201)
    await waitFor(
      async () => (await call('GET', setPath())).body.properties.provisioningState === 'Succeeded',
      'set',
    )
    const started = Date.now()
    await call('PUT', ver('2.0.0'), { body: version('sim:?boot=0') })
    const entries = await waitFor(async () => {
      const v = await history()
      return v[0]?.properties.runningStatus.code === 'Completed' && v
    }, 'gallery rollout')
    expect(Date.now() - started).toBeGreaterThanOrEqual(250) // not before replication completed
    expect(entries[0].properties.targetImageReference.id.toLowerCase()).toBe(
      ver('2.0.0').toLowerCase(),
    )
  })

  it('excludeFromLatest (version level) keeps a version out until it is cleared', async () => {
    await call('PUT', ver('3.0.0'), { body: version('sim:?boot=0', { exclude: true }) })
    await replicated('3.0.0')
    await h.settle() // reconciled with 3.0.0 replicated: no rollout
    expect(await history()).toHaveLength(1)
    expect(
      (
        await call('PATCH', ver('3.0.0'), {
          body: { properties: { publishingProfile: { excludeFromLatest: false } } },
        })
      ).status,
    ).toBe(200)
    const entries = await waitFor(async () => {
      const v = await history()
      return v.length === 2 && v[0].properties.runningStatus.code === 'Completed' && v
    }, 'rollout to 3.0.0')
    expect(entries[0].properties.targetImageReference.id).toMatch(/3\.0\.0$/)
  })

  it('excludeFromLatest for a region, or a region not targeted, is not eligible there', async () => {
    await call('PUT', ver('4.0.0'), {
      body: version('sim:?boot=0', {
        regions: [{ name: 'westus', excludeFromLatest: true }, { name: 'eastus' }],
      }),
    })
    await call('PUT', ver('5.0.0'), {
      body: version('sim:?boot=0', { regions: [{ name: 'eastus' }] }),
    })
    await replicated('4.0.0')
    await replicated('5.0.0')
    await h.settle() // reconciled with both replicated: neither is eligible in westus
    expect(await history()).toHaveLength(2)
    // Asked for by name, a version not replicated to the set's region is refused too.
    const start = await call('POST', setPath('/providers/Osroll.Upgrades/rollouts/start'), {
      body: { version: '5.0.0' },
    })
    expect([start.status, start.body.error?.code]).toEqual([409, 'OperationNotAllowed'])
    expect(start.body.error.message).toMatch(
      /'5.0.0' is not replicated to westus, the scale set's location: its target regions are eastus/,
    )
    expect(await history()).toHaveLength(2)
    const vms = await call('GET', setPath('/virtualMachines'))
    expect(
      vms.body.value.every(
        (v: any) => v.properties.storageProfile.imageReference.exactVersion === '3.0.0',
      ),
    ).toBe(true)
  })

  it('sources are immutable; a gallery with images cannot be deleted; a missing image is GalleryImageNotFound', async () => {
    expect(
      (await call('PUT', ver('3.0.0'), { body: version('sim:?boot=9') })).body.error.code,
    ).toBe('Conflict')
    expect((await call('DELETE', gal())).status).toBe(409)
    const body = {
      location: 'westus',
      sku: { capacity: 1 },
      properties: {
        virtualMachineProfile: {
          storageProfile: { imageReference: { id: `${gal()}/images/nope` } },
        },
      },
    }
    const r = await call(
      'PUT',
      `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/x`,
      { body },
    )
    expect(r).toMatchObject({ status: 404, body: { error: { code: 'GalleryImageNotFound' } } })
  })

  it('a managed image id is refused with a message naming what is supported: platform and gallery images', async () => {
    const managed = `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/images/golden`
    const r = await call(
      'PUT',
      `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/managed`,
      {
        body: {
          location: 'westus',
          sku: { capacity: 1 },
          properties: {
            virtualMachineProfile: { storageProfile: { imageReference: { id: managed } } },
          },
        },
      },
    )
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('InvalidParameter')
    const message = r.body.error.message as string
    expect(message).toContain(managed)
    expect(message).toMatch(/platform images .* and Azure Compute Gallery images/)
    expect(message).toContain('/providers/Microsoft.Compute/galleries/{gallery}/images/{image}')
    expect(message).not.toMatch(/later/)
  })
})
