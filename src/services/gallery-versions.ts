/**
 * A gallery image version as stored (galleries.ts): its source, its target regions and when each
 * was added (replication is derived from time), and the document a PUT of it stores.
 */
import { Errors } from '../errors.js'
import { normalizeLocation } from '../core/scale-set/to-spec.js'
import { isPlainObject } from '../core/scale-set/shape.js'
import type { StoredResource } from '../store/control-store.js'

type Region = {
  name: string
  regionalReplicaCount: number
  excludeFromLatest: boolean
  addedAtMs: number
}
export type GalleryVersion = Readonly<{
  version: string
  sourceUri: string
  excludeFromLatest: boolean
  regions: readonly Region[]
  publishedAtMs: number
  resource: StoredResource
}>

/** The source a PUT names (`uri`), checked against the stored one (`oldUri`): it never changes. */
export type VersionSource = Readonly<{ uri: unknown; oldUri: string | undefined }>

export function sourceOf(
  b: Record<string, unknown>,
  existing: StoredResource | undefined,
  version: string,
): VersionSource {
  const p = isPlainObject(b['properties']) ? b['properties'] : {}
  const uri = (p['storageProfile'] as { osDiskImage?: { source?: { uri?: unknown } } } | undefined)
    ?.osDiskImage?.source?.uri
  const oldUri = existing
    ? (
        existing.body['properties'] as {
          storageProfile: { osDiskImage: { source: { uri: string } } }
        }
      ).storageProfile.osDiskImage.source.uri
    : undefined
  if (typeof uri !== 'string' || uri === '') {
    if (!existing)
      throw Errors.InvalidParameter(
        'properties.storageProfile.osDiskImage.source.uri is required: the image artifact the fabric boots.',
        'properties.storageProfile.osDiskImage.source.uri',
      )
    return { uri, oldUri }
  }
  if (existing && uri !== oldUri)
    throw Errors.Conflict(
      `The source of gallery image version ${version} cannot change; publish a new version.`,
    )
  return { uri, oldUri }
}

/** The stored document of a version PUT: ARM's body, with osroll's own facts beside it. */
export function versionDocument(
  b: Record<string, unknown>,
  o: Readonly<{
    location: string
    existing: StoredResource | undefined
    source: VersionSource
    artifact: string
    nowMs: number
    osType: string
  }>,
): Record<string, unknown> {
  const { existing, nowMs: now } = o
  const p = isPlainObject(b['properties']) ? b['properties'] : {}
  const pp = isPlainObject(p['publishingProfile']) ? p['publishingProfile'] : {}
  const excludeFromLatest = pp['excludeFromLatest'] ?? false
  if (typeof excludeFromLatest !== 'boolean')
    throw Errors.InvalidParameter(
      'excludeFromLatest must be a boolean.',
      'properties.publishingProfile.excludeFromLatest',
    )
  const before = existing ? versionOf(existing).regions : []
  const regions = parseRegions(pp['targetRegions'], o.location, before, now)
  const publishedAtMs = existing ? versionOf(existing).publishedAtMs : now
  return {
    ...b,
    location: o.location,
    properties: {
      ...p,
      publishingProfile: {
        ...pp,
        excludeFromLatest,
        targetRegions: regions.map((r) => ({
          name: r.name,
          regionalReplicaCount: r.regionalReplicaCount,
          excludeFromLatest: r.excludeFromLatest,
        })),
        publishedDate: new Date(publishedAtMs).toISOString(),
      },
      storageProfile: { osDiskImage: { source: { uri: o.source.uri ?? o.source.oldUri } } },
      provisioningState: 'Succeeded',
    },
    osroll: { artifact: o.artifact, regions, publishedAtMs, osType: o.osType },
  }
}

/** When version `v` became (or becomes) eligible in `location`; null when it never is. */
export function eligibleAt(v: GalleryVersion, location: string, delayMs: number): number | null {
  if (v.excludeFromLatest) return null
  const region = v.regions.find((r) => r.name === location)
  if (!region || region.excludeFromLatest) return null
  return region.addedAtMs + delayMs
}

export function versionOf(r: StoredResource): GalleryVersion {
  const b = r.body as {
    properties: {
      storageProfile: { osDiskImage: { source: { uri: string } } }
      publishingProfile: { excludeFromLatest: boolean }
    }
    osroll: { artifact?: string; regions: Region[]; publishedAtMs: number }
  }
  return {
    version: r.name,
    sourceUri: b.osroll.artifact ?? b.properties.storageProfile.osDiskImage.source.uri,
    excludeFromLatest: b.properties.publishingProfile.excludeFromLatest,
    regions: b.osroll.regions,
    publishedAtMs: b.osroll.publishedAtMs,
    resource: r,
  }
}

/** Target regions (default: the version's own location); a region already there keeps its start. */
function parseRegions(
  value: unknown,
  location: string,
  before: readonly Region[],
  now: number,
): Region[] {
  const list = value === undefined ? [{ name: location }] : value
  if (!Array.isArray(list))
    throw Errors.InvalidRequestContent(
      'targetRegions must be an array.',
      'properties.publishingProfile.targetRegions',
    )
  return list.map((t: unknown, i) => {
    const target = `properties.publishingProfile.targetRegions[${i}]`
    if (!isPlainObject(t) || typeof t['name'] !== 'string' || t['name'] === '')
      throw Errors.InvalidParameter('Every target region needs a name.', `${target}.name`)
    const name = normalizeLocation(t['name'])
    const count = t['regionalReplicaCount'] ?? 1
    if (!Number.isInteger(count) || (count as number) < 1 || (count as number) > 100)
      throw Errors.InvalidParameter(
        'regionalReplicaCount must be an integer from 1 to 100.',
        `${target}.regionalReplicaCount`,
      )
    const exclude = t['excludeFromLatest'] ?? false
    if (typeof exclude !== 'boolean')
      throw Errors.InvalidParameter(
        'excludeFromLatest must be a boolean.',
        `${target}.excludeFromLatest`,
      )
    const previous = before.find((r) => r.name === name)
    return {
      name,
      regionalReplicaCount: count as number,
      excludeFromLatest: exclude,
      addedAtMs: previous?.addedAtMs ?? now,
    }
  })
}
