/**
 * The metadata service over a whole osroll in process (sim fabric): an instance's document is
 * what the API says of that instance and of no other; a deferred OS upgrade is its Reimage
 * event, which the guest approves (its StartRequests sets the approval approveRollingUpgrade
 * sets) or which NotBefore approves while the guest listens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor, type Call } from '../../test-support/api-harness.js'
import type { GuestIdentity, MetadataRequest } from '../fabrics/types/metadata.js'
import { createInstanceMetadata } from './instance-metadata.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
const setPath = (name: string, rest = '') =>
  `/subscriptions/${h.sub}/resourceGroups/RG/providers/Microsoft.Compute/virtualMachineScaleSets/${name}${rest}`
const img = (v: string) =>
  `/subscriptions/${h.sub}/providers/Microsoft.Compute/locations/westus/publishers/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions/${v}`
const guest = (name: string, instanceId: string): GuestIdentity => ({
  scaleSetKey: setPath(name).toLowerCase(),
  instanceId,
})
const get = (url: string, o: Partial<MetadataRequest> = {}): MetadataRequest => ({
  method: 'GET',
  url,
  metadataHeader: 'true',
  forwardedFor: false,
  body: '',
  ...o,
})
const EVENTS = '/metadata/scheduledevents?api-version=2020-07-01'

const setBody = (deferral: boolean) => ({
  location: 'westus',
  tags: { team: 'web' },
  sku: { name: 'Standard_B1s', capacity: 2 },
  properties: {
    upgradePolicy: {
      mode: 'Automatic',
      automaticOSUpgradePolicy: {
        enableAutomaticOSUpgrade: true,
        osRollingUpgradeDeferral: deferral,
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
      extensionProfile: {
        extensions: [
          {
            name: 'health',
            properties: {
              publisher: 'Microsoft.ManagedServices',
              type: 'ApplicationHealthLinux',
              typeHandlerVersion: '2.0',
              settings: { protocol: 'http', port: 80, requestPath: '/health' },
            },
          },
        ],
      },
    },
  },
})
const publish = (v: string) =>
  call('PUT', img(v), {
    body: { location: 'westus', properties: { source: { uri: 'sim:?boot=0' } } },
  })
const created = async (name: string, deferral: boolean) => {
  const put = await call('PUT', setPath(name), { body: setBody(deferral) })
  if (put.status >= 300) throw new Error(JSON.stringify(put.body))
  await waitFor(
    async () =>
      (await call('GET', setPath(name))).body.properties?.provisioningState === 'Succeeded',
    `set ${name}`,
  )
}
const exactVersion = async (name: string, id: string) =>
  (await call('GET', setPath(name, `/virtualMachines/${id}`))).body.properties.storageProfile
    .imageReference.exactVersion as string

beforeAll(async () => {
  h = await apiHarness()
  call = h.call
  await publish('1.0.0')
  await created('web', false)
}, 60_000)
afterAll(() => h?.close())

describe('instance metadata', () => {
  it("answers the instance's own document: the API's name, vmId and exact image version", async () => {
    const imds = createInstanceMetadata(h.sys.deps)
    const a = await imds.answer(guest('web', '1'), get('/metadata/instance?api-version=2021-02-01'))
    expect(a.status).toBe(200)
    const doc = JSON.parse(a.body)
    const vm = (await call('GET', setPath('web', '/virtualMachines/1?$expand=instanceView'))).body
    expect(doc.compute).toMatchObject({
      name: 'web_1',
      vmId: vm.properties.vmId,
      resourceId: vm.id,
      vmScaleSetName: 'web',
      resourceGroupName: 'RG',
      subscriptionId: h.sub,
      location: 'westus',
      vmSize: 'Standard_B1s',
      version: '1.0.0',
      tags: 'team:web',
      storageProfile: { imageReference: { version: 'latest', exactVersion: '1.0.0' } },
    })
    expect(doc.compute.platformUpdateDomain).toBe(
      String(vm.properties.instanceView.platformUpdateDomain),
    )
    const name = await imds.answer(
      guest('web', '1'),
      get('/metadata/instance/compute/name?api-version=2021-02-01&format=text'),
    )
    expect(name.body).toBe('web_1')
  })

  it('never answers about another instance, whatever the request names', async () => {
    const imds = createInstanceMetadata(h.sys.deps)
    const other = (await call('GET', setPath('web', '/virtualMachines/0'))).body.properties.vmId
    for (const url of [
      '/metadata/instance/compute?api-version=2021-02-01',
      `/metadata/instance/compute?api-version=2021-02-01&vmId=${other}&instanceId=0`,
      '/metadata/instance/compute?api-version=2021-02-01&name=web_0',
    ]) {
      const doc = JSON.parse((await imds.answer(guest('web', '1'), get(url))).body)
      expect(doc.name, url).toBe('web_1')
      expect(doc.vmId).not.toBe(other)
    }
    const gone = await imds.answer(
      guest('web', '99'),
      get('/metadata/instance?api-version=2021-02-01'),
    )
    expect(gone).toMatchObject({ status: 404, body: '{"error":"Not found"}' })
  })

  it('refuses without Metadata: true, and past its rate limit (Azure: 5 a second)', async () => {
    const imds = createInstanceMetadata(h.sys.deps, { requestsPerSecond: 3 })
    const url = '/metadata/instance?api-version=2021-02-01'
    expect(await imds.answer(guest('web', '0'), get(url, { metadataHeader: null }))).toEqual({
      status: 400,
      contentType: 'application/json; charset=utf-8',
      body: '{"error":"Bad request. Required metadata header not specified"}',
    })
    const statuses: number[] = []
    for (let i = 0; i < 6; i++)
      statuses.push((await imds.answer(guest('web', '0'), get(url))).status)
    expect(statuses).toContain(429)
    // another VM has its own window
    expect((await imds.answer(guest('web', '1'), get(url))).status).toBe(200)
  })

  it('a set without deferral announces no event', async () => {
    const imds = createInstanceMetadata(h.sys.deps)
    expect(JSON.parse((await imds.answer(guest('web', '0'), get(EVENTS))).body)).toEqual({
      DocumentIncarnation: 1,
      Events: [],
    })
  })
})

describe('scheduled events and osRollingUpgradeDeferral', () => {
  it("announces the pending upgrade as a Reimage; the guest's approval moves that instance only", async () => {
    await created('def', true)
    // polled every few ms below: no rate limit in the way
    const imds = createInstanceMetadata(h.sys.deps, { requestsPerSecond: 1000 })
    await publish('1.1.0')
    const [doc0] = await waitFor(async () => {
      const docs = await Promise.all(
        ['0', '1'].map(async (id) =>
          JSON.parse((await imds.answer(guest('def', id), get(EVENTS))).body),
        ),
      )
      return docs.every((d) => d.Events.length === 1) && docs
    }, 'Reimage events for both')
    const event = doc0.Events[0]
    expect(event).toMatchObject({
      EventType: 'Reimage',
      EventStatus: 'Scheduled',
      ResourceType: 'VirtualMachine',
      Resources: ['def_0'],
      EventSource: 'Platform',
    })
    expect(Date.parse(event.NotBefore) - Date.now()).toBeGreaterThan(10 * 60_000)
    const tags = await imds.answer(
      guest('def', '0'),
      get('/metadata/instance/compute/tags?api-version=2021-02-01&format=text'),
    )
    expect(tags.body).toBe('Platform.PendingOSUpgrade:true;team:web')

    // instance 1 cannot start instance 0's event
    const post = (id: string, eventId: string) =>
      imds.answer(guest('def', id), {
        ...get(EVENTS),
        method: 'POST',
        body: JSON.stringify({ StartRequests: [{ EventId: eventId }] }),
      })
    expect((await post('1', event.EventId)).status).toBe(400)
    expect((await post('0', event.EventId)).status).toBe(200)
    const started = JSON.parse((await imds.answer(guest('def', '0'), get(EVENTS))).body)
    expect(started.DocumentIncarnation).toBeGreaterThan(doc0.DocumentIncarnation)
    await waitFor(async () => (await exactVersion('def', '0')) === '1.1.0', 'instance 0 reimaged')
    expect(await exactVersion('def', '1')).toBe('1.0.0')
    expect(JSON.parse((await imds.answer(guest('def', '0'), get(EVENTS))).body).Events).toEqual([])
  })

  it('NotBefore reached while the guest asks: the event starts and the upgrade goes ahead', async () => {
    const imds = createInstanceMetadata(h.sys.deps, { notBeforeMs: 0 })
    const doc = JSON.parse((await imds.answer(guest('def', '1'), get(EVENTS))).body)
    expect(doc.Events).toMatchObject([{ EventStatus: 'Started', NotBefore: '' }])
    await waitFor(async () => (await exactVersion('def', '1')) === '1.1.0', 'instance 1 reimaged')
    const [entry] = await waitFor(async () => {
      const v = (await call('GET', setPath('def', '/osUpgradeHistory'))).body.value
      return v[0]?.properties.runningStatus.code === 'Completed' && v
    }, 'deferred rollout done')
    expect(entry.properties.progress.successfulInstanceCount).toBe(2)
  })
})
