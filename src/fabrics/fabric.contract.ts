/**
 * The contract every fabric passes (STYLE R8): create/list/delete, reimage keeping the previous
 * disk and the data disks, restore, release, update in place, idempotency, health of good and
 * broken images, cancellation. Each implementation runs it from its own test file with a factory
 * that says how to build images and how time passes for it.
 */
import { describe, expect, it } from 'vitest'
import type { Fabric, FabricModel, ImageArtifact, InstanceView } from './types/fabric.js'

export type FabricHarness = Readonly<{
  fabric: Fabric
  model: FabricModel
  /** A healthy image at version 1.0.0 and 1.1.0, and one at 1.2.0 that never becomes healthy. */
  images: Readonly<{ v1: ImageArtifact; v2: ImageArtifact; broken: ImageArtifact }>
  /** Waits (advancing a virtual clock, or polling real time) until `check` holds for the list. */
  until: (
    check: (views: readonly InstanceView[]) => boolean,
    what: string,
  ) => Promise<readonly InstanceView[]>
  close: () => Promise<void>
}>

type Create = () => Promise<FabricHarness>

export function runFabricContract(name: string, create: Create): void {
  describe(`Fabric contract: ${name}`, () => {
    bootCases(create)
    diskCases(create)
    modelAndDeleteCases(create)
  })
}

const place = (id: string, image: ImageArtifact) => ({
  instanceId: id,
  zone: '1',
  updateDomain: Number(id) % 5,
  faultDomain: 0,
  image,
})
const byId = (views: readonly InstanceView[], id: string) => views.find((v) => v.instanceId === id)
const healthy = (v: InstanceView | undefined) =>
  v?.power === 'running' && v.provisioning === 'succeeded' && v.health === 'healthy'

/** Creating: instances boot and become healthy; creating again changes nothing. */
function bootCases(create: Create): void {
  it('creates instances that boot and become healthy; creating again is a no-op', async () => {
    const h = await create()
    try {
      await h.fabric.createInstances(h.model, [place('0', h.images.v1), place('1', h.images.v1)])
      await h.fabric.createInstances(h.model, [place('0', h.images.v2)])
      const views = await h.until(
        (vs) => vs.length === 2 && vs.every(healthy),
        'two healthy instances',
      )
      expect(
        views.map((v) => [
          v.instanceId,
          v.zone,
          v.updateDomain,
          v.osImageVersion,
          v.previousOsImageVersion,
        ]),
      ).toEqual([
        ['0', '1', 0, '1.0.0', null],
        ['1', '1', 1, '1.0.0', null],
      ])
      expect(byId(views, '0')!.dataDisks.map((d) => d.lun)).toEqual(h.model.dataDiskLuns)
      expect(byId(views, '0')!.privateIp).not.toBe(byId(views, '1')!.privateIp)
    } finally {
      await h.close()
    }
  })
}

/** OS disks: reimage keeps the previous disk and the data disks; restore and release. */
function diskCases(create: Create): void {
  it('reimage builds a new OS disk, keeps the previous one and never touches data disks', async () => {
    const h = await create()
    try {
      await h.fabric.createInstances(h.model, [place('0', h.images.v1)])
      const before = byId(await h.until((vs) => healthy(byId(vs, '0')), 'instance 0 healthy'), '0')!
      await h.fabric.reimage(h.model, ['0'], h.images.v2)
      await h.fabric.reimage(h.model, ['0'], h.images.v2) // idempotent: no second new disk
      const after = byId(
        await h.until(
          (vs) => healthy(byId(vs, '0')) && byId(vs, '0')!.osImageVersion === '1.1.0',
          'instance 0 healthy on 1.1.0',
        ),
        '0',
      )!
      expect(after.previousOsImageVersion).toBe('1.0.0')
      expect(after.dataDisks).toEqual(before.dataDisks)
      expect(after.privateIp).toBe(before.privateIp)
      expect(after.bootedAtMs).toBeGreaterThanOrEqual(before.bootedAtMs)
    } finally {
      await h.close()
    }
  })

  it('restore boots the previous disk again; release drops it', async () => {
    const h = await create()
    try {
      await h.fabric.createInstances(h.model, [place('0', h.images.v1), place('1', h.images.v1)])
      await h.until((vs) => vs.length === 2 && vs.every(healthy), 'two healthy instances')
      await h.fabric.reimage(h.model, ['0', '1'], h.images.broken)
      const broken = await h.until(
        (vs) =>
          vs.every(
            (v) =>
              v.osImageVersion === '1.2.0' && v.power === 'running' && v.health === 'unhealthy',
          ),
        'both unhealthy on the broken image',
      )
      expect(broken.every((v) => v.previousOsImageVersion === '1.0.0')).toBe(true)
      await h.fabric.restore(h.model.scaleSetKey, ['0'])
      await h.fabric.release(h.model.scaleSetKey, ['1'])
      const views = await h.until(
        (vs) => healthy(byId(vs, '0')) && byId(vs, '0')!.osImageVersion === '1.0.0',
        'instance 0 back on 1.0.0',
      )
      expect(byId(views, '0')!.previousOsImageVersion).toBeNull()
      expect(byId(views, '1')).toMatchObject({
        osImageVersion: '1.2.0',
        previousOsImageVersion: null,
      })
    } finally {
      await h.close()
    }
  })
}

/** A model applied in place; deleting instances; an aborted call. */
function modelAndDeleteCases(create: Create): void {
  it('update applies a model in place and keeps the OS disk', async () => {
    const h = await create()
    try {
      await h.fabric.createInstances(h.model, [place('0', h.images.v1)])
      await h.until((vs) => healthy(byId(vs, '0')), 'instance 0 healthy')
      await h.fabric.update({ ...h.model, modelGeneration: h.model.modelGeneration + 1 }, ['0'])
      const views = await h.until(
        (vs) =>
          healthy(byId(vs, '0')) && byId(vs, '0')!.modelGeneration === h.model.modelGeneration + 1,
        'instance 0 on the new model',
      )
      expect(byId(views, '0')).toMatchObject({
        osImageVersion: '1.0.0',
        previousOsImageVersion: null,
      })
    } finally {
      await h.close()
    }
  })

  it('delete removes instances; unknown ids are ignored; an aborted call is refused', async () => {
    const h = await create()
    try {
      await h.fabric.createInstances(h.model, [place('0', h.images.v1), place('1', h.images.v1)])
      await h.fabric.deleteInstances(h.model.scaleSetKey, ['1', '99'])
      const views = await h.until((vs) => vs.length === 1, 'one instance left')
      expect(views.map((v) => v.instanceId)).toEqual(['0'])
      const aborted = AbortSignal.abort(new Error('stop'))
      await expect(
        h.fabric.reimage(h.model, ['0'], h.images.v2, { signal: aborted }),
      ).rejects.toThrow()
      expect(await h.fabric.listInstances('/no/such/set')).toEqual([])
    } finally {
      await h.close()
    }
  })
}
