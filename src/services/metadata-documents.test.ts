/** The metadata service's pure parts: request parsing, the documents, route filtering. */
import { describe, expect, it } from 'vitest'
import type { MetadataRequest } from '../fabrics/types/metadata.js'
import {
  filterDocument,
  instanceDocument,
  parseMetadataRequest,
  scheduledEventsDocument,
  type InstanceFacts,
} from './metadata-documents.js'

const req = (o: Partial<MetadataRequest>): MetadataRequest => ({
  method: 'GET',
  url: '/metadata/instance?api-version=2021-02-01',
  metadataHeader: 'true',
  forwardedFor: false,
  body: '',
  ...o,
})
const refusal = (o: Partial<MetadataRequest>) => {
  const p = parseMetadataRequest(req(o))
  if (p.kind !== 'refused') throw new Error(`not refused: ${JSON.stringify(p)}`)
  return { status: p.answer.status, body: JSON.parse(p.answer.body) }
}

describe('parseMetadataRequest', () => {
  it.each([
    ['/metadata/instance?api-version=2021-02-01', { kind: 'instance', path: [], format: 'json' }],
    [
      '/metadata/instance/compute/vmId?api-version=2021-02-01&format=text',
      { kind: 'instance', path: ['compute', 'vmId'], format: 'text' },
    ],
    [
      '/metadata/scheduledevents?api-version=2020-07-01',
      { kind: 'scheduledEvents', method: 'GET' },
    ],
    ['/metadata/versions', { kind: 'versions' }],
  ])('%s', (url, expected) => {
    expect(parseMetadataRequest(req({ url }))).toEqual(expected)
  })

  it("refuses a request without Metadata: true with Azure's 400 body", () => {
    const bad = { error: 'Bad request. Required metadata header not specified' }
    expect(refusal({ metadataHeader: null })).toEqual({ status: 400, body: bad })
    expect(refusal({ metadataHeader: 'false' })).toEqual({ status: 400, body: bad })
    expect(parseMetadataRequest(req({ metadataHeader: 'True' })).kind).toBe('instance')
  })

  it('refuses proxied requests, duplicate parameters, unknown routes and methods', () => {
    expect(refusal({ forwardedFor: true }).status).toBe(400)
    expect(
      refusal({ url: '/metadata/instance?api-version=2021-02-01&api-version=2021-02-01' }),
    ).toEqual({
      status: 400,
      body: { error: 'Bad request. Duplicate query parameter names are not allowed' },
    })
    expect(refusal({ url: '/latest/meta-data/' })).toEqual({
      status: 404,
      body: { error: 'Not found' },
    })
    expect(refusal({ method: 'POST' }).status).toBe(405)
    expect(
      refusal({ method: 'DELETE', url: '/metadata/scheduledevents?api-version=2020-07-01' }),
    ).toMatchObject({ status: 405 })
  })

  it('requires a supported api-version of the category, listing the newest', () => {
    expect(refusal({ url: '/metadata/instance' })).toEqual({
      status: 400,
      body: {
        error:
          'Bad request. api-version is invalid or was not specified in the request. For more information refer to aka.ms/azureimds',
        'newest-versions': ['2025-04-07', '2024-07-17', '2024-03-15'],
      },
    })
    // 2021-02-01 is an instance version, not a scheduled events one
    expect(refusal({ url: '/metadata/scheduledevents?api-version=2021-02-01' }).body).toMatchObject(
      {
        'newest-versions': ['2020-07-01', '2019-08-01', '2019-04-01'],
      },
    )
    expect(refusal({ url: '/metadata/instance?api-version=2021-02-01&format=xml' }).status).toBe(
      400,
    )
  })

  it('reads StartRequests, refusing a malformed body', () => {
    const url = '/metadata/scheduledevents?api-version=2020-07-01'
    expect(
      parseMetadataRequest(
        req({ method: 'POST', url, body: '{"StartRequests":[{"EventId":"a"},{"EventId":"b"}]}' }),
      ),
    ).toEqual({ kind: 'scheduledEvents', method: 'POST', eventIds: ['a', 'b'] })
    for (const body of ['', 'null', '{}', '{"StartRequests":[]}', '{"StartRequests":[{}]}'])
      expect(refusal({ method: 'POST', url, body }).status, body).toBe(400)
  })
})

