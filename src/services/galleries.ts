/**
 * Azure Compute Galleries (docs/api.md § Images and galleries): galleries, image definitions and
 * image versions with
 * asynchronous per-region replication. Replication is derived from time — a version reaches
 * region R `replicationDelayMs` after it was published (or after R was added) — so nothing runs
 * in the background and every replica agrees. A version is eligible in R when it targets R, its
 * replication to R is Completed, and it is excluded from latest neither for the version nor for R.
 */
import { isDeepStrictEqual } from 'node:util'
import { canonicalEnums, IMAGE_DEFINITION_ENUMS, IMAGE_VERSION_ENUMS } from '../core/enums.js'
import { Errors } from '../errors.js'
import { isVersion } from '../core/image/version.js'
import { compareVersions } from '../core/image/version.js'
import { normalizeLocation } from '../core/scale-set/to-spec.js'
import { isPlainObject } from '../core/scale-set/shape.js'
import type { ControlStore, StoredResource } from '../store/control-store.js'
import { requireLocation, requireObject } from '../arm/arm.js'
import type { EligibleVersion } from '../runtime/catalog.js'
import type { NameKind } from '../core/names.js'
import { requireLinkedAccess, requireNames, requireTags } from './guards.js'
import type { Caller } from './guards.js'
import { eligibleAt, sourceOf, versionDocument, versionOf } from './gallery-versions.js'
import type { GalleryVersion } from './gallery-versions.js'

export type { GalleryVersion } from './gallery-versions.js'

export const GALLERY_TYPE = 'Microsoft.Compute/galleries'
export const GALLERY_IMAGE_TYPE = 'Microsoft.Compute/galleries/images'
export const GALLERY_VERSION_TYPE = 'Microsoft.Compute/galleries/images/versions'

export type GalleryRef = Readonly<{ sub: string; rg: string; gallery: string }>
export type ImageDefRef = GalleryRef & Readonly<{ image: string }>

export const galleryId = (r: GalleryRef) =>
  `/subscriptions/${r.sub}/resourceGroups/${r.rg}/providers/Microsoft.Compute/galleries/${r.gallery}`
export const imageDefId = (r: ImageDefRef) => `${galleryId(r)}/images/${r.image}`

export class Galleries {
  constructor(
    private readonly store: ControlStore,
    private readonly nowMs: () => number,
    private readonly replicationDelayMs: number,
    /** As the catalog's: returns what the fabric boots (`cas:…` on the local fabric). */
    private readonly prepareSource: (uri: string) => Promise<string>,
    private readonly ids: () => string,
  ) {}

  async putGallery(
    ref: GalleryRef,
    body: unknown,
    caller?: Caller,
  ): Promise<{ created: boolean; view: Record<string, unknown> }> {
    const b = checkWrite(galleryNames(ref), body, ref.sub, caller, GALLERY_TYPE, galleryId(ref))
    const location = requireLocation(b)
    return this.put(galleryId(ref), GALLERY_TYPE, ref, ref.gallery, {
      ...b,
      location,
      properties: {
        ...(isPlainObject(b['properties']) ? b['properties'] : {}),
        provisioningState: 'Succeeded',
      },
    })
  }

  async putImageDefinition(
    ref: ImageDefRef,
    body: unknown,
    caller?: Caller,
  ): Promise<{ created: boolean; view: Record<string, unknown> }> {
    const names = [...galleryNames(ref), ['galleryImage', ref.image, 'name'] as const]
    const b = canonicalEnums(
      checkWrite(names, body, ref.sub, caller, GALLERY_IMAGE_TYPE, imageDefId(ref)),
      IMAGE_DEFINITION_ENUMS,
    ) as Record<string, unknown>
    await this.require(galleryId(ref), 'gallery', ref.gallery)
    const location = requireLocation(b)
    const p = isPlainObject(b['properties']) ? b['properties'] : {}
    if (p['osType'] !== 'Linux' && p['osType'] !== 'Windows')
      throw Errors.InvalidParameter(
        `osType '${String(p['osType'])}' is not one of Linux, Windows.`,
        'properties.osType',
      )
    if (
      p['osState'] !== undefined &&
      p['osState'] !== 'Generalized' &&
      p['osState'] !== 'Specialized'
    )
      throw Errors.InvalidParameter(
        `osState '${String(p['osState'])}' is not one of Generalized, Specialized.`,
        'properties.osState',
      )
    const id = isPlainObject(p['identifier']) ? p['identifier'] : {}
    for (const k of ['publisher', 'offer', 'sku']) {
      if (typeof id[k] !== 'string' || id[k] === '')
        throw Errors.InvalidParameter(`identifier.${k} is required.`, `properties.identifier.${k}`)
    }
    return this.put(imageDefId(ref), GALLERY_IMAGE_TYPE, ref, ref.image, {
      ...b,
      location,
      properties: { ...p, osState: p['osState'] ?? 'Generalized', provisioningState: 'Succeeded' },
    })
  }

