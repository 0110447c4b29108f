/**
 * The platform image catalog (docs/api.md § Images and galleries), kept as resources in the store:
 * publish (immutable),
 * get, list, delete, and what the orchestrator asks — the latest version eligible in a region
 * and the artifact a fabric boots. Gallery images are not in this build: a gallery reference is
 * answered as not found by the scale set service.
 */
import { canonicalEnums, PLATFORM_IMAGE_ENUMS } from '../core/enums.js'
import { AppError, Errors } from '../errors.js'
import type { ImageReference } from '../core/image/image-ref.js'
import { imageLabel } from '../core/image/image-ref.js'
import { compareVersions, isVersion } from '../core/image/version.js'
import { normalizeLocation } from '../core/scale-set/to-spec.js'
import { isPlainObject } from '../core/scale-set/shape.js'
import type { ImageArtifact } from '../fabrics/types/fabric.js'
import type { EligibleVersion, ImageCatalog } from '../runtime/catalog.js'
import type { ControlStore, StoredResource } from '../store/control-store.js'
import { PLATFORM_IMAGE_TYPE, platformImagePrefix } from '../arm/arm.js'
import { AUTO_UPGRADE_SKUS } from '../config/defaults.js'
import type { Galleries } from './galleries.js'

export type PlatformImageKey = Readonly<{
  location: string
  publisher: string
  offer: string
  sku: string
}>

export type PlatformImageVersion = Readonly<{
  key: PlatformImageKey
  version: string
  sourceUri: string
  operatingSystem: 'Linux' | 'Windows'
  automaticOSUpgradeSupported: boolean
  publishedAtMs: number
  body: Readonly<Record<string, unknown>>
}>

export type PublishInput = Readonly<{
  key: PlatformImageKey
  version: string
  body: unknown
  nowMs: number
}>

export class StoreCatalog implements ImageCatalog {
  constructor(
    private readonly store: ControlStore,
    /**
     * Makes `uri` something the fabric can boot and returns what it boots (sim: the URI; local:
     * the artifact imported into the content-addressed store, `cas:sha256-…`); 400 if it cannot.
     */
    private readonly prepareSource: (uri: string) => Promise<string>,
    readonly galleries: Galleries,
  ) {}

  /**
   * Publishes a version; a second identical PUT is accepted, a different one is 409 Conflict.
   * @returns whether it was created (201) rather than already there (200).
   */
  async publish(input: PublishInput): Promise<{ created: boolean; image: PlatformImageVersion }> {
    const { key, version } = input
    if (!isVersion(version))
      throw Errors.InvalidParameter(
        `Version '${version}' is not a Major.Minor.Build version.`,
        'version',
      )
    const props = parsePublishBody(canonicalEnums(input.body, PLATFORM_IMAGE_ENUMS))
    const artifact = await this.prepareSource(props.sourceUri)
    const id =
      platformImagePrefix(key.location, key.publisher, key.offer, key.sku) + version.toLowerCase()
    const body = {
      location: normalizeLocation(key.location),
      publisher: key.publisher,
      offer: key.offer,
      sku: key.sku,
      version,
      properties: {
        source: { uri: props.sourceUri },
        osDiskImage: { operatingSystem: props.operatingSystem },
        automaticOSUpgradeProperties: {
          automaticOSUpgradeSupported:
            props.automaticOSUpgradeSupported ??
            AUTO_UPGRADE_SKUS.has(`${key.publisher}:${key.offer}:${key.sku}`.toLowerCase()),
        },
        hyperVGeneration: 'V2',
        architecture: 'x64',
      },
      publishedAtMs: input.nowMs,
      osroll: { artifact },
    }
    const existing = await this.store.getResource(id)
    if (existing) {
      const same =
        JSON.stringify({ ...existing.body, publishedAtMs: 0 }) ===
        JSON.stringify({ ...body, publishedAtMs: 0 })
      if (!same)
        throw Errors.Conflict(
          `Image version ${version} is already published with other properties; published versions are immutable.`,
        )
      return { created: false, image: toVersion(existing) }
    }
    const resource: StoredResource = {
      id,
      type: PLATFORM_IMAGE_TYPE,
      subscriptionId: '*',
      resourceGroup: null,
      name: version,
      body,
      etag: `"${input.nowMs.toString(36)}"`,
      createdAtMs: input.nowMs,
      updatedAtMs: input.nowMs,
    }
    await this.store.putResource(resource, null).catch((err: unknown) => {
      if (err instanceof AppError && err.code === 'PreconditionFailed')
        throw Errors.Conflict(`Image version ${version} was published concurrently.`)
      throw err
    })
    return { created: true, image: toVersion(resource) }
  }

