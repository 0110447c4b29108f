/**
 * The `qemu` fabric (issue 19): every instance is a QEMU virtual machine booting a Linux kernel
 * from a real OS disk. The OS disk is a qcow2 overlay on the image version's read-only base; a
 * reimage boots a new overlay on the target's base and keeps the previous overlay until the
 * outcome is known (restore boots it again, release deletes it). Data disks are qcow2 block
 * devices with stable serials that nothing but deleting the instance touches. Custom data reaches
 * the guest cloud-init's way, as a NoCloud seed whose instance-id changes with each OS disk.
 * Each VM's guest ports are forwarded from its own loopback address (QEMU user networking, no
 * root), where the health prober and load-balancer probes reach it like any instance.
 *
 * VMs outlive the control plane: a QEMU process is started detached with the instance marker
 * (`host/processes.ts`), its intent recorded before the spawn, its pid and start time after;
 * `adopt()` at start stops any marked QEMU no record names, re-adopts the live ones and restarts
 * the dead ones that should run.
 */
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, readdir, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { computerName } from '../../core/scale-set/placement.js'
import { Errors } from '../../errors.js'
import type {
  CallOptions,
  Fabric,
  FabricModel,
  ImageArtifact,
  InstanceView,
  NewInstanceSpec,
} from '../types/fabric.js'
import { newDataDisks } from '../types/fabric.js'
import { artifactDir, importArtifact } from '../host/artifacts.js'
import { AddressPool } from '../host/addresses.js'
import { crashPoint, findMarked, isAlive } from '../host/processes.js'
import { METADATA_RELAY, METADATA_SOCKET, MetadataSockets, writeRelay } from './metadata-sockets.js'
import { readManifest } from './manifest.js'
import { probeKey, type QemuDisk, type QemuInstance } from './qemu-state.js'
import { QEMU_EXTENSION_HANDLERS, QEMU_TOOLS, type QemuFabricOptions } from './qemu-options.js'
import { requireTools } from './tools.js'
import { CONSOLE_LOG, CONSOLE_ROTATE_BYTES, consoleTail, rotateConsole } from './console-log.js'
import { hostTscKhz } from './vm.js'
import { GuestAgentEndpoint } from './guest-agent-endpoint.js'
import { VmFiles } from './vm-files.js'
import { VmLauncher } from './vm-launcher.js'
import { vmView, type ViewContext } from './vm-view.js'

export { QEMU_EXTENSION_HANDLERS, QEMU_TOOLS, type QemuFabricOptions } from './qemu-options.js'

export class QemuFabric implements Fabric {
  readonly name = 'qemu'
  readonly extensionHandlers = QEMU_EXTENSION_HANDLERS
  private readonly rootDir: string
  private readonly addresses: AddressPool
  private readonly sockets: MetadataSockets | null
  private readonly agent: GuestAgentEndpoint
  private readonly files: VmFiles
  private readonly vms: VmLauncher
  private readonly viewContext: ViewContext
  private sweep: Promise<number> | null = null

  constructor(private readonly o: QemuFabricOptions) {
    requireTools(QEMU_TOOLS)
    this.rootDir = resolve(o.rootDir)
    this.agent = new GuestAgentEndpoint({
      rootDir: this.rootDir,
      state: o.state,
      nowMs: () => this.now(),
      ...(o.onChange ? { onChange: o.onChange } : {}),
      ...(o.downloads ? { downloads: o.downloads } : {}),
    })
    this.sockets = o.metadata ? new MetadataSockets(this.agent.around(o.metadata)) : null
    this.addresses = new AddressPool({
      prefix: o.addressPrefix,
      start: o.addressStart,
      ready: () => this.ready(),
      inUse: async () => (await o.state.listAll()).map((i) => i.privateIp),
    })
    this.files = new VmFiles({
      rootDir: this.rootDir,
      casDir: o.casDir,
      ...(o.dataDiskMb !== undefined ? { dataDiskMb: o.dataDiskMb } : {}),
    })
    this.vms = new VmLauncher(o, {
      rootDir: this.rootDir,
      files: this.files,
      sockets: this.sockets,
      tscKhz: hostTscKhz(),
      ready: () => this.ready(),
      now: () => this.now(),
    })
    this.viewContext = {
      prober: o.prober,
      agent: this.agent,
      ...(o.accel ? { accel: o.accel } : {}),
      ...(o.accelReason !== undefined ? { accelReason: o.accelReason } : {}),
    }
  }

