/**
 * Read-back equals write (issue 18 §4): declarative tools (Terraform, Ansible, Pulumi) PUT a
 * resource, GET it, diff it against what they wrote and PUT again. For each resource type osroll
 * serves, a full, realistic body is PUT, the GET must contain all of it (plus only Azure's
 * read-only members), and PUTting the GET back unchanged must change nothing: 200, the same etag,
 * no new revision or model generation, no rollout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import { armPaths, UBUNTU_LATEST } from '../../test-support/arm-fixtures.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let p: ReturnType<typeof armPaths>

beforeAll(async () => {
  h = await apiHarness()
  p = armPaths(h.sub)
  const image = await h.call('PUT', p.image('1.0.0'), { body: platformImageBody() })
  expect(image.status, JSON.stringify(image.body)).toBe(201)
})
afterAll(() => h.close())

/**
 * The members of `sent` that `got` lacks or answers differently, as paths (empty: `got` holds
 * all of `sent`). Objects compare member by member, arrays item by item and of the same length.
 */
function missing(got: unknown, sent: unknown, path = ''): string[] {
  if (Array.isArray(sent)) {
    if (!Array.isArray(got) || got.length !== sent.length) return [`${path} (array)`]
    return sent.flatMap((s, i) => missing(got[i], s, `${path}[${i}]`))
  }
  if (typeof sent === 'object' && sent !== null) {
    if (typeof got !== 'object' || got === null) return [`${path} (object)`]
    return Object.entries(sent).flatMap(([k, v]) =>
      missing((got as Record<string, unknown>)[k], v, path ? `${path}.${k}` : k),
    )
  }
  return got === sent ? [] : [`${path}: ${JSON.stringify(got)} ≠ ${JSON.stringify(sent)}`]
}

function platformImageBody(): Record<string, unknown> {
  return {
    location: 'westus',
    properties: {
      source: { uri: 'sim:?boot=0' },
      osDiskImage: { operatingSystem: 'Linux' },
      automaticOSUpgradeProperties: { automaticOSUpgradeSupported: true },
    },
  }
}

function lbBody(lb = p.lb): Record<string, unknown> {
  return {
    location: 'westus',
    tags: { team: 'web' },
    sku: { name: 'Standard', tier: 'Regional' },
    properties: {
      frontendIPConfigurations: [
        { name: 'fe', properties: { privateIPAllocationMethod: 'Dynamic' } },
      ],
      backendAddressPools: [{ name: 'pool' }],
      probes: [
        {
          name: 'http',
          properties: {
            protocol: 'Http',
            port: 80,
            requestPath: '/health',
            intervalInSeconds: 5,
            numberOfProbes: 2,
            probeThreshold: 1,
          },
        },
      ],
      loadBalancingRules: [
        {
          name: 'web',
          properties: {
            frontendIPConfiguration: { id: `${lb}/frontendIPConfigurations/fe` },
            backendAddressPool: { id: `${lb}/backendAddressPools/pool` },
            probe: { id: `${lb}/probes/http` },
            protocol: 'Tcp',
            frontendPort: 80,
            backendPort: 80,
            idleTimeoutInMinutes: 4,
            enableFloatingIP: false,
          },
        },
      ],
    },
  }
}

