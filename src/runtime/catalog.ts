/**
 * What the orchestrator asks of the image catalog: the latest eligible version of an image line
 * in a region (docs/api.md § Images and galleries), and the artifact a fabric boots for an exact
 * version. The API's
 * catalog (platform images, galleries with replication) implements it in the store;
 * `MemoryCatalog` serves tests and the simulator.
 */
import { imageLineKey, isPinned } from '../core/image/image-ref.js'
import type { ImageReference } from '../core/image/image-ref.js'
import { compareVersions } from '../core/image/version.js'
import type { ImageArtifact } from '../fabrics/types/fabric.js'

export type EligibleVersion = Readonly<{ version: string; eligibleAtMs: number }>

export interface ImageCatalog {
  /** The highest eligible version, ignoring the versions in `exclude`. */
  latestEligible(
    image: ImageReference,
    location: string,
    exclude?: ReadonlySet<string>,
  ): Promise<EligibleVersion | null>
  /** The artifact of a version; `location` (the set's region) is looked at first when given. */
  artifact(
    image: ImageReference,
    version: string,
    location?: string,
  ): Promise<ImageArtifact | undefined>
  /** When a version not yet eligible becomes so (gallery replication), to wake up then. */
  nextEligibilityAtMs?(image: ImageReference, location: string): Promise<number | null>
}

export class MemoryCatalog implements ImageCatalog {
  private readonly lines = new Map<
    string,
    Map<string, { artifact: ImageArtifact; locations: Map<string, number> }>
  >()

  /** Publishes `version` of an image line in `location`, eligible from `atMs`. */
  publish(
    image: ImageReference,
    version: string,
    sourceUri: string,
    location: string,
    atMs: number,
  ): void {
    const key = imageLineKey(image)
    let line = this.lines.get(key)
    if (!line) this.lines.set(key, (line = new Map()))
    let entry = line.get(version)
    if (!entry) {
      entry = { artifact: { version, label: `${key}:${version}`, sourceUri }, locations: new Map() }
      line.set(version, entry)
    }
    entry.locations.set(location, atMs)
  }

  async latestEligible(
    image: ImageReference,
    location: string,
    exclude?: ReadonlySet<string>,
  ): Promise<EligibleVersion | null> {
    let best: EligibleVersion | null = null
    for (const [version, entry] of this.lines.get(imageLineKey(image)) ?? []) {
      const at = entry.locations.get(location)
      if (at === undefined || exclude?.has(version)) continue
      if (best === null || compareVersions(version, best.version) > 0)
        best = { version, eligibleAtMs: at }
    }
    return best
  }

  async artifact(image: ImageReference, version: string): Promise<ImageArtifact | undefined> {
    return this.lines.get(imageLineKey(image))?.get(version)?.artifact
  }
}

/**
 * The version new instances get (the model's `exactVersion`): the pinned one, or the latest
 * eligible version that has not faulted a platform rollout of this set — osroll does not build
 * new instances from an image it has just seen fail (Azure would; see docs/decisions.md). The
 * reconciler and the scale-set view both ask this. `cap` (a set held by a rollout plan,
 * core/waves/membership.ts `heldVersionCap`) is the newest version it may be: the newest eligible
 * one not above it.
 */
export async function modelVersion(
  catalog: Pick<ImageCatalog, 'latestEligible'>,
  state: Readonly<{
    spec: Readonly<{ image: ImageReference; location: string }>
    faultedVersions: readonly string[]
  }>,
  cap: string | null = null,
): Promise<string | null> {
  const { image, location } = state.spec
  if (image.kind === 'custom') return null
  if (isPinned(image)) return image.version
  const exclude = new Set(state.faultedVersions)
  // Each turn leaves out one version above the cap: as many turns as there are such versions.
  for (;;) {
    const latest = await catalog.latestEligible(image, location, exclude)
    if (latest === null) return null
    if (cap === null || compareVersions(latest.version, cap) <= 0) return latest.version
    exclude.add(latest.version)
  }
}
