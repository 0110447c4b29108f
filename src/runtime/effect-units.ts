/**
 * A plan's actions as the effect runner's units (effect-runner.ts): one per instance, each a
 * fabric or store call. One catalog lookup per image version for the whole plan, not one per
 * instance, so that a batch's reimages reach the fabric together (docs/performance.md).
 */
import type { Action, NewInstance } from '../core/rollout/types.js'
import type { ImageReference } from '../core/image/image-ref.js'
import type { Fabric, FabricModel, ImageArtifact } from '../fabrics/types/fabric.js'
import type { Store } from '../store/store.js'
import type { ImageCatalog } from './catalog.js'
import type { Clock } from './clock.js'
import type { SubnetAddresses } from './subnet-addresses.js'

export type EffectContext = Readonly<{
  scaleSetKey: string
  model: FabricModel
  image: ImageReference
  /** The set's region: where its image versions are looked up first. */
  location?: string
  /** The rollout the actions are part of, whose events note them once done (effect-notes.ts). */
  rolloutId?: string
}>

/** Catalog lookups by image version (`prefetch`). */
export type Artifacts = Map<string, Promise<ImageArtifact | undefined>>

export type Unit = Readonly<{
  instanceId: string
  type: Action['type']
  run: (signal: AbortSignal) => Promise<void>
  /** A hook call whose answer already waits for the next pass: not made again. */
  answered?: () => boolean
}>

/** What the units call: the effect runner's deps of the same names. */
type UnitDeps = Readonly<{
  fabric: Fabric
  store: Store
  catalog: ImageCatalog
  clock: Clock
  addresses?: SubnetAddresses
}>
type ArtifactOf = (version: string) => Promise<ImageArtifact>

/** The units of `actions`; a hook call's unit is the runner's own (`hookUnit`). */
export function actionUnits(
  deps: UnitDeps,
  ctx: EffectContext,
  actions: readonly Action[],
  artifacts: Artifacts,
  hookUnit: (a: Extract<Action, { type: 'callHook' }>) => Unit,
): Unit[] {
  const artifactOf: ArtifactOf = async (version) => {
    let p = artifacts.get(version)
    if (!p) artifacts.set(version, (p = deps.catalog.artifact(ctx.image, version, ctx.location)))
    const artifact = await p
    if (!artifact) throw new Error(`image version ${version} is not in the catalog`)
    return artifact
  }
  return actions.flatMap((a) =>
    a.type === 'callHook' ? [hookUnit(a)] : unitsOf(deps, ctx, a, artifactOf),
  )
}

function unitsOf(
  deps: UnitDeps,
  ctx: EffectContext,
  a: Exclude<Action, { type: 'callHook' }>,
  artifactOf: ArtifactOf,
): Unit[] {
  const { fabric, store } = deps
  const key = ctx.scaleSetKey
  const each = (ids: readonly string[], run: (id: string, signal: AbortSignal) => Promise<void>) =>
    ids.map((id): Unit => ({ instanceId: id, type: a.type, run: (signal) => run(id, signal) }))
  switch (a.type) {
    case 'reimage':
      return each(a.instanceIds, async (id, signal) =>
        fabric.reimage(ctx.model, [id], await artifactOf(a.imageVersion), { signal }),
      )
    case 'update':
      return each(a.instanceIds, (id, signal) => fabric.update(ctx.model, [id], { signal }))
    case 'restore':
      return each(a.instanceIds, (id, signal) => fabric.restore(key, [id], { signal }))
    case 'release':
      return each(a.instanceIds, (id, signal) => fabric.release(key, [id], { signal }))
    case 'delete':
      return each(a.instanceIds, async (id, signal) => {
        await fabric.deleteInstances(key, [id], { signal })
        await deps.addresses?.release(key, [id])
      })
    case 'create':
      return a.instances.map((n): Unit => ({
        instanceId: n.instanceId,
        type: a.type,
        run: (signal) => create(deps, ctx, n, artifactOf, signal),
      }))
    case 'markPending':
    case 'clearPending':
      return each(a.instanceIds, (id) => setPending(store, key, id, a.type === 'markPending'))
  }
}

/** One new instance: its subnet address claimed first (idempotent: a retry finds its own claim). */
async function create(
  deps: UnitDeps,
  ctx: EffectContext,
  n: NewInstance,
  artifactOf: ArtifactOf,
  signal: AbortSignal,
): Promise<void> {
  const image = await artifactOf(n.imageVersion)
  const { instanceId, zone, updateDomain, faultDomain } = n
  const network = ctx.model.network
  const subnetAddress =
    network && deps.addresses
      ? await deps.addresses.claim({
          ...network,
          scaleSetKey: ctx.scaleSetKey,
          instanceId,
          nowMs: deps.clock.nowMs(),
        })
      : undefined
  await deps.fabric.createInstances(
    ctx.model,
    [
      {
        instanceId,
        zone,
        updateDomain,
        faultDomain,
        image,
        ...(subnetAddress ? { subnetAddress } : {}),
      },
    ],
    { signal },
  )
}

async function setPending(
  store: Store,
  key: string,
  instanceId: string,
  pending: boolean,
): Promise<void> {
  const current = (await store.listInstanceRecords(key)).find((r) => r.instanceId === instanceId)
  const base = current ?? {
    instanceId,
    protectFromScaleIn: false,
    protectFromScaleSetActions: false,
    osUpgradePending: false,
    osUpgradeApproved: false,
  }
  await store.putInstanceRecords(key, [
    {
      ...base,
      osUpgradePending: pending,
      osUpgradeApproved: pending ? base.osUpgradeApproved : false,
    },
  ])
}