/** A scale set as a declarative tool writes it: every profile, Azure's shapes. */
function setBody(o: { health: 'probe' | 'extension' }): Record<string, unknown> {
  const extension = {
    name: 'health',
    properties: {
      publisher: 'Microsoft.ManagedServices',
      type: 'ApplicationHealthLinux',
      typeHandlerVersion: '1.0',
      autoUpgradeMinorVersion: true,
      settings: { protocol: 'http', port: 80, requestPath: '/health' },
    },
  }
  const script = {
    name: 'setup',
    properties: {
      publisher: 'Microsoft.Azure.Extensions',
      type: 'CustomScript',
      typeHandlerVersion: '2.1',
      autoUpgradeMinorVersion: true,
      settings: { commandToExecute: 'true' },
      protectedSettings: { storageAccountKey: 'k3y' },
    },
  }
  return {
    location: 'westus',
    tags: { team: 'web' },
    sku: { name: 'Standard_D2s_v3', tier: 'Standard', capacity: 2 },
    properties: {
      orchestrationMode: 'Uniform',
      singlePlacementGroup: true,
      overprovision: false,
      platformFaultDomainCount: 5,
      upgradePolicy: {
        mode: 'Rolling',
        rollingUpgradePolicy: {
          maxBatchInstancePercent: 50,
          maxUnhealthyInstancePercent: 50,
          maxUnhealthyUpgradedInstancePercent: 50,
          pauseTimeBetweenBatches: 'PT0S',
          prioritizeUnhealthyInstances: true,
        },
        automaticOSUpgradePolicy: {
          enableAutomaticOSUpgrade: true,
          disableAutomaticRollback: false,
          useRollingUpgradePolicy: true,
        },
      },
      virtualMachineProfile: {
        osProfile: {
          computerNamePrefix: 'web',
          adminUsername: 'azureuser',
          adminPassword: 'S3cret-pass!',
          linuxConfiguration: { disablePasswordAuthentication: false },
        },
        storageProfile: {
          imageReference: { ...UBUNTU_LATEST },
          osDisk: {
            createOption: 'FromImage',
            caching: 'ReadWrite',
            managedDisk: { storageAccountType: 'Premium_LRS' },
            diskSizeGB: 30,
          },
          dataDisks: [
            {
              lun: 0,
              createOption: 'Empty',
              diskSizeGB: 1,
              caching: 'None',
              managedDisk: { storageAccountType: 'Standard_LRS' },
            },
          ],
        },
        networkProfile: {
          ...(o.health === 'probe' ? { healthProbe: { id: p.probe('http') } } : {}),
          networkInterfaceConfigurations: [
            {
              name: 'nic',
              properties: {
                primary: true,
                enableAcceleratedNetworking: false,
                ipConfigurations: [
                  {
                    name: 'ipconfig',
                    properties: {
                      primary: true,
                      loadBalancerBackendAddressPools: [{ id: `${p.lb}/backendAddressPools/pool` }],
                    },
                  },
                ],
              },
            },
          ],
        },
        extensionProfile: {
          extensions: o.health === 'extension' ? [extension, script] : [script],
        },
      },
    },
  }
}

type Snapshot = { etag: string; revision: number; generation: number; rollout: number }

async function snapshot(name: string): Promise<Snapshot> {
  const set = await h.call('GET', p.set(name))
  const state = await h.sys.deps.store.getScaleSet(set.body.id.toLowerCase())
  const latest = await h.call('GET', p.set(name) + '/rollingUpgrades/latest')
  const history = await h.call('GET', p.set(name) + '/osUpgradeHistory')
  return {
    etag: set.body.etag,
    revision: state!.revision,
    generation: state!.spec.modelGeneration,
    rollout: (latest.status === 200 ? 1 : 0) + history.body.value.length,
  }
}

