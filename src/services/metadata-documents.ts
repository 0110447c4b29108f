/**
 * The Instance Metadata Service's requests and documents, as pure functions
 * (docs/qemu.md § The metadata service): what a guest asked (`parseMetadataRequest`), the
 * instance document (`instanceDocument`) and its route filtering (`filterDocument`), and the
 * scheduled events document (`scheduledEventsDocument`). The shapes are Azure's: every primitive
 * of the instance document is a string, and errors are IMDS's `{ "error": … }` bodies, not ARM
 * envelopes.
 */
import type { MetadataAnswer, MetadataRequest } from '../fabrics/types/metadata.js'

/** The instance category's api-versions (Azure's list; the newest first). */
// prettier-ignore
export const INSTANCE_API_VERSIONS = [
  '2025-04-07', '2024-07-17', '2024-03-15', '2023-11-15', '2023-07-01', '2021-12-13',
  '2021-11-15', '2021-11-01', '2021-10-01', '2021-08-01', '2021-05-01', '2021-03-01',
  '2021-02-01', '2021-01-01', '2020-12-01', '2020-10-01', '2020-09-01', '2020-07-15',
  '2020-06-01', '2019-11-01', '2019-08-15', '2019-08-01', '2019-06-04', '2019-06-01',
  '2019-04-30', '2019-03-11', '2019-02-01', '2018-10-01', '2018-04-02', '2018-02-01',
  '2017-12-01', '2017-10-01', '2017-08-01', '2017-04-02', '2017-03-01',
]

/** The scheduled events category's api-versions (Azure's list; the newest first). */
// prettier-ignore
export const SCHEDULED_EVENTS_API_VERSIONS = [
  '2020-07-01', '2019-08-01', '2019-04-01', '2019-01-01', '2017-11-01', '2017-08-01',
  '2017-03-01',
]

export type ParsedRequest = Readonly<
  | { kind: 'instance'; path: readonly string[]; format: 'json' | 'text' }
  | { kind: 'scheduledEvents'; method: 'GET' }
  | { kind: 'scheduledEvents'; method: 'POST'; eventIds: readonly string[] }
  | { kind: 'versions' }
  | { kind: 'refused'; answer: MetadataAnswer }
>

/**
 * What a guest asked, or the answer that refuses it: the `Metadata: true` header, no
 * `X-Forwarded-For`, a known route and method, a supported `api-version` given once.
 * @example parseMetadataRequest({ method: 'GET', url: '/metadata/instance/compute/vmId?api-version=2021-02-01&format=text', metadataHeader: 'true', forwardedFor: false, body: '' })
 *   → { kind: 'instance', path: ['compute', 'vmId'], format: 'text' }
 */
export function parseMetadataRequest(req: MetadataRequest): ParsedRequest {
  if (req.metadataHeader?.trim().toLowerCase() !== 'true')
    return refuse(400, 'Bad request. Required metadata header not specified')
  if (req.forwardedFor)
    return refuse(400, 'Bad request. Requests with an X-Forwarded-For header are not accepted')
  const [rawPath = '', query = ''] = req.url.split('?', 2)
  const path = rawPath.split('/').filter((s) => s !== '')
  const params = new URLSearchParams(query)
  const names = [...params.keys()]
  if (new Set(names).size !== names.length)
    return refuse(400, 'Bad request. Duplicate query parameter names are not allowed')
  if (path[0] !== 'metadata') return refuse(404, 'Not found')
  const category = path[1]
  if (category === 'versions' && path.length === 2) {
    if (req.method !== 'GET') return refuse(405, 'Method not allowed')
    return { kind: 'versions' }
  }
  if (category === 'instance') return parseInstance(req, path.slice(2), params)
  if (category === 'scheduledevents' && path.length === 2) return parseEvents(req, params)
  return refuse(404, 'Not found')
}

function parseInstance(
  req: MetadataRequest,
  path: readonly string[],
  params: URLSearchParams,
): ParsedRequest {
  if (req.method !== 'GET') return refuse(405, 'Method not allowed')
  const bad = checkVersion(params, INSTANCE_API_VERSIONS)
  if (bad) return bad
  const format = params.get('format') ?? 'json'
  if (format !== 'json' && format !== 'text')
    return refuse(400, `Bad request. The format '${format}' is not supported: use json or text`)
  return { kind: 'instance', path: path.map(decodeURIComponent), format }
}

