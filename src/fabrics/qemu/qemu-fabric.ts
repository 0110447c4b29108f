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
import { chmod, mkdir, readdir, rm } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join, resolve } from 'node:path'
import { computerName } from '../../core/scale-set/placement.js'
import { Errors } from '../../errors.js'
import type {
  CallOptions,
  Fabric,
  FabricModel,
  HealthProber,
  ImageArtifact,
  InstanceView,
  NewInstanceSpec,
} from '../types/fabric.js'
import { newDataDisks } from '../types/fabric.js'
import { artifactDir, importArtifact } from '../host/artifacts.js'
import { AddressPool, addressInUse } from '../host/addresses.js'
import {
  crashPoint,
  findMarked,
  isAlive,
  MARK_ROOT,
  MARK_SPAWN,
  stopProcess,
} from '../host/processes.js'
import type { GuestMetadata } from '../types/metadata.js'
import type { DownloadPolicy } from '../types/local-options.js'
import { buildSeed, createDataDisk, createOverlay } from './disks.js'
import { METADATA_RELAY, METADATA_SOCKET, MetadataSockets, writeRelay } from './metadata-sockets.js'
import { readManifest, type QemuManifest } from './manifest.js'
import { vmDir, type QemuDisk, type QemuInstance, type QemuStateStore } from './qemu-state.js'
import { requireTools } from './tools.js'
import { CONSOLE_LOG, CONSOLE_ROTATE_BYTES, consoleTail, rotateConsole } from './console-log.js'
import { accelOfProcess, hostTscKhz, startVm, stopVm, type Accel } from './vm.js'
import { GuestAgentEndpoint } from './guest-agent-endpoint.js'
import type { AgentProgress } from './guest-agent.js'

export type QemuFabricOptions = Readonly<{
  /** Where VM directories live (`{data-dir}/vms`). */
  rootDir: string
  /** The content-addressed artifact store (`{data-dir}/images`). */
  casDir: string
  state: QemuStateStore
  prober: HealthProber
  addressPrefix?: string
  addressStart?: number
  /** A VM's memory and vCPUs when its model names no size (docs/qemu.md § Sizes). 256, 1. */
  memoryMb?: number
  vcpus?: number
  /** The most vCPUs a VM gets, whatever its size says: the host's (docs/qemu.md § Sizes). */
  hostCpus?: number
  /** A data disk's size when the model gives no `diskSizeGB`. Default 256 MiB. */
  dataDiskMb?: number
  accel?: Accel
  /** Why `accel` was chosen (accel.ts), shown with it in the instance view. */
  accelReason?: string
  /** Past this size a VM's console log is rotated (one older generation kept). Default 1 MiB. */
  consoleRotateBytes?: number
  /** How long a guest gets to power off before QMP quit. Default 5 s. */
  stopGraceMs?: number
  /**
   * Answers the guests' requests to 169.254.169.254
   * (docs/qemu.md § The metadata service); without it that address is not forwarded.
   */
  metadata?: GuestMetadata
  /** What Custom Script `fileUris` may reach, fetched on the host for the guest (host/fetch-files.ts). */
  downloads?: DownloadPolicy
  /** Told when a guest agent's report may change an instance's view (wakes its set). */
  onChange?: (scaleSetKey: string) => void
  nowMs?: () => number
}>

/**
 * Run by the guest agent inside the VM (docs/qemu.md § The guest agent): Custom Script, and the
 * Application Health extension, probed in the guest (the host probes while the agent does not).
 */
export const QEMU_EXTENSION_HANDLERS: ReadonlySet<string> = new Set(
  [
    'Microsoft.Azure.Extensions.CustomScript',
    'Microsoft.ManagedServices.ApplicationHealthLinux',
    'Microsoft.ManagedServices.ApplicationHealthWindows',
  ].map((s) => s.toLowerCase()),
)