describe('a scale set reads back as written', () => {
  it.each(['probe', 'extension'] as const)(
    'health from the %s: GET holds the PUT; the GET PUT back changes nothing',
    async (health) => {
      if (health === 'probe') {
        const lb = await h.call('PUT', p.lb, { body: lbBody() })
        expect(lb.status, JSON.stringify(lb.body)).toBe(201)
      }
      const name = `set-${health}`
      const sent = setBody({ health })
      const put = await h.call('PUT', p.set(name), { body: sent })
      expect(put.status, JSON.stringify(put.body)).toBe(201)
      await waitFor(
        async () =>
          (await h.call('GET', p.set(name))).body.properties.provisioningState === 'Succeeded',
        'the set provisioned',
      )
      const got = (await h.call('GET', p.set(name))).body
      // Everything sent but the write-only secrets, which a GET never shows.
      const readable = structuredClone(sent) as any
      delete readable.properties.virtualMachineProfile.osProfile.adminPassword
      for (const e of readable.properties.virtualMachineProfile.extensionProfile.extensions)
        delete e.properties.protectedSettings
      expect(missing(got, readable)).toEqual([])
      expect(got).toMatchObject({
        id: p.set(name),
        name,
        type: 'Microsoft.Compute/virtualMachineScaleSets',
        etag: expect.any(String),
        properties: {
          provisioningState: 'Succeeded',
          uniqueId: expect.any(String),
          timeCreated: expect.any(String),
        },
      })
      // Azure shows exactVersion on instances, not on the set's model.
      const ref = got.properties.virtualMachineProfile.storageProfile.imageReference
      expect(ref.exactVersion).toBeUndefined()
      const vm = (await h.call('GET', p.set(name) + '/virtualMachines/0')).body
      expect(vm.properties.storageProfile.imageReference.exactVersion).toBe('1.0.0')

      // The orchestrator records what it observed (a revision of its own); wait until it has.
      await waitFor(async () => {
        const o = (await h.sys.deps.store.getScaleSet(got.id.toLowerCase()))?.observed
        return o?.settled && o.instanceCount === 2 && o.exactVersion === '1.0.0'
      }, 'the orchestrator observed the set')
      const before = await snapshot(name)
      const again = await h.call('PUT', p.set(name), { body: got })
      expect(again.status, JSON.stringify(again.body)).toBe(200)
      expect(again.body.etag).toBe(before.etag)
      expect(again.headers['etag']).toBe(before.etag)
      expect(await snapshot(name)).toEqual(before)
      const after = (await h.call('GET', p.set(name))).body
      expect(after).toEqual(got)
      // The secrets the GET hid are still stored and in use.
      const stored = await h.sys.deps.store.getResource(p.set(name))
      const vmp = (stored!.body as any).properties.virtualMachineProfile
      expect(vmp.osProfile.adminPassword).toBe('S3cret-pass!')
      const setup = vmp.extensionProfile.extensions.find((e: any) => e.name === 'setup')
      expect(setup.properties.protectedSettings).toEqual({ storageAccountKey: 'k3y' })
    },
  )

  it('answers the defaults Azure fills in for a minimal body', async () => {
    const put = await h.call('PUT', p.set('minimal'), {
      body: {
        location: 'westus',
        sku: { capacity: 1 },
        properties: {
          virtualMachineProfile: {
            storageProfile: { imageReference: { ...UBUNTU_LATEST } },
          },
        },
      },
    })
    expect(put.status, JSON.stringify(put.body)).toBe(201)
    expect(put.body).toMatchObject({
      sku: { tier: 'Standard', capacity: 1 },
      properties: {
        orchestrationMode: 'Uniform',
        upgradePolicy: { mode: 'Manual' },
        singlePlacementGroup: true,
        overprovision: true,
        doNotRunExtensionsOnOverprovisionedVMs: false,
        platformFaultDomainCount: 5,
        uniqueId: expect.any(String),
        timeCreated: expect.any(String),
      },
    })
    const got = (await h.call('GET', p.set('minimal'))).body
    const again = await h.call('PUT', p.set('minimal'), { body: got })
    expect(again.status).toBe(200)
    expect(again.body.etag).toBe(got.etag)
  })

  it('a real change after a read-back still writes: new etag, new generation', async () => {
    const got = (await h.call('GET', p.set('set-probe'))).body
    const before = await snapshot('set-probe')
    got.properties.virtualMachineProfile.osProfile.computerNamePrefix = 'www'
    const put = await h.call('PUT', p.set('set-probe'), { body: got })
    expect(put.status).toBe(200)
    expect(put.body.etag).not.toBe(before.etag)
    const after = await snapshot('set-probe')
    expect(after.generation).toBe(before.generation + 1)
  })
})

