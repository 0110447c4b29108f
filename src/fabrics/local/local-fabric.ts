/**
 * The `local` fabric (docs/architecture.md § The local fabric): every instance is a real process
 * started from a real image
 * artifact, with its own loopback address, an OS disk (built from the artifact, `os-disks.ts`) that a
 * reimage replaces while the previous one is kept until the outcome is known, and data disks
 * (directories) that nothing but deleting the instance removes. Processes outlive the control
 * plane; `adopt()` at start re-adopts them (pid + start time) and restarts those that should run.
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Errors } from '../../errors.js'
import { computerName } from '../../core/scale-set/placement.js'
import type {
  CallOptions,
  Fabric,
  FabricModel,
  ImageArtifact,
  InstanceView,
  NewInstanceSpec,
} from '../types/fabric.js'
import { newDataDisks } from '../types/fabric.js'
import { OsDisks } from './os-disks.js'
import { ReadBatcher } from '../../util/read-batcher.js'
import type { LocalDisk, LocalInstance } from '../types/local-state.js'
import { isAlive, stopProcess, type MarkedProcess } from '../host/processes.js'
import { AddressPool } from '../host/addresses.js'
import { stopOrphans } from './orphans.js'
import {
  diskDir,
  LOCAL_EXTENSION_HANDLERS,
  probeKey,
  type LocalFabricOptions,
} from './local-fabric-options.js'
import { LocalRuns } from './local-runs.js'
import { localView } from './local-view.js'

export { LOCAL_EXTENSION_HANDLERS, type LocalFabricOptions } from './local-fabric-options.js'

export class LocalFabric implements Fabric {
  readonly name = 'local'
  readonly extensionHandlers = LOCAL_EXTENSION_HANDLERS

  /** Builds OS disks; `disks.stats` counts what it linked and repaired. */
  readonly disks: OsDisks
  private readonly rootDir: string
  private readonly addresses: AddressPool
  private sweep: Promise<readonly MarkedProcess[]> | null = null
  private readonly runs: LocalRuns

  constructor(private readonly o: LocalFabricOptions) {
    this.disks = new OsDisks(o.casDir, o.osDiskMode ?? 'auto')
    this.rootDir = resolve(o.rootDir)
    this.addresses = new AddressPool({
      prefix: o.addressPrefix,
      start: o.addressStart,
      ready: () => this.ready(),
      inUse: async () => (await o.state.listAll()).map((i) => i.privateIp),
    })
    this.runs = new LocalRuns(o, {
      rootDir: this.rootDir,
      ready: () => this.ready(),
      records: (key, ids) => this.records(key, ids),
      instanceDir: (key, id) => this.instanceDir(key, id),
      grace: () => this.grace(),
      now: () => this.now(),
    })
  }

  /**
   * Stops the instance processes of this fabric's dir that no record names (`orphans.ts`), once,
   * before the first address is handed out or process started; resolves to those it stopped.
   */
  ready(): Promise<readonly MarkedProcess[]> {
    return (this.sweep ??= stopOrphans({
      rootDir: this.rootDir,
      state: this.o.state,
      graceMs: this.grace(),
    }))
  }

  async listInstances(scaleSetKey: string, _o?: CallOptions): Promise<readonly InstanceView[]> {
    const list = (await this.o.state.list(scaleSetKey)) as LocalInstance[]
    return list
      .map((i) => localView(i, this.o.prober))
      .sort((a, b) => Number(a.instanceId) - Number(b.instanceId))
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
      const privateIp = await this.addresses.allocate(spec.subnetAddress)
      const dir = this.instanceDir(model.scaleSetKey, spec.instanceId)
      const dataDisks = newDataDisks(model, (lun) => `lun${lun}-${randomUUID().slice(0, 8)}`)
      for (const d of dataDisks) await mkdir(join(dir, 'data', `lun${d.lun}`), { recursive: true })
      const disk = this.describeDisk(1, spec.image, model)
      const record: LocalInstance = {
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
        provisioning: { state: 'creating', error: null, extensions: [] },
        dataDisks,
        healthCheck: model.healthCheck ?? null,
        customData: model.customData,
        extensions: model.extensions,
        extensionsTimeBudgetMs: model.extensionsTimeBudgetMs,
      }
      // Recorded before the disk is built and the process runs: the orchestrator sees it at once,
      // and a crash now leaves it to adopt().
      await this.o.state.put(record)
      await this.copyDisk(dir, disk)
      await this.runs.start(record)
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
      await this.runs.stopSpawn(i)
      this.o.prober.remove(probeKey(i))
      await rm(this.instanceDir(scaleSetKey, i.instanceId), { recursive: true, force: true })
      await this.o.state.remove(scaleSetKey, i.instanceId)
      this.addresses.release(i.privateIp)
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
      const next: LocalInstance = {
        ...i,
        previous: i.disk,
        disk,
        process: null,
        provisioning: { state: 'updating', error: null, extensions: [] },
        healthCheck: model.healthCheck ?? null,
        customData: model.customData,
        extensions: model.extensions,
        extensionsTimeBudgetMs: model.extensionsTimeBudgetMs,
      }
      await this.o.state.put(next)
      await this.runs.start(next)
    }
  }

  async restore(scaleSetKey: string, ids: readonly string[], o?: CallOptions): Promise<void> {
    checkSignal(o)
    for (const i of await this.records(scaleSetKey, ids)) {
      if (i.previous === null) {
        if (!i.process || !isAlive(i.process)) await this.runs.start({ ...i, wantRunning: true })
        continue
      }
      if (i.process) await stopProcess(i.process, this.grace())
      this.o.prober.remove(probeKey(i))
      const failed = i.disk
      const next: LocalInstance = {
        ...i,
        disk: { ...i.previous, startedAtMs: this.now() },
        previous: null,
        process: null,
        provisioning: { state: 'updating', error: null, extensions: [] },
      }
      await this.o.state.put(next)
      await rm(diskDir(this.instanceDir(scaleSetKey, i.instanceId), failed.n), {
        recursive: true,
        force: true,
      })
      await this.runs.start(next)
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
      // In place: the OS disk stays; extensions are provisioned again with the new model, the new
      // health check applies now, new custom data at the next reimage (docs/rollouts.md R7).
      this.o.prober.remove(probeKey(i))
      const next: LocalInstance = {
        ...i,
        disk: { ...i.disk, modelGeneration: model.modelGeneration, startedAtMs: this.now() },
        healthCheck: model.healthCheck ?? null,
        customData: model.customData,
        extensions: model.extensions,
        extensionsTimeBudgetMs: model.extensionsTimeBudgetMs,
        provisioning: { state: 'updating', error: null, extensions: [] },
      }
      await this.o.state.put(next)
      this.runs.provisionInBackground(next)
    }
  }

  async consoleLog(
    scaleSetKey: string,
    instanceId: string,
    maxBytes: number,
  ): Promise<string | undefined> {
    if ((await this.records(scaleSetKey, [instanceId])).length === 0) return undefined
    const logs = join(this.instanceDir(scaleSetKey, instanceId), 'logs')
    const parts: Buffer[] = []
    for (const name of ['console.log.1', 'console.log']) {
      const b = await readFile(join(logs, name)).catch(() => null)
      if (b) parts.push(b)
    }
    const all = Buffer.concat(parts)
    return all.subarray(Math.max(0, all.length - maxBytes)).toString('utf8')
  }

  /** At start: re-adopt live instances, restart dead ones that should run. */
  async adopt(): Promise<{ adopted: number; restarted: number }> {
    await this.ready()
    let adopted = 0
    let restarted = 0
    for (const i of (await this.o.state.listAll()) as LocalInstance[]) {
      if (!i.wantRunning) continue
      if (i.provisioning.state === 'creating') {
        await this.copyDisk(this.instanceDir(i.scaleSetKey, i.instanceId), i.disk) // interrupted creation
        await this.runs.start(i)
        restarted++
      } else if (i.process && isAlive(i.process)) {
        adopted++
        if (i.provisioning.state === 'updating') this.runs.provisionInBackground(i) // cut off by the restart
      } else {
        await this.runs.start(i)
        restarted++
      }
    }
    return { adopted, restarted }
  }

  /** A new OS disk from the artifact: cloned, linked or copied (`os-disks.ts`). */
  private async buildDisk(
    dir: string,
    n: number,
    image: ImageArtifact,
    model: FabricModel,
  ): Promise<LocalDisk> {
    const disk = this.describeDisk(n, image, model)
    await this.copyDisk(dir, disk)
    return disk
  }

  private describeDisk(n: number, image: ImageArtifact, model: FabricModel): LocalDisk {
    const digest = image.sourceUri.startsWith('cas:') ? image.sourceUri.slice(4) : ''
    return {
      n,
      digest,
      version: image.version,
      label: image.label,
      modelGeneration: model.modelGeneration,
      startedAtMs: this.now(),
      customDataDone: false,
    }
  }

  private async copyDisk(dir: string, disk: LocalDisk): Promise<void> {
    const target = diskDir(dir, disk.n)
    await rm(target, { recursive: true, force: true })
    await mkdir(join(dir, 'disks'), { recursive: true })
    await this.disks.build(disk.digest, target)
  }

  /**
   * The records of these instances. The effect runner calls the fabric once per instance, all of
   * a batch in the same tick: their reads become one query (read-batcher.ts), so the batch's
   * instances are stopped together rather than one store read apart.
   */
  private records(scaleSetKey: string, ids: readonly string[]): Promise<LocalInstance[]> {
    return this.reads.getMany(scaleSetKey, ids)
  }

  private readonly reads = new ReadBatcher<LocalInstance>(
    async (key, ids) =>
      new Map((await this.o.state.getMany(key, ids)).map((r) => [r.instanceId, r])),
  )
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

function checkSignal(o?: CallOptions): void {
  if (o?.signal?.aborted) throw Errors.Timeout('local fabric call aborted')
}