export const QEMU_TOOLS = ['qemu-system-x86_64', 'qemu-img', 'genisoimage', 'mke2fs']

export class QemuFabric implements Fabric {
  readonly name = 'qemu'
  readonly extensionHandlers = QEMU_EXTENSION_HANDLERS
  private readonly rootDir: string
  private readonly addresses: AddressPool
  private readonly tscKhz = hostTscKhz()
  private readonly sockets: MetadataSockets | null
  private readonly agent: GuestAgentEndpoint
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
      return this.stopOrphans()
    })())
  }

  /** Stops serving the guests' metadata (osroll stops; the VMs run on and reconnect later). */
  async close(): Promise<void> {
    await this.sockets?.closeAll()
  }

  async listInstances(scaleSetKey: string, _o?: CallOptions): Promise<readonly InstanceView[]> {
    const out: InstanceView[] = []
    for (let i of await this.o.state.list(scaleSetKey)) {
      i = await this.noticeDeath(i)
      const max = this.o.consoleRotateBytes ?? CONSOLE_ROTATE_BYTES
      await rotateConsole(join(this.dirOf(i), CONSOLE_LOG), max)
      out.push(this.view(i, await this.agent.progressOf(i)))
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
      await this.makeDisks(record)
      await this.start(record)
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
      await this.stopInstance(i)
      await this.sockets?.close(join(this.dirOf(i), METADATA_SOCKET))
      await rm(this.dirOf(i), { recursive: true, force: true })
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
        if (cutShort(i)) await this.start(i) // recorded, never started
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
      await this.makeOsDisk(next)
      await this.o.state.put(next)
      crashPoint('reimage-recorded')
      await this.stopInstance(i)
      if (i.previous) await this.removeOsDisk(i, i.previous.n)
      await this.start(next)
    }
  }

  /** As `reimage`: the switch back is recorded before the failed disk's VM stops. */
  async restore(scaleSetKey: string, ids: readonly string[], o?: CallOptions): Promise<void> {
    checkSignal(o)
    for (const i of await this.o.state.getMany(scaleSetKey, ids)) {
      if (i.previous === null) {
        if (cutShort(i) || !i.process || !isAlive(i.process))
          await this.start({ ...i, wantRunning: true })
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
      await this.stopInstance(i)
      await this.removeOsDisk(i, i.disk.n)
      await this.start(next)
    }
  }

  async release(scaleSetKey: string, ids: readonly string[], o?: CallOptions): Promise<void> {
    checkSignal(o)
    for (const i of await this.o.state.getMany(scaleSetKey, ids)) {
      if (i.previous === null) continue
      await this.o.state.put({ ...i, previous: null })
      await this.removeOsDisk(i, i.previous.n)
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
    return consoleTail(join(this.dirOf(i), CONSOLE_LOG), maxBytes)
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
      if (spawned) i = await this.recordStarted(i, spawned, i.spawning?.atMs ?? this.now())
      if (i.process && isAlive(i.process)) {
        await this.openMetadata(i)
        adopted++
        continue
      }
      if (i.provisioning.state === 'creating') await this.makeDisks(i)
      else if (!existsSync(this.osDiskPath(i, i.disk.n))) await this.makeOsDisk(i)
      await this.start(i)
      restarted++
    }
    return { adopted, restarted }
  }

  /**
   * The instance as it is now. A running VM whose model has extensions is provisioned once its
   * guest agent has run them (`updating` until then, `failed` as on local); with the Application
   * Health extension as health source, the health is the agent's in-guest probe while it
   * reports, the host's probe otherwise (docs/qemu.md § The guest agent).
   */
  private view(i: QemuInstance, agent: AgentProgress | null): InstanceView {
    const alive = i.process !== null && isAlive(i.process)
    const creating = i.provisioning.state === 'creating'
    if (alive && i.healthCheck && this.o.prober.state(probeKey(i)) === undefined)
      this.o.prober.set(probeKey(i), { ...i.healthCheck, host: i.privateIp })
    const health = creating
      ? 'initializing'
      : !alive
        ? 'unhealthy'
        : i.healthCheck
          ? (this.agent.health(i, agent) ?? this.o.prober.state(probeKey(i)) ?? 'initializing')
          : 'healthy'
    const running = alive && i.provisioning.state === 'succeeded'
    const provisioned = running ? this.agent.provisioning(i, agent) : null
    return {
      instanceId: i.instanceId,
      zone: i.zone,
      updateDomain: i.updateDomain,
      faultDomain: i.faultDomain,
      osImageVersion: i.disk.version,
      previousOsImageVersion: i.previous?.version ?? null,
      modelGeneration: i.disk.modelGeneration,
      power: alive ? 'running' : creating ? 'starting' : 'stopped',
      provisioning: provisioned?.state ?? i.provisioning.state,
      provisioningError: provisioned ? provisioned.error : i.provisioning.error,
      health,
      bootedAtMs: i.disk.startedAtMs,
      privateIp: i.privateIp,
      dataDisks: i.dataDisks,
      extensions: provisioned?.extensions ?? [],
      ...(alive && i.process ? this.acceleratorOf(i.process) : {}),
    }
  }

  /**
   * The accelerator a running VM's QEMU was started under, and why: this osroll's choice, or,
   * for a VM an earlier osroll started under another one, that it was so started.
   */
  private acceleratorOf(
    p: NonNullable<QemuInstance['process']>,
  ): Pick<InstanceView, 'accelerator'> {
    const accel = p.accel ?? accelOfProcess(p.pid)
    if (accel === null) return {}
    const mine = this.o.accel ?? 'tcg'
    const reason =
      accel === mine
        ? (this.o.accelReason ?? `--qemu-accel ${mine}`)
        : `started under ${accel.toUpperCase()} by an earlier osroll (this one chose ${mine.toUpperCase()})`
    return { accelerator: { accel, reason } }
  }

  /**
   * A VM that should run and whose QEMU has exited (a kernel panic with `panic=-1` and
   * `-no-reboot`, a guest that powered itself off, a crash) fails its provisioning, quoting the
   * console's last lines.
   */
  private async noticeDeath(i: QemuInstance): Promise<QemuInstance> {
    if (!i.wantRunning || i.process === null || isAlive(i.process)) return i
    if (i.provisioning.state === 'failed') return i
    const console = (await consoleTail(join(this.dirOf(i), CONSOLE_LOG), 2048)) ?? ''
    const last = console.trimEnd().split('\n').slice(-5).join('\n')
    const error =
      `The virtual machine stopped on image ${i.disk.label}.` +
      (last ? ` Its console's last lines:\n${last}` : ' Its console is empty.')
    const next: QemuInstance = { ...i, provisioning: { state: 'failed', error } }
    await this.o.state.put(next)
    return next
  }

  /** Starts QEMU on the instance's current disk: address checked free, intent recorded first. */
  private async start(instance: QemuInstance): Promise<void> {
    await this.ready()
    // A health state known from an earlier process on this disk says nothing about this one.
    this.o.prober.remove(probeKey(instance))
    const manifest = await this.manifestOf(instance.disk)
    const ports = this.portsOf(instance, manifest)
    const taken = await addressInUse(instance.privateIp, ports)
    if (taken !== null) return this.fail(instance, taken)
    const dir = this.dirOf(instance)
    if (!existsSync(this.seedPath(instance, instance.disk.n))) await this.makeSeed(instance)
    const spawnId = randomUUID()
    await this.o.state.put({
      ...instance,
      process: null,
      spawning: { spawnId, osDisk: instance.disk.n, atMs: this.now() },
    })
    const base = artifactDir(this.o.casDir, instance.disk.digest)
    const startedAtMs = this.now()
    try {
      const metadata = await this.openMetadata(instance)
      const proc = await startVm(
        {
          dir,
          kernel: join(base, manifest.kernel),
          ...(manifest.initrd ? { initrd: join(base, manifest.initrd) } : {}),
          cmdline: manifest.cmdline,
          osDisk: this.osDiskPath(instance, instance.disk.n),
          seed: this.seedPath(instance, instance.disk.n),
          dataDisks: instance.dataDisks.map((d) => ({
            lun: d.lun,
            path: this.dataDiskPath(instance, d.lun),
          })),
          ...this.shapeOf(instance),
          accel: this.o.accel ?? 'tcg',
          hostAddress: instance.privateIp,
          ports,
          ...(this.tscKhz ? { tscKhz: this.tscKhz } : {}),
          ...(metadata ? { metadata } : {}),
        },
        {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          [MARK_ROOT]: this.rootDir,
          [MARK_SPAWN]: spawnId,
          OSROLL_INSTANCE_ID: instance.instanceId,
        },
      )
      crashPoint('boot-spawned')
      await this.recordStarted(
        instance,
        { ...proc, spawnId, accel: this.o.accel ?? 'tcg' },
        startedAtMs,
      )
    } catch (err) {
      await this.fail(
        instance,
        `The virtual machine could not be started from image ${instance.disk.label}: ${(err as Error).message}`,
      )
    }
  }

  private async recordStarted(
    i: QemuInstance,
    proc: Readonly<{ pid: number; startTicks: number; spawnId: string; accel?: Accel }>,
    startedAtMs: number,
  ): Promise<QemuInstance> {
    const next: QemuInstance = {
      ...i,
      wantRunning: true,
      process: {
        pid: proc.pid,
        startTicks: proc.startTicks,
        spawnId: proc.spawnId,
        ...(proc.accel ? { accel: proc.accel } : {}),
      },
      spawning: null,
      disk: { ...i.disk, startedAtMs },
      provisioning: { state: 'succeeded', error: null },
    }
    await this.o.state.put(next)
    return next
  }

  private async fail(i: QemuInstance, error: string): Promise<void> {
    await this.o.state.put({
      ...i,
      wantRunning: true,
      process: null,
      spawning: null,
      provisioning: { state: 'failed', error },
    })
  }

  /** Powers the VM off (QMP), then stops whatever still carries its spawn marker. */
  private async stopInstance(i: QemuInstance): Promise<void> {
    this.o.prober.remove(probeKey(i))
    if (i.process) await stopVm(i.process, this.dirOf(i), this.o.stopGraceMs ?? 5000)
    const ids = new Set([i.process?.spawnId, i.spawning?.spawnId].filter((x) => x !== undefined))
    if (ids.size === 0) return
    const left = findMarked((root) => root === this.rootDir).filter((p) => ids.has(p.spawnId))
    await Promise.all(left.map((p) => stopProcess(p, 1000)))
  }

  private async stopOrphans(): Promise<number> {
    const named = new Set<string>()
    for (const i of await this.o.state.listAll()) {
      if (i.process && isAlive(i.process)) named.add(i.process.spawnId)
      if (i.spawning && i.wantRunning) named.add(i.spawning.spawnId) // adopt() records it
    }
    const orphans = findMarked((root) => root === this.rootDir).filter((p) => !named.has(p.spawnId))
    await Promise.all(orphans.map((p) => stopProcess(p, 1000)))
    return orphans.length
  }

  /**
   * Listens on the VM's metadata socket (bound to this instance) and returns what QEMU runs to
   * reach it; null without a metadata service.
   */
  private async openMetadata(i: QemuInstance) {
    if (!this.sockets) return null
    const socket = join(this.dirOf(i), METADATA_SOCKET)
    // sun_path holds 107 bytes and a NUL: a longer path would be cut, or refused by listen.
    if (Buffer.byteLength(socket) > 107)
      throw new Error(`its metadata socket path is longer than 107 bytes: ${socket}`)
    await this.sockets.open(socket, { scaleSetKey: i.scaleSetKey, instanceId: i.instanceId })
    return { node: process.execPath, relay: join(this.rootDir, METADATA_RELAY), socket }
  }

  /** The guest ports forwarded: the manifest's, and the health check's. */
  private portsOf(i: QemuInstance, m: QemuManifest): number[] {
    return [...new Set([...m.ports, ...(i.healthCheck ? [i.healthCheck.port] : [])])].sort(
      (a, b) => a - b,
    )
  }

  private manifestOf(disk: QemuDisk): Promise<QemuManifest> {
    return readManifest(artifactDir(this.o.casDir, disk.digest))
  }

  private async makeDisks(i: QemuInstance): Promise<void> {
    await mkdir(join(this.dirOf(i), 'disks'), { recursive: true })
    for (const d of i.dataDisks) {
      const path = this.dataDiskPath(i, d.lun)
      const sizeMb = d.sizeGB !== undefined ? d.sizeGB * 1024 : (this.o.dataDiskMb ?? 256)
      if (!existsSync(path)) await createDataDisk(path, sizeMb, `lun${d.lun}`)
    }
    await this.makeOsDisk(i)
  }

  private async makeOsDisk(i: QemuInstance): Promise<void> {
    const m = await this.manifestOf(i.disk)
    const base = join(artifactDir(this.o.casDir, i.disk.digest), m.disk.path)
    await mkdir(join(this.dirOf(i), 'disks'), { recursive: true })
    await createOverlay(base, m.disk.format, this.osDiskPath(i, i.disk.n))
    await this.makeSeed(i)
  }

  /** The seed of the current OS disk: its instance-id is the vmId and the disk's number. */
  private async makeSeed(i: QemuInstance): Promise<void> {
    await buildSeed(this.seedPath(i, i.disk.n), {
      instanceId: `${i.vmId}-os${i.disk.n}`,
      hostname: i.computerName,
      osrollInstanceId: i.instanceId,
      userData: i.customData ? Buffer.from(i.customData, 'base64') : null,
    })
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

  /**
   * `-m` and `-smp` of the instance's VM: its size's memory and vCPUs, the vCPUs capped at the
   * host's (a 2-core host runs a Standard_D4s_v3 with 2), or the defaults when it has no size.
   */
  private shapeOf(i: QemuInstance): { memoryMb: number; vcpus: number } {
    if (!i.vmSize) return { memoryMb: this.o.memoryMb ?? 256, vcpus: this.o.vcpus ?? 1 }
    const host = this.o.hostCpus ?? availableParallelism()
    return { memoryMb: i.vmSize.memoryMB, vcpus: Math.max(1, Math.min(i.vmSize.vCPUs, host)) }
  }

  private dirOf(i: Pick<QemuInstance, 'scaleSetKey' | 'instanceId'>): string {
    return vmDir(this.rootDir, i.scaleSetKey, i.instanceId)
  }

  private osDiskPath(i: QemuInstance, n: number): string {
    return join(this.dirOf(i), 'disks', `os-${n}.qcow2`)
  }

  /** Each OS disk has its own seed, so that a VM on one never sees the next one's. */
  private seedPath(i: QemuInstance, n: number): string {
    return join(this.dirOf(i), 'disks', `seed-${n}.iso`)
  }

  private async removeOsDisk(i: QemuInstance, n: number): Promise<void> {
    await rm(this.osDiskPath(i, n), { force: true })
    await rm(this.seedPath(i, n), { force: true })
  }

  private dataDiskPath(i: QemuInstance, lun: number): string {
    return join(this.dirOf(i), 'disks', `data-${lun}.qcow2`)
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

function probeKey(i: Pick<QemuInstance, 'scaleSetKey' | 'instanceId' | 'disk'>): string {
  return `${i.scaleSetKey}|${i.instanceId}|${i.disk.n}`
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
