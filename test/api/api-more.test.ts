/**
 * More of the API in process: manualupgrade, deferral approval, extensionRollingUpgrade,
 * networkInterfaces, Service Fabric clusters and the AD FS-shaped identity endpoints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import type { Call } from '../../test-support/api-harness.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
let sub: string
const setPath = (name: string, rest = '') =>
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/${name}${rest}`
const img = (v: string) =>
  `/subscriptions/${sub}/providers/Microsoft.Compute/locations/westus/publishers/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions/${v}`
const healthExt = {
  name: 'health',
  properties: {
    publisher: 'Microsoft.ManagedServices',
    type: 'ApplicationHealthLinux',
    typeHandlerVersion: '2.0',
    settings: { protocol: 'http', port: 80, requestPath: '/health' },
  },
}
const model = (
  o: {
    mode?: string
    deferral?: boolean
    capacity?: number
    auto?: boolean
    extensions?: unknown[]
  } = {},
) => ({
  location: 'westus',
  sku: { capacity: o.capacity ?? 3 },
  properties: {
    upgradePolicy: {
      mode: o.mode ?? 'Manual',
      automaticOSUpgradePolicy: {
        enableAutomaticOSUpgrade: o.auto ?? false,
        osRollingUpgradeDeferral: o.deferral ?? false,
      },
    },
    virtualMachineProfile: {
      storageProfile: {
        imageReference: {
          publisher: 'Canonical',
          offer: 'UbuntuServer',
          sku: '18.04-LTS',
          version: 'latest',
        },
      },
      extensionProfile: { extensions: o.extensions ?? [healthExt] },
    },
  },
})
const ready = (name: string) =>
  waitFor(
    async () =>
      (await call('GET', setPath(name))).body.properties?.provisioningState === 'Succeeded',
    `set ${name}`,
  )
const opDone = async (r: { headers: Record<string, unknown> }) => {
  const op = String(r.headers['azure-asyncoperation']).replace(/^http:\/\/[^/]+/, '')
  return waitFor(async () => {
    const s = await call('GET', op, { apiVersion: null })
    return s.body.status !== 'InProgress' && s.body
  }, 'operation')
}

beforeAll(async () => {
  h = await apiHarness()
  call = h.call
  sub = h.sub
  await call('PUT', img('1.0.0'), {
    body: { location: 'westus', properties: { source: { uri: 'sim:?boot=0' } } },
  })
})
afterAll(() => h.close())

describe('model rollouts and actions', () => {
  it('manualupgrade applies the latest model to the named instances only', async () => {
    await call('PUT', setPath('man'), { body: model() })
    await ready('man')
    const changed = model()
    ;(changed.properties.virtualMachineProfile as Record<string, unknown>)['osProfile'] = {
      customData: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'),
    }
    expect((await call('PUT', setPath('man'), { body: changed })).status).toBe(200)
    const before = await call('GET', setPath('man', '/virtualMachines'))
    expect(before.body.value.map((v: any) => v.properties.latestModelApplied)).toEqual([
      false,
      false,
      false,
    ])
    expect(
      (await call('POST', setPath('man', '/manualupgrade'), { body: {} })).body.error.target,
    ).toBe('instanceIds')
    expect(
      (await call('POST', setPath('man', '/manualupgrade'), { body: { instanceIds: ['7'] } }))
        .status,
    ).toBe(400)
    const r = await call('POST', setPath('man', '/manualupgrade'), {
      body: { instanceIds: ['0', '2'] },
    })
    expect(r.status).toBe(202)
    expect((await opDone(r)).status).toBe('Succeeded')
    const after = await call('GET', setPath('man', '/virtualMachines'))
    expect(after.body.value.map((v: any) => v.properties.latestModelApplied)).toEqual([
      true,
      false,
      true,
    ])
  })

  it('properties.vmId is a GUID per instance, stable across reads and a reimage', async () => {
    const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
    await call('PUT', setPath('vmid'), { body: model({ capacity: 2 }) })
    await ready('vmid')
    const ids = async () =>
      ((await call('GET', setPath('vmid', '/virtualMachines'))).body.value as any[]).map(
        (v) => v.properties.vmId as string,
      )
    const first = await ids()
    expect(first).toHaveLength(2)
    for (const id of first) expect(id).toMatch(GUID)
    expect(new Set(first).size).toBe(2)
    expect(await ids()).toEqual(first)
    expect((await call('GET', setPath('vmid', '/virtualMachines/0'))).body.properties.vmId).toBe(
      first[0],
    )
    // A reimage onto a new model (manualupgrade) keeps each instance's vmId.
    const changed = model({ capacity: 2 })
    ;(changed.properties.virtualMachineProfile as Record<string, unknown>)['osProfile'] = {
      customData: Buffer.from('#!/bin/sh\necho vmid\n').toString('base64'),
    }
    await call('PUT', setPath('vmid'), { body: changed })
    const r = await call('POST', setPath('vmid', '/manualupgrade'), {
      body: { instanceIds: ['0', '1'] },
    })
    expect((await opDone(r)).status).toBe('Succeeded')
    const after = (await call('GET', setPath('vmid', '/virtualMachines'))).body.value as any[]
    expect(after.every((v) => v.properties.latestModelApplied)).toBe(true)
    expect(after.map((v) => v.properties.vmId)).toEqual(first)
    // Another set's instance 0 has another vmId.
    const other = (await call('GET', setPath('man', '/virtualMachines/0'))).body.properties.vmId
    expect(other).toMatch(GUID)
    expect(first).not.toContain(other)
  })

  it('extensionRollingUpgrade re-provisions every instance in batches', async () => {
    const r = await call('POST', setPath('man', '/extensionRollingUpgrade'))
    expect(r.status).toBe(202)
    expect((await opDone(r)).status).toBe('Succeeded')
    const latest = await call('GET', setPath('man', '/rollingUpgrades/latest'))
    expect(latest.body.properties.progress.successfulInstanceCount).toBe(3)
    const vms = await call('GET', setPath('man', '/virtualMachines'))
    expect(vms.body.value.every((v: any) => v.properties.latestModelApplied)).toBe(true)
    await call('PUT', setPath('noext'), { body: model({ extensions: [] }) })
    expect((await call('POST', setPath('noext', '/extensionRollingUpgrade'))).status).toBe(409)
  })

  it('deferral: candidates are tagged Platform.PendingOSUpgrade until approved', async () => {
    await call('PUT', setPath('def'), { body: model({ auto: true, deferral: true, capacity: 2 }) })
    await ready('def')
    await call('PUT', img('1.1.0'), {
      body: { location: 'westus', properties: { source: { uri: 'sim:?boot=0' } } },
    })
    const tagged = await waitFor(async () => {
      const v = (await call('GET', setPath('def', '/virtualMachines'))).body.value
      return v.every((x: any) => x.tags?.['Platform.PendingOSUpgrade'] === 'true') && v
    }, 'pending tags')
    expect(tagged).toHaveLength(2)
    expect(
      (await call('POST', setPath('def', '/virtualMachines/1/approveRollingUpgrade'))).status,
    ).toBe(202)
    await waitFor(
      async () =>
        (await call('GET', setPath('def', '/virtualMachines/1'))).body.properties.storageProfile
          .imageReference.exactVersion === '1.1.0',
      'instance 1 upgraded',
    )
    expect(
      (await call('GET', setPath('def', '/virtualMachines/0'))).body.properties.storageProfile
        .imageReference.exactVersion,
    ).toBe('1.0.0')
    await call('POST', setPath('def', '/approveRollingUpgrade'), { body: {} })
    const [entry] = await waitFor(async () => {
      const v = (await call('GET', setPath('def', '/osUpgradeHistory'))).body.value
      return v[0]?.properties.runningStatus.code === 'Completed' && v
    }, 'deferred rollout done')
    expect(entry.properties.progress.successfulInstanceCount).toBe(2)
  })

  it("bootDiagnostics gives a sim instance's virtual console; an unknown instance is 404", async () => {
    const r = await call('GET', setPath('man', '/virtualMachines/0/bootDiagnostics'))
    expect(r.status).toBe(200)
    expect(r.body.consoleLog).toMatch(/booting OS disk \S+ from image 1\.0\.0/)
    expect(r.body.consoleLog).toMatch(/health: \w+/)
    expect(r.body.bytes).toBe(Buffer.byteLength(r.body.consoleLog))
    const missing = await call('GET', setPath('man', '/virtualMachines/99/bootDiagnostics'))
    expect(missing.status).toBe(404)
  })

  it('networkInterfaces give each instance its private IP', async () => {
    const all = await call('GET', setPath('man', '/networkInterfaces'))
    const ips = all.body.value.map(
      (n: any) => n.properties.ipConfigurations[0].properties.privateIPAddress,
    )
    expect(new Set(ips).size).toBe(3)
    const one = await call('GET', setPath('man', '/virtualMachines/1/networkInterfaces'))
    expect(one.body.value[0].properties.ipConfigurations[0].properties).toMatchObject({
      primary: true,
      privateIPAddress: ips[1],
    })
  })
})

describe('§2.5 Service Fabric clusters', () => {
  it('holds node types; a scale set whose durability differs is 409 Durability Mismatch', async () => {
    const cluster = `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ServiceFabric/clusters/sf`
    expect(
      (
        await call('PUT', cluster, {
          body: {
            location: 'westus',
            properties: { nodeTypes: [{ name: 'nt1', durabilityLevel: 'Gold', isPrimary: true }] },
          },
        })
      ).status,
    ).toBe(201)
    expect(
      (
        await call('PUT', cluster, {
          body: {
            location: 'westus',
            properties: { nodeTypes: [{ name: 'nt1', durabilityLevel: 'Iron' }] },
          },
        })
      ).status,
    ).toBe(400)
    const sf = {
      name: 'sf',
      properties: {
        publisher: 'Microsoft.Azure.ServiceFabric',
        type: 'ServiceFabricNode',
        typeHandlerVersion: '1.1',
        settings: { clusterEndpoint: cluster, nodeTypeRef: 'nt1', durabilityLevel: 'Silver' },
      },
    }
    const r = await call('PUT', setPath('sfset'), { body: model({ auto: true, extensions: [sf] }) })
    expect(r).toMatchObject({
      status: 409,
      body: {
        error: {
          code: 'OperationNotAllowed',
          message:
            'Durability Mismatch Detected for NodeType nt1. VMSS Durability Silver does not match the current SFRP NodeType durability level Gold',
        },
      },
    })
    const ok = {
      ...sf,
      properties: {
        ...sf.properties,
        settings: { ...sf.properties.settings, durabilityLevel: 'Gold' },
      },
    }
    expect(
      (await call('PUT', setPath('sfset'), { body: model({ auto: true, extensions: [ok] }) }))
        .status,
    ).toBe(201)
  })
})

describe('§8.1 identity endpoints', () => {
  it('serves AD FS discovery, trades a valid osroll token for an access token, and describes the cloud', async () => {
    const d = await call('GET', '/adfs/.well-known/openid-configuration', {
      token: null,
      apiVersion: null,
    })
    expect(d.body.token_endpoint).toMatch(/\/adfs\/oauth2\/token$/)
    const form = (secret: string) =>
      h.sys.app.inject({
        method: 'POST',
        url: '/adfs/oauth2/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `grant_type=client_credentials&client_id=osroll&client_secret=${encodeURIComponent(secret)}&resource=https%3A%2F%2Fmanagement.core.windows.net%2F`,
      })
    const good = await form(h.sys.adminToken)
    expect(JSON.parse(good.body)).toMatchObject({
      token_type: 'Bearer',
      access_token: h.sys.adminToken,
    })
    expect((await form('osr_wrong')).statusCode).toBe(401)
    const meta = await call('GET', '//metadata/endpoints', { token: null })
    expect(meta.body.authentication.loginEndpoint).toMatch(/\/adfs$/)
  })
})

describe('scale and failures', () => {
  it('PATCH sku.capacity scales out across zones and in by the highest ids, keeping zones balanced', async () => {
    const body = { ...model({ capacity: 3 }), zones: ['1', '2', '3'] }
    expect((await call('PUT', setPath('zonal'), { body })).status).toBe(201)
    await ready('zonal')
    expect((await call('PATCH', setPath('zonal'), { body: { sku: { capacity: 7 } } })).status).toBe(
      200,
    )
    const out = await waitFor(async () => {
      const v = (await call('GET', setPath('zonal', '/virtualMachines'))).body.value
      return v.length === 7 && v
    }, 'scale out')
    const zones = (vms: any[]) => vms.map((v: any) => `${v.instanceId}:${v.zones[0]}`)
    expect(zones(out)).toEqual(['0:1', '1:2', '2:3', '3:1', '4:2', '5:3', '6:1'])
    await call('PATCH', setPath('zonal'), { body: { sku: { capacity: 4 } } })
    const inn = await waitFor(async () => {
      const v = (await call('GET', setPath('zonal', '/virtualMachines'))).body.value
      return v.length === 4 && v
    }, 'scale in')
    expect(zones(inn)).toEqual(['0:1', '1:2', '2:3', '3:1'])
  })

  it('an unexpected error answers InternalServerError with the request id, and leaks nothing', async () => {
    const store = h.sys.deps.store
    const original = store.getResource.bind(store)
    store.getResource = async () => {
      throw new TypeError('secret internal detail at /work/main/src/x.ts:1')
    }
    try {
      const r = await call('GET', setPath('man'))
      expect(r.status).toBe(500)
      expect(r.body.error.code).toBe('InternalServerError')
      expect(JSON.stringify(r.body)).not.toContain('secret internal detail')
      expect(r.headers['x-ms-request-id']).toBeTruthy()
    } finally {
      store.getResource = original
    }
  })
})