  /**
   * Creates a version, or updates what Azure lets change (target regions, excludeFromLatest);
   * the source is immutable (409 Conflict).
   */
  async putVersion(
    ref: ImageDefRef,
    version: string,
    body: unknown,
    caller?: Caller,
  ): Promise<{ created: boolean; view: Record<string, unknown> }> {
    const names = [
      ...galleryNames(ref),
      ['galleryImage', ref.image, 'imageName'] as const,
      ['galleryImageVersion', version, 'name'] as const,
    ]
    const id = `${imageDefId(ref)}/versions/${version}`
    checkWrite(names, body, ref.sub, caller, GALLERY_VERSION_TYPE, id)
    const def = await this.require(imageDefId(ref), 'image definition', ref.image)
    if (!isVersion(version))
      throw Errors.InvalidParameter(
        `Gallery image version name '${version}' must be Major.Minor.Patch.`,
        'name',
      )
    const b = canonicalEnums(requireObject(body), IMAGE_VERSION_ENUMS) as Record<string, unknown>
    const location = normalizeLocation(requireLocation(b))
    const existing = await this.store.getResource(id)
    const source = sourceOf(b, existing, version)
    const artifact = existing
      ? versionOf(existing).sourceUri
      : await this.prepareSource(source.uri as string)
    const stored = versionDocument(b, {
      location,
      existing,
      source,
      artifact,
      nowMs: this.nowMs(),
      osType: (def.body['properties'] as { osType: string }).osType,
    })
    return this.put(id, GALLERY_VERSION_TYPE, ref, version, stored)
  }

  async get(
    id: string,
    what: string,
    name: string,
    expandReplication = false,
  ): Promise<Record<string, unknown>> {
    const r = await this.require(id, what, name)
    return this.view(r, expandReplication)
  }

  async listVersions(ref: ImageDefRef): Promise<Record<string, unknown>[]> {
    await this.require(imageDefId(ref), 'image definition', ref.image)
    return (await this.versions(imageDefId(ref))).map((v) => this.view(v.resource, false))
  }

  async delete(id: string, type: string): Promise<boolean> {
    const children = await this.store.listResources({
      type: type === GALLERY_TYPE ? GALLERY_IMAGE_TYPE : GALLERY_VERSION_TYPE,
      idPrefix: `${id}/`,
    })
    if (type !== GALLERY_VERSION_TYPE && children.length > 0)
      throw Errors.Conflict(
        `Delete the ${type === GALLERY_TYPE ? 'image definitions' : 'versions'} first: ${children[0]?.name} still exists.`,
      )
    return this.store.deleteResource(id)
  }

  /** The definition's OS type, or undefined when it does not exist. */
  async osType(definitionId: string): Promise<'Linux' | 'Windows' | undefined> {
    const def = await this.store.getResource(definitionId)
    return def ? (def.body['properties'] as { osType: 'Linux' | 'Windows' }).osType : undefined
  }

  async latestEligible(
    definitionId: string,
    location: string,
    exclude?: ReadonlySet<string>,
  ): Promise<EligibleVersion | null> {
    const now = this.nowMs()
    let best: EligibleVersion | null = null
    for (const v of await this.versions(definitionId)) {
      if (exclude?.has(v.version)) continue
      const at = eligibleAt(v, normalizeLocation(location), this.replicationDelayMs)
      if (at === null || at > now) continue
      if (!best || compareVersions(v.version, best.version) > 0)
        best = { version: v.version, eligibleAtMs: at }
    }
    return best
  }

  /** When the next not-yet-eligible version becomes eligible in `location`, if any. */
  async nextEligibilityAtMs(definitionId: string, location: string): Promise<number | null> {
    const now = this.nowMs()
    const times = (await this.versions(definitionId))
      .map((v) => eligibleAt(v, normalizeLocation(location), this.replicationDelayMs))
      .filter((t): t is number => t !== null && t > now)
    return times.length ? Math.min(...times) : null
  }

