/**
 * Where a qemu VM's files are (`{vm dir}/disks/…`, docs/qemu.md § What an instance is) and how
 * they are made: the data disks with the instance, an OS disk (a qcow2 overlay on the version's
 * read-only base) and its NoCloud seed with each new disk.
 */
import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { artifactDir } from '../host/artifacts.js'
import { buildSeed, createDataDisk, createOverlay } from './disks.js'
import { readManifest, type QemuManifest } from './manifest.js'
import { vmDir, type QemuDisk, type QemuInstance } from './qemu-state.js'

export type VmFilesOptions = Readonly<{
  rootDir: string
  casDir: string
  /** A data disk's size when the model gives no `diskSizeGB`. Default 256 MiB. */
  dataDiskMb?: number
}>

export class VmFiles {
  constructor(private readonly o: VmFilesOptions) {}

  manifestOf(disk: QemuDisk): Promise<QemuManifest> {
    return readManifest(artifactDir(this.o.casDir, disk.digest))
  }

  async makeDisks(i: QemuInstance): Promise<void> {
    await mkdir(join(this.dirOf(i), 'disks'), { recursive: true })
    for (const d of i.dataDisks) {
      const path = this.dataDiskPath(i, d.lun)
      const sizeMb = d.sizeGB !== undefined ? d.sizeGB * 1024 : (this.o.dataDiskMb ?? 256)
      if (!existsSync(path)) await createDataDisk(path, sizeMb, `lun${d.lun}`)
    }
    await this.makeOsDisk(i)
  }

  async makeOsDisk(i: QemuInstance): Promise<void> {
    const m = await this.manifestOf(i.disk)
    const base = join(artifactDir(this.o.casDir, i.disk.digest), m.disk.path)
    await mkdir(join(this.dirOf(i), 'disks'), { recursive: true })
    await createOverlay(base, m.disk.format, this.osDiskPath(i, i.disk.n))
    await this.makeSeed(i)
  }

  /** The seed of the current OS disk: its instance-id is the vmId and the disk's number. */
  async makeSeed(i: QemuInstance): Promise<void> {
    await buildSeed(this.seedPath(i, i.disk.n), {
      instanceId: `${i.vmId}-os${i.disk.n}`,
      hostname: i.computerName,
      osrollInstanceId: i.instanceId,
      userData: i.customData ? Buffer.from(i.customData, 'base64') : null,
    })
  }

  dirOf(i: Pick<QemuInstance, 'scaleSetKey' | 'instanceId'>): string {
    return vmDir(this.o.rootDir, i.scaleSetKey, i.instanceId)
  }

  osDiskPath(i: QemuInstance, n: number): string {
    return join(this.dirOf(i), 'disks', `os-${n}.qcow2`)
  }

  /** Each OS disk has its own seed, so that a VM on one never sees the next one's. */
  seedPath(i: QemuInstance, n: number): string {
    return join(this.dirOf(i), 'disks', `seed-${n}.iso`)
  }

  async removeOsDisk(i: QemuInstance, n: number): Promise<void> {
    await rm(this.osDiskPath(i, n), { force: true })
    await rm(this.seedPath(i, n), { force: true })
  }

  dataDiskPath(i: QemuInstance, lun: number): string {
    return join(this.dirOf(i), 'disks', `data-${lun}.qcow2`)
  }
}