const facts: InstanceFacts = {
  name: 'web_3',
  vmId: '6b1b3c7e-0000-5000-8000-000000000003',
  resourceId: '/subscriptions/s/resourceGroups/RG/providers/Microsoft.Compute/virtualMachineScaleSets/web/virtualMachines/3',
  subscriptionId: 's',
  resourceGroupName: 'RG',
  location: 'westus',
  vmScaleSetName: 'web',
  vmSize: 'Standard_B1s',
  zone: '2',
  platformUpdateDomain: 3,
  platformFaultDomain: 0,
  computerName: 'web000003',
  imageReference: { publisher: 'Canonical', offer: 'UbuntuServer', sku: '18.04-LTS', version: 'latest', exactVersion: '1.1.0' },
  version: '1.1.0',
  dataDisks: [{ lun: 0, name: 'lun0-ab' }],
  tags: { team: 'web', 'Platform.PendingOSUpgrade': 'true' },
  privateIpAddress: '127.77.0.4',
} // prettier-ignore

describe('instanceDocument', () => {
  it('is the compute section with every primitive a string, and the primary interface', () => {
    const doc = instanceDocument(facts)
    expect(doc.compute).toMatchObject({
      name: 'web_3',
      vmId: facts.vmId,
      vmScaleSetName: 'web',
      resourceGroupName: 'RG',
      zone: '2',
      platformUpdateDomain: '3',
      platformFaultDomain: '0',
      osType: 'Linux',
      version: '1.1.0',
      customData: '',
      tags: 'Platform.PendingOSUpgrade:true;team:web',
      tagsList: [
        { name: 'Platform.PendingOSUpgrade', value: 'true' },
        { name: 'team', value: 'web' },
      ],
      storageProfile: {
        imageReference: {
          publisher: 'Canonical',
          offer: 'UbuntuServer',
          sku: '18.04-LTS',
          version: 'latest',
          exactVersion: '1.1.0',
          id: '',
        },
        dataDisks: [{ lun: '0', name: 'lun0-ab', createOption: 'Empty' }],
      },
    })
    expect(doc.network.interface[0]!.ipv4.ipAddress[0]!.privateIpAddress).toBe('127.77.0.4')
  })
})

describe('instanceDocument data disks', () => {
  it("gives a data disk's diskSizeGB, as a string, where the model gave one", () => {
    const doc = instanceDocument({
      ...facts,
      dataDisks: [
        { lun: 0, name: 'lun0-ab', sizeGB: 64 },
        { lun: 1, name: 'lun1-cd' },
      ],
    })
    expect(doc.compute.storageProfile.dataDisks).toEqual([
      { createOption: 'Empty', lun: '0', name: 'lun0-ab', diskSizeGB: '64' },
      { createOption: 'Empty', lun: '1', name: 'lun1-cd' },
    ])
  })
})

describe('filterDocument', () => {
  const doc = instanceDocument(facts)
  it('walks keys and array indexes', () => {
    const a = filterDocument(doc, ['compute', 'storageProfile', 'dataDisks', '0'], 'json')
    expect(a.status).toBe(200)
    expect(JSON.parse(a.body)).toEqual({ createOption: 'Empty', lun: '0', name: 'lun0-ab' })
    expect(filterDocument(doc, ['compute', 'vmId'], 'text')).toEqual({
      status: 200,
      contentType: 'text/plain; charset=utf-8',
      body: facts.vmId,
    })
  })

  it('a leaf needs format=text, an object json; a missing key is 404', () => {
    expect(filterDocument(doc, ['compute', 'vmId'], 'json').status).toBe(400)
    expect(filterDocument(doc, ['compute'], 'text').status).toBe(400)
    expect(filterDocument(doc, ['compute', 'nope'], 'json').status).toBe(404)
    expect(filterDocument(doc, ['compute', 'tagsList', '7'], 'json').status).toBe(404)
    expect(filterDocument(doc, ['compute', 'toString'], 'json').status).toBe(404)
  })
})

describe('scheduledEventsDocument', () => {
  it("is Azure's shape: Scheduled with an RFC 1123 NotBefore, Started with a blank one", () => {
    const at = Date.UTC(2026, 11, 3, 18, 29, 47)
    const e = { eventId: 'e1', resource: 'web_3', notBeforeMs: at, targetVersion: '1.1.0' }
    expect(scheduledEventsDocument(2, [{ ...e, started: false }])).toEqual({
      DocumentIncarnation: 2,
      Events: [
        {
          EventId: 'e1',
          EventStatus: 'Scheduled',
          EventType: 'Reimage',
          ResourceType: 'VirtualMachine',
          Resources: ['web_3'],
          NotBefore: 'Thu, 03 Dec 2026 18:29:47 GMT',
          Description:
            'The OS disk is being replaced by one of image version 1.1.0 (automatic OS image upgrade).',
          EventSource: 'Platform',
          DurationInSeconds: -1,
        },
      ],
    })
    const started = scheduledEventsDocument(3, [{ ...e, started: true }]).Events[0]
    expect(started).toMatchObject({ EventStatus: 'Started', NotBefore: '' })
    expect(scheduledEventsDocument(1, [])).toEqual({ DocumentIncarnation: 1, Events: [] })
  })
})
