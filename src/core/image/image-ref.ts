/**
 * Image references: what a scale set's model points at. Platform images are
 * `publisher:offer:sku:version`; gallery images are ARM ids (an image definition means "latest",
 * `/versions/{v}` pins). Anything else (managed images, VHDs) is `custom` and never auto-upgrades.
 */
import { isVersion } from './version.js'

export type ImageReference = Readonly<
  | { kind: 'platform'; publisher: string; offer: string; sku: string; version: string }
  | { kind: 'gallery'; definitionId: string; version: string }
  | { kind: 'custom'; id: string }
>

/** The ARM `imageReference` shape, as clients send it. */
export type ArmImageReference = Readonly<{
  publisher?: string
  offer?: string
  sku?: string
  version?: string
  id?: string
  exactVersion?: string
}>

const GALLERY_ID =
  /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Compute\/galleries\/[^/]+\/images\/[^/]+)(?:\/versions\/([^/]+))?$/i

/**
 * Normalises an ARM imageReference; undefined when it names neither a platform nor an ARM id.
 * @example fromArmImageReference({ id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/x/images/web' })
 *   → { kind: 'gallery', definitionId: '…/images/web', version: 'latest' }
 */
export function fromArmImageReference(ref: ArmImageReference): ImageReference | undefined {
  // A client may send anything here (null, a string, an array): not a reference.
  if (ref === null || typeof ref !== 'object' || Array.isArray(ref)) return undefined
  if (typeof ref.id === 'string' && ref.id !== '') {
    const m = GALLERY_ID.exec(ref.id)
    if (!m) return { kind: 'custom', id: ref.id }
    return { kind: 'gallery', definitionId: m[1] as string, version: m[2] ?? 'latest' }
  }
  const { publisher, offer, sku, version } = ref
  if (!publisher || !offer || !sku || !version) return undefined
  return { kind: 'platform', publisher, offer, sku, version }
}

/**
 * Back to ARM shape; `exactVersion` (read-only) is added when known.
 * @example toArmImageReference(platformRef, '1.2.0') → { publisher, offer, sku, version: 'latest', exactVersion: '1.2.0' }
 */
export function toArmImageReference(ref: ImageReference, exactVersion?: string): ArmImageReference {
  const exact = exactVersion === undefined ? {} : { exactVersion }
  switch (ref.kind) {
    case 'platform':
      return {
        publisher: ref.publisher,
        offer: ref.offer,
        sku: ref.sku,
        version: ref.version,
        ...exact,
      }
    case 'gallery':
      return { id: withVersion(ref, ref.version), ...exact }
    case 'custom':
      return { id: ref.id, ...exact }
  }
}

/** True when the reference follows the newest version (`latest`, or a gallery definition id). */
export function isLatest(ref: ImageReference): boolean {
  return ref.kind !== 'custom' && ref.version.toLowerCase() === 'latest'
}

/** True when the reference pins an exact version. */
export function isPinned(ref: ImageReference): boolean {
  return ref.kind !== 'custom' && isVersion(ref.version)
}

/**
 * A case-insensitive key for the image line, version excluded: two references with the same key
 * draw from the same list of versions.
 * @example imageLineKey({kind:'platform', publisher:'Canonical', offer:'UbuntuServer', sku:'18.04-LTS', version:'latest'})
 *   === 'platform:canonical:ubuntuserver:18.04-lts'
 */
export function imageLineKey(ref: ImageReference): string {
  switch (ref.kind) {
    case 'platform':
      return `platform:${ref.publisher}:${ref.offer}:${ref.sku}`.toLowerCase()
    case 'gallery':
      return `gallery:${ref.definitionId}`.toLowerCase()
    case 'custom':
      return `custom:${ref.id}`.toLowerCase()
  }
}

/**
 * A human label of an exact image version, as `OSROLL_IMAGE` shows it.
 * @example imageLabel(platformRef, '1.2.0') === 'Canonical:UbuntuServer:18.04-LTS:1.2.0'
 */
export function imageLabel(ref: ImageReference, version: string): string {
  switch (ref.kind) {
    case 'platform':
      return `${ref.publisher}:${ref.offer}:${ref.sku}:${version}`
    case 'gallery':
      return withVersion(ref, version)
    case 'custom':
      return ref.id
  }
}

function withVersion(ref: { definitionId: string }, version: string): string {
  return version.toLowerCase() === 'latest'
    ? ref.definitionId
    : `${ref.definitionId}/versions/${version}`
}