function parseEvents(req: MetadataRequest, params: URLSearchParams): ParsedRequest {
  const bad = checkVersion(params, SCHEDULED_EVENTS_API_VERSIONS)
  if (bad) return bad
  if (req.method === 'GET') return { kind: 'scheduledEvents', method: 'GET' }
  if (req.method !== 'POST') return refuse(405, 'Method not allowed')
  const ids = startRequestIds(req.body)
  if (ids === null)
    return refuse(
      400,
      'Bad request. The body must be {"StartRequests": [{"EventId": "…"}, …]} with at least one EventId',
    )
  return { kind: 'scheduledEvents', method: 'POST', eventIds: ids }
}

/** The EventIds of a StartRequests document, or null when it is malformed. */
function startRequestIds(body: string): string[] | null {
  let doc: unknown
  try {
    doc = JSON.parse(body)
  } catch {
    return null
  }
  const requests = (doc as { StartRequests?: unknown } | null)?.StartRequests
  if (!Array.isArray(requests) || requests.length === 0 || requests.length > 100) return null
  const ids = requests.map((r) => (r as { EventId?: unknown } | null)?.EventId)
  return ids.every((id): id is string => typeof id === 'string' && id.length > 0) ? ids : null
}

function checkVersion(params: URLSearchParams, versions: readonly string[]): ParsedRequest | null {
  const v = params.get('api-version')
  if (v !== null && versions.includes(v)) return null
  return {
    kind: 'refused',
    answer: json(400, {
      error:
        'Bad request. api-version is invalid or was not specified in the request. For more information refer to aka.ms/azureimds',
      'newest-versions': versions.slice(0, 3),
    }),
  }
}

/** What the instance document is built from: the instance as the API shows it, and its set. */
export type InstanceFacts = Readonly<{
  name: string
  vmId: string
  resourceId: string
  subscriptionId: string
  resourceGroupName: string
  location: string
  vmScaleSetName: string
  vmSize: string
  zone: string
  platformUpdateDomain: number
  platformFaultDomain: number
  computerName: string
  imageReference: Readonly<Record<string, string>>
  /** The exact version on the OS disk. */
  version: string
  /** Each data disk; `sizeGB` where the model gave its `diskSizeGB` (docs/api.md § VM sizes). */
  dataDisks: readonly Readonly<{ lun: number; name: string; sizeGB?: number }>[]
  tags: Readonly<Record<string, string>>
  privateIpAddress: string
}>

/**
 * `/metadata/instance`: the compute section and the primary interface, every primitive a
 * string. `customData` is empty, as on Azure (deprecated in IMDS; the guest reads it from its
 * NoCloud seed); `userData` is empty (osroll does not model it).
 * @example instanceDocument(facts).compute.storageProfile.imageReference.exactVersion → '1.1.0'
 */