describe('a load balancer reads back as written', () => {
  const lbPath = () => p.lb.replace(/\/lb$/, '/lb2')

  it('children get ids, types, etags and back-references; the GET PUT back keeps the etag', async () => {
    const id = lbPath()
    const sent = lbBody(id)
    const put = await h.call('PUT', id, { body: sent })
    expect(put.status, JSON.stringify(put.body)).toBe(201)
    const got = (await h.call('GET', id)).body
    expect(missing(got, sent)).toEqual([])
    const etag = got.etag
    expect(got).toMatchObject({
      id,
      name: 'lb2',
      type: 'Microsoft.Network/loadBalancers',
      properties: { provisioningState: 'Succeeded', resourceGuid: expect.any(String) },
    })
    const rule = `${id}/loadBalancingRules/web`
    const child = (kind: string, name: string, extra: object = {}) => ({
      id: `${id}/${kind}/${name}`,
      name,
      etag,
      type: `Microsoft.Network/loadBalancers/${kind}`,
      properties: { provisioningState: 'Succeeded', ...extra },
    })
    expect(got.properties.frontendIPConfigurations[0]).toMatchObject(
      child('frontendIPConfigurations', 'fe', { loadBalancingRules: [{ id: rule }] }),
    )
    expect(got.properties.backendAddressPools[0]).toMatchObject(
      child('backendAddressPools', 'pool', { loadBalancingRules: [{ id: rule }] }),
    )
    expect(got.properties.probes[0]).toMatchObject(
      child('probes', 'http', { loadBalancingRules: [{ id: rule }] }),
    )
    expect(got.properties.loadBalancingRules[0]).toMatchObject(
      child('loadBalancingRules', 'web', {
        backendAddressPools: [{ id: `${id}/backendAddressPools/pool` }],
        loadDistribution: 'Default',
      }),
    )
    expect(got.properties).toMatchObject({ inboundNatRules: [], inboundNatPools: [] })
    const probe = await h.call('GET', `${id}/probes/http`)
    expect(probe.body).toEqual(got.properties.probes[0])

    const again = await h.call('PUT', id, { body: got })
    expect(again.status, JSON.stringify(again.body)).toBe(200)
    expect(again.body).toEqual(got)
    expect((await h.call('GET', id)).body.etag).toBe(etag)
  })

  it.each([
    ['probe', 'probes/gone'],
    ['frontendIPConfiguration', 'frontendIPConfigurations/gone'],
    ['backendAddressPool', 'backendAddressPools/gone'],
    ['probe', 'backendAddressPools/pool'], // a child of another kind
  ])('a rule whose %s names no child (%s) is InvalidResourceReference', async (member, child) => {
    const lb3 = p.lb.replace(/\/lb$/, '/lb3')
    const body = lbBody(lb3) as any
    const ref = `${lb3}/${child}`
    body.properties.loadBalancingRules[0].properties[member] = { id: ref }
    const put = await h.call('PUT', lb3, { body })
    expect(put.status).toBe(400)
    expect(put.body.error.code).toBe('InvalidResourceReference')
    expect(put.body.error.message).toBe(
      `Resource ${ref} referenced by resource ${lb3}/loadBalancingRules/web was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
    )
    expect((await h.call('GET', lb3)).status).toBe(404)
  })

  it('a reference without an id ({}) is refused as Azure parses it', async () => {
    const lb3 = p.lb.replace(/\/lb$/, '/lb3')
    const body = lbBody(lb3) as any
    body.properties.loadBalancingRules[0].properties.probe = {}
    const put = await h.call('PUT', lb3, { body })
    expect(put.status).toBe(400)
    expect(put.body.error).toMatchObject({
      code: 'InvalidRequestFormat',
      details: [{ code: 'MissingJsonReferenceId' }],
    })
  })
})

describe("a scale set's backend pool reference must resolve", () => {
  const poolsAt = (body: any) =>
    body.properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations[0]
      .properties.ipConfigurations[0].properties
  const path =
    'properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations[0].properties.ipConfigurations[0].properties.loadBalancerBackendAddressPools[0]'

  it.each([
    ['a missing pool', () => `${p.lb}/backendAddressPools/gone`],
    ['a missing load balancer', () => `${p.lb.replace(/\/lb$/, '/nolb')}/backendAddressPools/pool`],
  ])('%s is 400 InvalidResourceReference, with Azure message', async (_what, idOf) => {
    await h.call('PUT', p.lb, { body: lbBody() })
    const body = setBody({ health: 'extension' }) as any
    const id = idOf()
    poolsAt(body).loadBalancerBackendAddressPools = [{ id }]
    const put = await h.call('PUT', p.set('pools'), { body })
    expect(put.status).toBe(400)
    expect(put.body.error).toMatchObject({
      code: 'InvalidResourceReference',
      target: `${path}.id`,
      message: `Resource ${id} referenced by resource ${p.set('pools')} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
    })
    expect((await h.call('GET', p.set('pools'))).status).toBe(404)
  })

  it('a pool of a load balancer in another region is not found either', async () => {
    const east = p.lb.replace(/\/lb$/, '/east')
    expect(
      (await h.call('PUT', east, { body: { ...lbBody(east), location: 'eastus' } })).status,
    ).toBe(201)
    const body = setBody({ health: 'extension' }) as any
    poolsAt(body).loadBalancerBackendAddressPools = [{ id: `${east}/backendAddressPools/pool` }]
    const put = await h.call('PUT', p.set('pools'), { body })
    expect(put.status).toBe(400)
    expect(put.body.error.code).toBe('InvalidResourceReference')
  })

  it('an empty reference ({}) is refused, as is an id of another type', async () => {
    const body = setBody({ health: 'extension' }) as any
    poolsAt(body).loadBalancerBackendAddressPools = [{}]
    const empty = await h.call('PUT', p.set('pools'), { body })
    expect(empty.status).toBe(400)
    expect(empty.body.error).toMatchObject({
      code: 'InvalidRequestFormat',
      message: 'Cannot parse the request.',
      details: [
        {
          code: 'MissingJsonReferenceId',
          message: `Value for reference id is missing. Path ${path}.`,
        },
      ],
    })
    poolsAt(body).loadBalancerBackendAddressPools = [{ id: p.probe('http') }]
    const wrong = await h.call('PUT', p.set('pools'), { body })
    expect(wrong.status).toBe(400)
    expect(wrong.body.error).toMatchObject({
      code: 'InvalidRequestFormat',
      details: [{ code: 'InvalidJsonReferenceWrongType' }],
    })
    expect((await h.call('GET', p.set('pools'))).status).toBe(404)
  })
})

