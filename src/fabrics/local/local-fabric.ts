/**
 * The `local` fabric (SPEC §9): every instance is a real process started from a real image
 * artifact, with its own loopback address, an OS disk (a private copy of the artifact) that a
 * reimage replaces while the previous one is kept until the outcome is known, and data disks
 * (directories) that nothing but deleting the instance removes. Processes outlive the control
 * plane; `adopt()` at start re-adopts them (pid + start time) and restarts those that should run.
 */
import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { cp, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { Errors } from '../../errors.js'
import { computerName } from '../../core/scale-set/placement.js'
import type {
  CallOptions,
  Fabric,
  FabricModel,
  HealthProber,
  ImageArtifact,
  InstanceView,
  NewInstanceSpec,
} from '../fabric.js'
import { artifactDir } from './artifacts.js'
import type { LocalDisk, LocalInstance, LocalStateStore } from './local-state.js'
import { isAlive, startProcess, stopProcess } from './processes.js'

export type LocalFabricOptions = Readonly<{
  /** Where instance directories live (`{data-dir}/instances`). */
  rootDir: string
  /** The content-addressed artifact store (`{data-dir}/images`). */
  casDir: string
  state: LocalStateStore
  prober: HealthProber
  /** First two octets of the instances' /16, default 127.77. */
  addressPrefix?: string
  /** First address index to hand out (tests give each file its own slice), default 1. */
  addressStart?: number
  stopGraceMs?: number
  nowMs?: () => number
}>

/** Handlers of this build: Application Health (probed by osroll) and Service Fabric node. */
export const LOCAL_EXTENSION_HANDLERS: ReadonlySet<string> = new Set(
  [
    'Microsoft.ManagedServices.ApplicationHealthLinux',
    'Microsoft.ManagedServices.ApplicationHealthWindows',
    'Microsoft.Azure.ServiceFabric.ServiceFabricNode',
    'Microsoft.Azure.ServiceFabric.ServiceFabricLinuxNode',
  ].map((s) => s.toLowerCase()),
)

type Stored = LocalInstance

export class LocalFabric implements Fabric {
  readonly name = 'local'
  readonly extensionHandlers = LOCAL_EXTENSION_HANDLERS
  private allocation: Promise<unknown> = Promise.resolve()

  constructor(private readonly o: LocalFabricOptions) {}

  async listInstances(scaleSetKey: string, _o?: CallOptions): Promise<readonly InstanceView[]> {
    const list = (await this.o.state.list(scaleSetKey)) as Stored[]
    return list.map((i) => this.view(i)).sort((a, b) => Number(a.instanceId) - Number(b.instanceId))
  }

  async createInstances(
    model: FabricModel,
    specs: readonly NewInstanceSpec[],
    o?: CallOptions,
  ): Promise<void> {
    checkSignal(o)
    const existing = new Set((await this.o.state.list(model.scaleSetKey)).map((i) => i.instanceId))
    for (const spec of specs) {
      if (existing.has(spec.instanceId)) continue
      const privateIp = await this.allocateAddress()
      const dir = this.instanceDir(model.scaleSetKey, spec.instanceId)
      const dataDisks = model.dataDiskLuns.map((lun) => ({
        lun,
        diskId: `lun${lun}-${randomUUID().slice(0, 8)}`,
      }))
      for (const d of dataDisks) await mkdir(join(dir, 'data', `lun${d.lun}`), { recursive: true })
      const disk = await this.buildDisk(dir, 1, spec.image, model)
      const record: Stored = {
        scaleSetKey: model.scaleSetKey,
        instanceId: spec.instanceId,
        zone: spec.zone,
        updateDomain: spec.updateDomain,
        faultDomain: spec.faultDomain,
        privateIp,
        computerName: computerName(model.computerNamePrefix, spec.instanceId),
        disk,
        previous: null,
        process: null,
        wantRunning: true,
        provisioningError: null,
        dataDisks,
        healthCheck: model.healthCheck ?? null,
        customData: model.customData,
      }
      await this.o.state.put(record) // recorded before it runs: a crash now leaves it to adopt()
      await this.start(record)
    }
  }

  async deleteInstances(
    scaleSetKey: string,
    ids: readonly string[],
    o?: CallOptions,
  ): Promise<void> {
    checkSignal(o)
    for (const i of await this.records(scaleSetKey, ids)) {
      await this.o.state.put({ ...i, wantRunning: false })
      if (i.process) await stopProcess(i.process, this.grace())
      this.o.prober.remove(probeKey(i))
      await rm(this.instanceDir(scaleSetKey, i.instanceId), { recursive: true, force: true })
      await this.o.state.remove(scaleSetKey, i.instanceId)
      this.reserved.delete(i.privateIp)
    }
  }

  async reimage(
    model: FabricModel,
    ids: readonly string[],
    image: ImageArtifact,
    o?: CallOptions,
  ): Promise<void> {
    checkSignal(o)
    for (const i of await this.records(model.scaleSetKey, ids)) {
      if (i.disk.version === image.version && i.previous !== null) continue // already done
      if (i.process) await stopProcess(i.process, this.grace())
      this.o.prober.remove(probeKey(i))
      const dir = this.instanceDir(model.scaleSetKey, i.instanceId)
      if (i.previous) await rm(diskDir(dir, i.previous.n), { recursive: true, force: true })
      const disk = await this.buildDisk(dir, i.disk.n + 1, image, model)
      const next: Stored = {
        ...i,
        previous: i.disk,
        disk,
        process: null,
        provisioningError: null,
        healthCheck: model.healthCheck ?? null,
        customData: model.customData,
      }
      await this.o.state.put(next)
      await this.start(next)
    }
  }

  async restore(scaleSetKey: string, ids: readonly string[], o?: CallOptions): Promise<void> {
    checkSignal(o)
    for (const i of await this.records(scaleSetKey, ids)) {
      if (i.previous === null) {
        if (!i.process || !isAlive(i.process)) await this.start({ ...i, wantRunning: true })
        continue
      }
      if (i.process) await stopProcess(i.process, this.grace())
      this.o.prober.remove(probeKey(i))
      const failed = i.disk
      const next: Stored = {
        ...i,
        disk: { ...i.previous, startedAtMs: this.now() },
        previous: null,
        process: null,
        provisioningError: null,
      }
      await this.o.state.put(next)
      await rm(diskDir(this.instanceDir(scaleSetKey, i.instanceId), failed.n), {
        recursive: true,
        force: true,
      })
      await this.start(next)
    }
  }

  async release(scaleSetKey: string, ids: readonly string[], o?: CallOptions): Promise<void> {
    checkSignal(o)
    for (const i of await this.records(scaleSetKey, ids)) {
      if (i.previous === null) continue
      await this.o.state.put({ ...i, previous: null })
      await rm(diskDir(this.instanceDir(scaleSetKey, i.instanceId), i.previous.n), {
        recursive: true,
        force: true,
      })
    }
  }

  async update(model: FabricModel, ids: readonly string[], o?: CallOptions): Promise<void> {
    checkSignal(o)
    for (const i of await this.records(model.scaleSetKey, ids)) {
      if (i.disk.modelGeneration >= model.modelGeneration) continue
      // Extensions of this build need no re-provisioning (health is probed by osroll); the new
      // health check and custom data take effect now and at the next reimage respectively.
      this.o.prober.remove(probeKey(i))
      await this.o.state.put({
        ...i,
        disk: { ...i.disk, modelGeneration: model.modelGeneration, startedAtMs: this.now() },
        healthCheck: model.healthCheck ?? null,
        customData: model.customData,
      })
    }
  }

  /** At start: re-adopt live instances, restart dead ones that should run. */
  async adopt(): Promise<{ adopted: number; restarted: number }> {
    let adopted = 0
    let restarted = 0
    for (const i of (await this.o.state.listAll()) as Stored[]) {
      if (!i.wantRunning) continue
      if (i.process && isAlive(i.process)) adopted++
      else {
        await this.start(i)
        restarted++
      }
    }
    return { adopted, restarted }
  }

  private view(i: Stored): InstanceView {
    const alive = i.process !== null && isAlive(i.process)
    if (alive && i.healthCheck)
      this.o.prober.set(probeKey(i), { ...i.healthCheck, host: i.privateIp })
    const health = !alive
      ? 'unhealthy'
      : i.healthCheck
        ? (this.o.prober.state(probeKey(i)) ?? 'initializing')
        : 'healthy'
    return {
      instanceId: i.instanceId,
      zone: i.zone,
      updateDomain: i.updateDomain,
      faultDomain: i.faultDomain,
      osImageVersion: i.disk.version,
      previousOsImageVersion: i.previous?.version ?? null,
      modelGeneration: i.disk.modelGeneration,
      power: alive ? 'running' : 'stopped',
      provisioning: i.provisioningError ? 'failed' : 'succeeded',
      provisioningError: i.provisioningError,
      health,
      bootedAtMs: i.disk.startedAtMs,
      privateIp: i.privateIp,
      dataDisks: i.dataDisks,
      extensions: [],
    }
  }

  /** Starts `boot` on the instance's current disk and records the process. */
  private async start(i: Stored): Promise<void> {
    const dir = this.instanceDir(i.scaleSetKey, i.instanceId)
    const osDisk = diskDir(dir, i.disk.n)
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: dir,
      OSROLL_INSTANCE_ID: i.instanceId,
      OSROLL_COMPUTER_NAME: i.computerName,
      OSROLL_PRIVATE_IP: i.privateIp,
      OSROLL_IMAGE: i.disk.label,
      OSROLL_IMAGE_VERSION: i.disk.version,
      OSROLL_ZONE: i.zone ?? '',
      OSROLL_UPDATE_DOMAIN: String(i.updateDomain),
      OSROLL_FAULT_DOMAIN: String(i.faultDomain),
      OSROLL_DATA_DISKS: JSON.stringify(
        Object.fromEntries(i.dataDisks.map((d) => [d.lun, join(dir, 'data', `lun${d.lun}`)])),
      ),
    }
    for (const d of i.dataDisks) env[`OSROLL_DATA_DISK_${d.lun}`] = join(dir, 'data', `lun${d.lun}`)
    if (i.customData) {
      const file = join(dir, 'customdata')
      await writeFile(file, Buffer.from(i.customData, 'base64'), { mode: 0o600 })
      env['OSROLL_CUSTOM_DATA_FILE'] = file
    }
    await mkdir(join(dir, 'logs'), { recursive: true })
    const startedAtMs = this.now()
    try {
      const proc = await startProcess({
        command: join(osDisk, 'boot'),
        cwd: osDisk,
        env,
        logFile: join(dir, 'logs', 'console.log'),
      })
      await this.o.state.put({
        ...i,
        wantRunning: true,
        process: proc,
        disk: { ...i.disk, startedAtMs },
        provisioningError: null,
      })
    } catch (err) {
      const message = `The instance could not be started from image ${i.disk.label}: ${(err as Error).message}`
      await this.o.state.put({
        ...i,
        wantRunning: true,
        process: null,
        disk: { ...i.disk, startedAtMs },
        provisioningError: message,
      })
    }
  }

  /** A private copy of the artifact: reflinked where the filesystem allows, else copied. */
  private async buildDisk(
    dir: string,
    n: number,
    image: ImageArtifact,
    model: FabricModel,
  ): Promise<LocalDisk> {
    const digest = image.sourceUri.startsWith('cas:') ? image.sourceUri.slice(4) : ''
    const source = artifactDir(this.o.casDir, digest)
    const target = diskDir(dir, n)
    await rm(target, { recursive: true, force: true })
    await mkdir(join(dir, 'disks'), { recursive: true })
    await cp(source, target, {
      recursive: true,
      mode: constants.COPYFILE_FICLONE,
      verbatimSymlinks: true,
    })
    return {
      n,
      digest,
      version: image.version,
      label: image.label,
      modelGeneration: model.modelGeneration,
      startedAtMs: this.now(),
    }
  }

  private async records(scaleSetKey: string, ids: readonly string[]): Promise<Stored[]> {
    const wanted = new Set(ids)
    return ((await this.o.state.list(scaleSetKey)) as Stored[]).filter((i) =>
      wanted.has(i.instanceId),
    )
  }

  /**
   * The lowest free address of the /16 (x.y.*.0 and x.y.*.255 skipped), one allocation at a
   * time; an address stays reserved in memory until the fabric deletes its instance, so two
   * creations in flight never share one.
   */
  private allocateAddress(): Promise<string> {
    const next = this.allocation.then(async () => {
      const used = new Set([
        ...(await this.o.state.listAll()).map((i) => i.privateIp),
        ...this.reserved,
      ])
      const prefix = this.o.addressPrefix ?? '127.77'
      for (let n = this.o.addressStart ?? 1; n < 65_536; n++) {
        const ip = `${prefix}.${n >> 8}.${n & 255}`
        if ((n & 255) === 0 || (n & 255) === 255 || used.has(ip)) continue
        this.reserved.add(ip)
        return ip
      }
      throw Errors.FabricOperationFailed(`No free address left in ${prefix}.0.0/16.`)
    })
    this.allocation = next.catch(() => undefined)
    return next
  }

  private readonly reserved = new Set<string>()

  private instanceDir(scaleSetKey: string, instanceId: string): string {
    const set = createHash('sha256').update(scaleSetKey).digest('hex').slice(0, 16)
    return join(this.o.rootDir, set, instanceId)
  }

  private grace(): number {
    return this.o.stopGraceMs ?? 10_000
  }

  private now(): number {
    return this.o.nowMs?.() ?? Date.now()
  }
}

function diskDir(instanceDir: string, n: number): string {
  return join(instanceDir, 'disks', `os-${n}`)
}

function probeKey(i: Pick<LocalInstance, 'scaleSetKey' | 'instanceId' | 'disk'>): string {
  return `${i.scaleSetKey}|${i.instanceId}|${i.disk.n}`
}

function checkSignal(o?: CallOptions): void {
  if (o?.signal?.aborted) throw Errors.Timeout('local fabric call aborted')
}