export function instanceDocument(f: InstanceFacts) {
  const tags = Object.entries(f.tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const ref = f.imageReference
  return {
    compute: {
      azEnvironment: 'AzurePublicCloud',
      customData: '',
      location: f.location,
      name: f.name,
      offer: ref['offer'] ?? '',
      osProfile: { adminUsername: '', computerName: f.computerName },
      osType: 'Linux',
      platformFaultDomain: String(f.platformFaultDomain),
      platformUpdateDomain: String(f.platformUpdateDomain),
      provider: 'Microsoft.Compute',
      publisher: ref['publisher'] ?? '',
      resourceGroupName: f.resourceGroupName,
      resourceId: f.resourceId,
      sku: ref['sku'] ?? '',
      storageProfile: {
        dataDisks: f.dataDisks.map((d) => ({
          createOption: 'Empty',
          lun: String(d.lun),
          name: d.name,
          ...(d.sizeGB !== undefined ? { diskSizeGB: String(d.sizeGB) } : {}),
        })),
        imageReference: {
          id: ref['id'] ?? '',
          offer: ref['offer'] ?? '',
          publisher: ref['publisher'] ?? '',
          sku: ref['sku'] ?? '',
          version: ref['version'] ?? f.version,
          exactVersion: f.version,
        },
        osDisk: { createOption: 'FromImage', osType: 'Linux' },
      },
      subscriptionId: f.subscriptionId,
      tags: tags.map(([k, v]) => `${k}:${v}`).join(';'),
      tagsList: tags.map(([name, value]) => ({ name, value })),
      userData: '',
      version: f.version,
      vmId: f.vmId,
      vmScaleSetName: f.vmScaleSetName,
      vmSize: f.vmSize,
      zone: f.zone,
    },
    network: {
      interface: [
        {
          ipv4: {
            ipAddress: [{ privateIpAddress: f.privateIpAddress, publicIpAddress: '' }],
            subnet: [],
          },
          ipv6: { ipAddress: [] },
          macAddress: '',
        },
      ],
    },
  }
}

/**
 * Walks `path` down the document (object keys, array indexes), as Azure's route parameters do.
 * A leaf (a string) needs `format=text`; `text` on an object or array is refused.
 * @example filterDocument(doc, ['compute', 'vmId'], 'text') → 200 text/plain '5c08…'
 */
export function filterDocument(
  doc: unknown,
  path: readonly string[],
  format: 'json' | 'text',
): MetadataAnswer {
  let node: unknown = doc
  for (const key of path) {
    if (Array.isArray(node) && /^(0|[1-9][0-9]*)$/.test(key)) node = node[Number(key)]
    else if (isRecord(node) && Object.hasOwn(node, key)) node = node[key]
    else return json(404, { error: 'Not found' })
    if (node === undefined) return json(404, { error: 'Not found' })
  }
  const leaf = typeof node === 'string'
  if (leaf && format === 'text') return { status: 200, contentType: TEXT, body: node as string }
  if (leaf) return json(400, { error: 'Bad request. A leaf node needs format=text' })
  if (format === 'text')
    return json(400, { error: 'Bad request. format=text is supported on leaf nodes only' })
  return json(200, node)
}

/** One scheduled Reimage of an instance, as the service derives it. */
export type ReimageEvent = Readonly<{
  eventId: string
  resource: string
  /** Approved (by the guest or the API): the reimage may start; NotBefore is then blank. */
  started: boolean
  notBeforeMs: number
  targetVersion: string | null
}>

/**
 * `/metadata/scheduledevents`: `DocumentIncarnation` and the instance's events (at most one here:
 * its pending OS upgrade). NotBefore is an RFC 1123 date, blank once the event has started.
 * @example scheduledEventsDocument(3, [{ eventId: 'e1', resource: 'web_0', started: false, notBeforeMs: 0, targetVersion: '1.1.0' }])
 *   → { DocumentIncarnation: 3, Events: [{ EventId: 'e1', EventType: 'Reimage', EventStatus: 'Scheduled', NotBefore: 'Thu, 01 Jan 1970 00:00:00 GMT', … }] }
 */
export function scheduledEventsDocument(incarnation: number, events: readonly ReimageEvent[]) {
  return {
    DocumentIncarnation: incarnation,
    Events: events.map((e) => ({
      EventId: e.eventId,
      EventStatus: e.started ? 'Started' : 'Scheduled',
      EventType: 'Reimage',
      ResourceType: 'VirtualMachine',
      Resources: [e.resource],
      NotBefore: e.started ? '' : new Date(e.notBeforeMs).toUTCString(),
      Description: e.targetVersion
        ? `The OS disk is being replaced by one of image version ${e.targetVersion} (automatic OS image upgrade).`
        : 'The OS disk is being replaced (automatic OS image upgrade).',
      EventSource: 'Platform',
      DurationInSeconds: -1,
    })),
  }
}

const JSON_TYPE = 'application/json; charset=utf-8'
const TEXT = 'text/plain; charset=utf-8'

export function json(status: number, body: unknown): MetadataAnswer {
  return { status, contentType: JSON_TYPE, body: JSON.stringify(body) }
}

function refuse(status: number, error: string): ParsedRequest {
  return { kind: 'refused', answer: json(status, { error }) }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