describe('images read back as written', () => {
  const gallery = () =>
    `/subscriptions/${h.sub}/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal`
  const bodies = () =>
    [
      [
        gallery(),
        { location: 'westus', tags: { team: 'img' }, properties: { description: 'ours' } },
      ],
      [
        `${gallery()}/images/web`,
        {
          location: 'westus',
          properties: {
            osType: 'Linux',
            osState: 'Generalized',
            hyperVGeneration: 'V2',
            identifier: { publisher: 'Contoso', offer: 'Web', sku: 'v1' },
          },
        },
      ],
      [
        `${gallery()}/images/web/versions/1.0.0`,
        {
          location: 'westus',
          properties: {
            publishingProfile: {
              targetRegions: [
                { name: 'westus', regionalReplicaCount: 1, excludeFromLatest: false },
              ],
              excludeFromLatest: false,
            },
            storageProfile: { osDiskImage: { source: { uri: 'sim:?boot=0' } } },
          },
        },
      ],
    ] as const

  it('gallery, image definition, image version: the GET PUT back is 200 and writes nothing', async () => {
    for (const [path, sent] of bodies()) {
      const put = await h.call('PUT', path, { body: sent })
      expect(put.status, `${path}: ${JSON.stringify(put.body)}`).toBe(201)
      const got = (await h.call('GET', path)).body
      expect(missing(got, sent), path).toEqual([])
      expect(got).toMatchObject({ id: path, properties: { provisioningState: 'Succeeded' } })
      const stored = await h.sys.deps.store.getResource(path)
      const again = await h.call('PUT', path, { body: got })
      expect(again.status, path).toBe(200)
      expect(again.body, path).toEqual(got)
      expect(await h.sys.deps.store.getResource(path), path).toEqual(stored)
    }
  })

  it('a platform image version: the GET PUT back is 200 and changes nothing', async () => {
    const got = (await h.call('GET', p.image('1.0.0'))).body
    expect(missing(got, platformImageBody())).toEqual([])
    const again = await h.call('PUT', p.image('1.0.0'), { body: got })
    expect(again.status, JSON.stringify(again.body)).toBe(200)
    expect(again.body).toEqual(got)
  })
})