  /**
   * Imports an image version's artifact (publish): it must hold a manifest whose kernel, initrd
   * and disk exist and whose disk qemu-img reads; its files become a read-only base.
   * @example await fabric.prepareSource('file:///srv/images/web-1.1.0') → 'cas:sha256-…'
   */
  async prepareSource(uri: string): Promise<string> {
    const digest = await importArtifact(uri, this.o.casDir, undefined, async (dir) => {
      await readManifest(dir)
    })
    const dir = artifactDir(this.o.casDir, digest)
    for (const f of await readdir(dir)) await chmod(join(dir, f), 0o444)
    return `cas:${digest}`
  }

  /**
   * Stops the VMs of this fabric's dir that no record names, once, before anything starts, and
   * writes the metadata relay the VMs' QEMU runs.
   */
  ready(): Promise<number> {
    return (this.sweep ??= (async () => {
      if (this.sockets) await writeRelay(join(this.rootDir, METADATA_RELAY))
      return this.vms.stopOrphans()
    })())
  }

  /** Stops serving the guests' metadata (osroll stops; the VMs run on and reconnect later). */
  async close(): Promise<void> {
    await this.sockets?.closeAll()
  }

  async listInstances(scaleSetKey: string, _o?: CallOptions): Promise<readonly InstanceView[]> {
    const out: InstanceView[] = []
    for (let i of await this.o.state.list(scaleSetKey)) {
      i = await this.vms.noticeDeath(i)
      const max = this.o.consoleRotateBytes ?? CONSOLE_ROTATE_BYTES
      await rotateConsole(join(this.files.dirOf(i), CONSOLE_LOG), max)
      out.push(vmView(i, await this.agent.progressOf(i), this.viewContext))
    }
    return out.sort((a, b) => Number(a.instanceId) - Number(b.instanceId))
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
      const record: QemuInstance = {
        scaleSetKey: model.scaleSetKey,
        instanceId: spec.instanceId,
        vmId: randomUUID(),
        zone: spec.zone,
        updateDomain: spec.updateDomain,
        faultDomain: spec.faultDomain,
        privateIp,
        computerName: computerName(model.computerNamePrefix, spec.instanceId),
        disk: this.describeDisk(1, spec.image, model),
        previous: null,
        process: null,
        spawning: null,
        wantRunning: true,
        provisioning: { state: 'creating', error: null },
        dataDisks: newDataDisks(model, (lun) => `lun${lun}-${randomUUID().slice(0, 8)}`),
        healthCheck: model.healthCheck ?? null,
        customData: model.customData,
        vmSize: model.vmSize ?? null,
        ...agentModel(model),
      }
      // Recorded before any disk is made: the orchestrator sees it at once, and a crash now
      // leaves it to adopt().
      await this.o.state.put(record)
      await this.files.makeDisks(record)
      await this.vms.start(record)
    }
  }

  async deleteInstances(
    scaleSetKey: string,
    ids: readonly string[],
    o?: CallOptions,
  ): Promise<void> {
    checkSignal(o)
    for (const i of await this.o.state.getMany(scaleSetKey, ids)) {
      await this.o.state.put({ ...i, wantRunning: false })
      await this.vms.stopInstance(i)
      await this.sockets?.close(join(this.files.dirOf(i), METADATA_SOCKET))
      await rm(this.files.dirOf(i), { recursive: true, force: true })
      this.agent.forget(i)
      await this.o.state.remove(scaleSetKey, i.instanceId)
      this.addresses.release(i.privateIp)
    }
  }

  /**
   * The new OS disk is made first (files no record names yet), then recorded as the instance's
   * disk with no process, and only then is the old VM stopped: a crash before the record leaves
   * the old VM running and the reimage to be done again; a crash after it leaves `adopt()` to stop
   * the old VM as an orphan and boot the new disk, once.
   */
  async reimage(
    model: FabricModel,
    ids: readonly string[],
    image: ImageArtifact,
    o?: CallOptions,
  ): Promise<void> {
    checkSignal(o)
    for (const i of await this.o.state.getMany(model.scaleSetKey, ids)) {
      if (i.disk.version === image.version && i.previous !== null) {
        if (cutShort(i)) await this.vms.start(i) // recorded, never started
        continue
      }
      const disk = this.describeDisk(i.disk.n + 1, image, model)
      const next: QemuInstance = {
        ...i,
        previous: i.disk,
        disk,
        process: null,
        spawning: null,
        provisioning: { state: 'updating', error: null },
        healthCheck: model.healthCheck ?? null,
        customData: model.customData,
        vmSize: model.vmSize ?? null,
        ...agentModel(model),
      }
      await this.files.makeOsDisk(next)
      await this.o.state.put(next)
      crashPoint('reimage-recorded')
      await this.vms.stopInstance(i)
      if (i.previous) await this.files.removeOsDisk(i, i.previous.n)
      await this.vms.start(next)
    }
  }

  /** As `reimage`: the switch back is recorded before the failed disk's VM stops. */
  async restore(scaleSetKey: string, ids: readonly string[], o?: CallOptions): Promise<void> {
    checkSignal(o)
    for (const i of await this.o.state.getMany(scaleSetKey, ids)) {
      if (i.previous === null) {
        if (cutShort(i) || !i.process || !isAlive(i.process))
          await this.vms.start({ ...i, wantRunning: true })
        continue
      }
      const next: QemuInstance = {
        ...i,
        disk: { ...i.previous, startedAtMs: this.now() },
        previous: null,
        process: null,
        spawning: null,
        provisioning: { state: 'updating', error: null },
      }
      await this.o.state.put(next)
      await this.vms.stopInstance(i)
      await this.files.removeOsDisk(i, i.disk.n)
      await this.vms.start(next)
    }
  }

  async release(scaleSetKey: string, ids: readonly string[], o?: CallOptions): Promise<void> {
    checkSignal(o)
    for (const i of await this.o.state.getMany(scaleSetKey, ids)) {
      if (i.previous === null) continue
      await this.o.state.put({ ...i, previous: null })
      await this.files.removeOsDisk(i, i.previous.n)
    }
  }

  async update(model: FabricModel, ids: readonly string[], o?: CallOptions): Promise<void> {
    checkSignal(o)
    for (const i of await this.o.state.getMany(model.scaleSetKey, ids)) {
      if (i.disk.modelGeneration >= model.modelGeneration) continue
      // In place: the OS disk and the VM stay; the new health check applies now, new custom
      // data with the next OS disk; the guest agent runs the extensions again (a new goal).
      this.o.prober.remove(probeKey(i))
      await this.o.state.put({
        ...i,
        disk: { ...i.disk, modelGeneration: model.modelGeneration, startedAtMs: this.now() },
        healthCheck: model.healthCheck ?? null,
        customData: model.customData,
        ...agentModel(model),
      })
    }
  }

  async consoleLog(
    scaleSetKey: string,
    instanceId: string,
    maxBytes: number,
  ): Promise<string | undefined> {
    const [i] = await this.o.state.getMany(scaleSetKey, [instanceId])
    if (!i) return undefined
    return consoleTail(join(this.files.dirOf(i), CONSOLE_LOG), maxBytes)
  }

  /** At start: stop orphans, re-adopt live VMs, restart the dead ones that should run. */
  async adopt(): Promise<{ adopted: number; restarted: number }> {
    await this.ready()
    let adopted = 0
    let restarted = 0
    const marked = findMarked((root) => root === this.rootDir)
    for (let i of await this.o.state.listAll()) {
      if (!i.wantRunning) continue
      // Spawned but not yet recorded when osroll stopped: the marker says which spawn it is.
      const spawned = i.spawning && marked.find((p) => p.spawnId === i.spawning?.spawnId)
      if (spawned) i = await this.vms.recordStarted(i, spawned, i.spawning?.atMs ?? this.now())
      if (i.process && isAlive(i.process)) {
        await this.vms.openMetadata(i)
        adopted++
        continue
      }
      if (i.provisioning.state === 'creating') await this.files.makeDisks(i)
      else if (!existsSync(this.files.osDiskPath(i, i.disk.n))) await this.files.makeOsDisk(i)
      await this.vms.start(i)
      restarted++
    }
    return { adopted, restarted }
  }

  private describeDisk(n: number, image: ImageArtifact, model: FabricModel): QemuDisk {
    if (!image.sourceUri.startsWith('cas:'))
      throw Errors.InvalidParameter(
        `The image ${image.label} was not published for the qemu fabric (source ${image.sourceUri}).`,
      )
    return {
      n,
      digest: image.sourceUri.slice(4),
      version: image.version,
      label: image.label,
      modelGeneration: model.modelGeneration,
      startedAtMs: this.now(),
    }
  }

  private now(): number {
    return this.o.nowMs?.() ?? Date.now()
  }
}

/** What the guest agent's goal takes from the model (qemu-state.ts). */
function agentModel(model: FabricModel) {
  return {
    extensions: model.extensions,
    extensionsTimeBudgetMs: model.extensionsTimeBudgetMs,
    healthSource: model.healthSource,
  }
}

/** Recorded on a new OS disk by reimage or restore, and never started on it. */
function cutShort(i: QemuInstance): boolean {
  return (
    i.wantRunning &&
    i.process === null &&
    i.spawning === null &&
    i.provisioning.state === 'updating'
  )
}

function checkSignal(o?: CallOptions): void {
  if (o?.signal?.aborted) throw Errors.Timeout('qemu fabric call aborted')
}