  /** Whether `version`'s replication to `location` has completed (a target region, delay passed). */
  async replicatedIn(definitionId: string, version: string, location: string): Promise<boolean> {
    const v = await this.version(definitionId, version)
    const region = v?.regions.find((r) => r.name === normalizeLocation(location))
    return region !== undefined && region.addedAtMs + this.replicationDelayMs <= this.nowMs()
  }

  async version(definitionId: string, version: string): Promise<GalleryVersion | undefined> {
    const r = await this.store.getResource(`${definitionId}/versions/${version}`)
    return r ? versionOf(r) : undefined
  }

  private async versions(definitionId: string): Promise<GalleryVersion[]> {
    const prefix = `${definitionId}/versions/`.toLowerCase()
    const rows = await this.store.listResources({ type: GALLERY_VERSION_TYPE, idPrefix: prefix })
    return rows
      .filter((r) => r.id.startsWith(prefix))
      .map(versionOf)
      .sort((a, b) => compareVersions(a.version, b.version))
  }

  private view(r: StoredResource, expandReplication: boolean): Record<string, unknown> {
    const { osroll: _internal, ...body } = r.body as Record<string, unknown>
    const type =
      r.type === GALLERY_VERSION_TYPE.toLowerCase()
        ? GALLERY_VERSION_TYPE
        : r.type === GALLERY_IMAGE_TYPE.toLowerCase()
          ? GALLERY_IMAGE_TYPE
          : GALLERY_TYPE
    const out: Record<string, unknown> = { ...body, id: body['id'] ?? r.id, name: r.name, type }
    if (expandReplication && type === GALLERY_VERSION_TYPE) {
      const v = versionOf(r)
      const now = this.nowMs()
      const summary = v.regions.map((region) => {
        const progress = Math.min(
          100,
          Math.floor(((now - region.addedAtMs) * 100) / Math.max(1, this.replicationDelayMs)),
        )
        return {
          region: region.name,
          state: progress >= 100 ? 'Completed' : 'Replicating',
          progress,
          details: '',
        }
      })
      const aggregatedState = summary.every((s) => s.state === 'Completed')
        ? 'Completed'
        : 'InProgress'
      out['properties'] = {
        ...(out['properties'] as object),
        replicationStatus: { aggregatedState, summary },
      }
    }
    return out
  }

  private async put(
    id: string,
    type: string,
    ref: GalleryRef,
    name: string,
    body: Record<string, unknown>,
  ): Promise<{ created: boolean; view: Record<string, unknown> }> {
    const existing = await this.store.getResource(id)
    const now = this.nowMs()
    // A GET's read-only members sent back are not stored, and a write that changes nothing
    // keeps the stored resource (docs/api.md § What a GET returns).
    const { name: _name, type: _type, etag: _etag, ...writable } = body
    const next = { ...writable, id: existing?.body['id'] ?? id }
    if (existing && isDeepStrictEqual(existing.body, next))
      return { created: false, view: this.view(existing, false) }
    const resource: StoredResource = {
      id,
      type,
      subscriptionId: ref.sub,
      resourceGroup: ref.rg,
      name: existing?.name ?? name,
      body: next,
      etag: `W/"${this.ids()}"`,
      createdAtMs: existing?.createdAtMs ?? now,
      updatedAtMs: now,
    }
    await this.store.putResource(resource)
    return { created: !existing, view: this.view(resource, false) }
  }

  private async require(id: string, what: string, name: string): Promise<StoredResource> {
    const r = await this.store.getResource(id)
    if (!r) throw Errors.ResourceNotFound(`The ${what} '${name}' was not found.`)
    return r
  }
}

function galleryNames(ref: GalleryRef): (readonly [NameKind, unknown, string])[] {
  return [
    ['subscription', ref.sub, 'subscriptionId'],
    ['resourceGroup', ref.rg, 'resourceGroupName'],
    ['gallery', ref.gallery, 'galleryName'],
  ]
}

/** Names, the body an object, its tags, and its links: what every gallery write checks first. */
function checkWrite(
  names: readonly (readonly [NameKind, unknown, string])[],
  body: unknown,
  own: string,
  caller: Caller | undefined,
  type: string,
  scope: string,
): Record<string, unknown> {
  requireNames(names)
  const b = requireObject(body)
  requireTags(b)
  requireLinkedAccess(b, { own, caller, action: `${type}/write`, scope })
  return b
}