  async get(key: PlatformImageKey, version: string): Promise<PlatformImageVersion | undefined> {
    const r = await this.store.getResource(
      platformImagePrefix(key.location, key.publisher, key.offer, key.sku) + version.toLowerCase(),
    )
    return r ? toVersion(r) : undefined
  }

  /** Versions of one SKU in one region, ascending. */
  async list(key: PlatformImageKey): Promise<PlatformImageVersion[]> {
    const prefix = platformImagePrefix(key.location, key.publisher, key.offer, key.sku)
    const rows = await this.store.listResources({ type: PLATFORM_IMAGE_TYPE, idPrefix: prefix })
    return rows
      .filter((r) => r.id.startsWith(prefix) && !r.id.slice(prefix.length).includes('/'))
      .map(toVersion)
      .sort((a, b) => compareVersions(a.version, b.version))
  }

  /** Distinct names one level below a region: publishers, offers of a publisher, skus of an offer. */
  async names(location: string, publisher?: string, offer?: string): Promise<string[]> {
    const rows = await this.store.listResources({
      type: PLATFORM_IMAGE_TYPE,
      idPrefix: `/providers/microsoft.compute/locations/${normalizeLocation(location)}/`,
    })
    const out = new Map<string, string>()
    for (const r of rows) {
      const b = r.body as { publisher: string; offer: string; sku: string }
      if (publisher && b.publisher.toLowerCase() !== publisher.toLowerCase()) continue
      if (offer && b.offer.toLowerCase() !== offer.toLowerCase()) continue
      const name = offer ? b.sku : publisher ? b.offer : b.publisher
      out.set(name.toLowerCase(), name)
    }
    return [...out.values()].sort()
  }

  async delete(key: PlatformImageKey, version: string): Promise<boolean> {
    return this.store.deleteResource(
      platformImagePrefix(key.location, key.publisher, key.offer, key.sku) + version.toLowerCase(),
    )
  }

  async latestEligible(
    image: ImageReference,
    location: string,
    exclude?: ReadonlySet<string>,
  ): Promise<EligibleVersion | null> {
    if (image.kind === 'gallery')
      return this.galleries.latestEligible(image.definitionId, location, exclude)
    if (image.kind !== 'platform') return null
    const versions = await this.list({
      location: normalizeLocation(location),
      publisher: image.publisher,
      offer: image.offer,
      sku: image.sku,
    })
    const eligible = versions.filter((v) => !exclude?.has(v.version))
    const last = eligible[eligible.length - 1]
    return last ? { version: last.version, eligibleAtMs: last.publishedAtMs } : null
  }

  async nextEligibilityAtMs(image: ImageReference, location: string): Promise<number | null> {
    return image.kind === 'gallery'
      ? this.galleries.nextEligibilityAtMs(image.definitionId, location)
      : null
  }

  /**
   * An explicitly named version as a rollout to it in `location` would build it: published in
   * that region (platform), or replicated to it (gallery; excludeFromLatest does not apply to a
   * version asked for by name). Otherwise why not, for the caller's error.
   * @example artifactIn(ubuntu, '1.2.0', 'westus') → { problem: "… is published in eastus, not in westus." }
   */
  async artifactIn(
    image: ImageReference,
    version: string,
    location: string,
  ): Promise<{ artifact: ImageArtifact } | { missing: true } | { problem: string }> {
    const where = normalizeLocation(location)
    if (image.kind === 'gallery') {
      const v = await this.galleries.version(image.definitionId, version)
      if (!v) return { missing: true }
      const region = v.regions.find((r) => r.name === where)
      if (!region)
        return {
          problem: `The image version '${version}' is not replicated to ${where}, the scale set's location: its target regions are ${v.regions.map((r) => r.name).join(', ')}.`,
        }
      if (!(await this.galleries.replicatedIn(image.definitionId, version, where)))
        return {
          problem: `The image version '${version}' is still replicating to ${where}, the scale set's location; start once its replication there has completed.`,
        }
      return {
        artifact: {
          version: v.version,
          label: imageLabel(image, v.version),
          sourceUri: v.sourceUri,
        },
      }
    }
    if (image.kind !== 'platform') return { missing: true }
    const key = { location: where, publisher: image.publisher, offer: image.offer, sku: image.sku }
    const here = await this.get(key, version)
    if (here)
      return {
        artifact: {
          version: here.version,
          label: imageLabel(image, here.version),
          sourceUri: here.sourceUri,
        },
      }
    const elsewhere = (await this.anyRegion(image, version)).filter((x) => x !== undefined)
    if (elsewhere.length === 0) return { missing: true }
    return {
      problem: `The image version '${version}' is not published in ${where}, the scale set's location.`,
    }
  }

  async artifact(
    image: ImageReference,
    version: string,
    location?: string,
  ): Promise<ImageArtifact | undefined> {
    if (image.kind === 'gallery') {
      const v = await this.galleries.version(image.definitionId, version)
      return v
        ? { version: v.version, label: imageLabel(image, v.version), sourceUri: v.sourceUri }
        : undefined
    }
    if (image.kind !== 'platform') return undefined
    // The set's region first (one read); any region where it is not there (a reimage to a
    // version published elsewhere).
    const here = location
      ? await this.get(
          { location, publisher: image.publisher, offer: image.offer, sku: image.sku },
          version,
        )
      : undefined
    const v = here ?? (await this.anyRegion(image, version)).find((x) => x !== undefined)
    return v
      ? { version: v.version, label: imageLabel(image, v.version), sourceUri: v.sourceUri }
      : undefined
  }

  private async anyRegion(
    image: ImageReference & { kind: 'platform' },
    version: string,
  ): Promise<(PlatformImageVersion | undefined)[]> {
    const rows = await this.store.listResources({
      type: PLATFORM_IMAGE_TYPE,
      idPrefix: '/providers/microsoft.compute/locations/',
    })
    const suffix =
      `/publishers/${image.publisher}/artifacttypes/vmimage/offers/${image.offer}/skus/${image.sku}/versions/${version}`.toLowerCase()
    return rows.filter((r) => r.id.endsWith(suffix)).map(toVersion)
  }
}

function parsePublishBody(body: unknown): {
  sourceUri: string
  operatingSystem: 'Linux' | 'Windows'
  automaticOSUpgradeSupported: boolean | undefined
} {
  if (!isPlainObject(body))
    throw Errors.InvalidParameter('The body must be a JSON object with properties.source.uri.')
  const props = body['properties']
  if (!isPlainObject(props))
    throw Errors.InvalidParameter('properties is required, with source.uri.', 'properties')
  const source = props['source']
  const uri = isPlainObject(source) ? source['uri'] : undefined
  if (typeof uri !== 'string' || uri === '')
    throw Errors.InvalidParameter(
      'properties.source.uri is required: the image artifact the fabric boots.',
      'properties.source.uri',
    )
  const os = isPlainObject(props['osDiskImage'])
    ? props['osDiskImage']['operatingSystem']
    : undefined
  if (os !== undefined && os !== 'Linux' && os !== 'Windows')
    throw Errors.InvalidParameter(
      `operatingSystem '${String(os)}' is not one of Linux, Windows.`,
      'properties.osDiskImage.operatingSystem',
    )
  const auto = isPlainObject(props['automaticOSUpgradeProperties'])
    ? props['automaticOSUpgradeProperties']['automaticOSUpgradeSupported']
    : undefined
  if (auto !== undefined && typeof auto !== 'boolean')
    throw Errors.InvalidParameter(
      'automaticOSUpgradeSupported must be a boolean.',
      'properties.automaticOSUpgradeProperties.automaticOSUpgradeSupported',
    )
  return {
    sourceUri: uri,
    operatingSystem: (os as 'Linux' | 'Windows' | undefined) ?? 'Linux',
    automaticOSUpgradeSupported: auto as boolean | undefined,
  }
}

function toVersion(r: StoredResource): PlatformImageVersion {
  const b = r.body as {
    location: string
    publisher: string
    offer: string
    sku: string
    version: string
    publishedAtMs: number
    properties: {
      source: { uri: string }
      osDiskImage: { operatingSystem: 'Linux' | 'Windows' }
      automaticOSUpgradeProperties: { automaticOSUpgradeSupported: boolean }
    }
  }
  return {
    key: { location: b.location, publisher: b.publisher, offer: b.offer, sku: b.sku },
    version: b.version,
    sourceUri:
      (b as { osroll?: { artifact?: string } }).osroll?.artifact ?? b.properties.source.uri,
    operatingSystem: b.properties.osDiskImage.operatingSystem,
    automaticOSUpgradeSupported:
      b.properties.automaticOSUpgradeProperties.automaticOSUpgradeSupported,
    publishedAtMs: b.publishedAtMs,
    body: r.body,
  }
}
