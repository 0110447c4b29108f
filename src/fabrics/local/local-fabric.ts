/**
 * The `local` fabric (docs/architecture.md § The local fabric): every instance is a real process
 * started from a real image
 * artifact, with its own loopback address, an OS disk (built from the artifact, `os-disks.ts`) that a
 * reimage replaces while the previous one is kept until the outcome is known, and data disks
 * (directories) that nothing but deleting the instance removes. Processes outlive the control
 * plane; `adopt()` at start re-adopts them (pid + start time) and restarts those that should run.
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
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
} from '../types/fabric.js'
import { newDataDisks } from '../types/fabric.js'
import { OsDisks } from './os-disks.js'
import { ReadBatcher } from '../../util/read-batcher.js'
import { runCustomData, runExtensions, type InstanceJail } from './provisioning.js'
import type { LocalDisk, LocalInstance, LocalStateStore } from '../types/local-state.js'
import type { DownloadPolicy, OsDiskMode, SandboxMode } from '../types/local-options.js'
import {
  ensureOwnedBy,
  giveTo,
  instanceUid,
  resolveSandbox,
  sandboxed,
  type Sandbox,
} from './sandbox.js'
import {
  crashPoint,
  findMarked,
  isAlive,
  MARK_ROOT,
  MARK_SPAWN,
  startProcess,
  stopProcess,
  type MarkedProcess,
} from '../host/processes.js'
import { AddressPool, addressInUse } from '../host/addresses.js'
import { stopOrphans } from './orphans.js'

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
  /** How OS disks are built from artifacts (default auto: reflink, else hard links). */
  osDiskMode?: OsDiskMode
  /** Where instance commands run (sandbox.ts): default auto, bubblewrap when it works here. */
  sandbox?: SandboxMode
  /** First uid of instances when osroll runs as root (sandbox.ts `instanceUid`). */
  instanceUidBase?: number
  /** What Custom Script fileUris may reach (host/fetch-files.ts); default: no file://, no loopback. */
  downloads?: DownloadPolicy
}>

/** Handlers: Custom Script (both publishers), Application Health (probed by osroll), Service Fabric node. */
export const LOCAL_EXTENSION_HANDLERS: ReadonlySet<string> = new Set(
  [
    'Microsoft.Azure.Extensions.CustomScript',
    'Microsoft.Compute.CustomScriptExtension',
    'Microsoft.ManagedServices.ApplicationHealthLinux',
    'Microsoft.ManagedServices.ApplicationHealthWindows',
    'Microsoft.Azure.ServiceFabric.ServiceFabricNode',
    'Microsoft.Azure.ServiceFabric.ServiceFabricLinuxNode',
  ].map((s) => s.toLowerCase()),
)

export class LocalFabric implements Fabric {
  readonly name = 'local'
  readonly extensionHandlers = LOCAL_EXTENSION_HANDLERS

  /** Builds OS disks; `disks.stats` counts what it linked and repaired. */
  readonly disks: OsDisks
  private readonly rootDir: string
  private readonly addresses: AddressPool
  private sweep: Promise<readonly MarkedProcess[]> | null = null

  constructor(private readonly o: LocalFabricOptions) {
    this.disks = new OsDisks(o.casDir, o.osDiskMode ?? 'auto')
    this.rootDir = resolve(o.rootDir)
    this.addresses = new AddressPool({
      prefix: o.addressPrefix,
      start: o.addressStart,
      ready: () => this.ready(),
      inUse: async () => (await o.state.listAll()).map((i) => i.privateIp),
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
      await this.stopSpawn(i)
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
      this.provisionInBackground(next)
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
        await this.start(i)
        restarted++
      } else if (i.process && isAlive(i.process)) {
        adopted++
        if (i.provisioning.state === 'updating') this.provisionInBackground(i) // cut off by the restart
      } else {
        await this.start(i)
        restarted++
      }
    }
    return { adopted, restarted }
  }

  private view(i: LocalInstance): InstanceView {
    const alive = i.process !== null && isAlive(i.process)
    const creating = i.provisioning.state === 'creating'
    // Register a target the prober does not know (after a restart, or a new disk); a registered
    // one keeps its key for the life of the disk and its health check (cleared on change).
    if (alive && i.healthCheck && this.o.prober.state(probeKey(i)) === undefined)
      this.o.prober.set(probeKey(i), { ...i.healthCheck, host: i.privateIp })
    const health = creating
      ? 'initializing'
      : !alive
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
      power: alive ? 'running' : creating ? 'starting' : 'stopped',
      provisioning: i.provisioning.state,
      provisioningError: i.provisioning.error,
      health,
      bootedAtMs: i.disk.startedAtMs,
      privateIp: i.privateIp,
      dataDisks: i.dataDisks,
      extensions: i.provisioning.extensions,
    }
  }

  /**
   * Starts `boot` on the instance's current disk and records the process: the address checked
   * free first, custom data run once per disk, the intent recorded before the spawn.
   */
  private async start(instance: LocalInstance): Promise<void> {
    await this.ready()
    const dir = this.instanceDir(instance.scaleSetKey, instance.instanceId)
    const taken = await addressInUse(
      instance.privateIp,
      instance.healthCheck ? [instance.healthCheck.port] : [],
    )
    if (taken !== null) return this.fail(instance, instance.disk, taken)
    const { uid, jail } = await this.jailOf(instance, dir)
    const i: LocalInstance = { ...instance, uid }
    const osDisk = diskDir(dir, i.disk.n)
    const env = this.environment(i, dir)
    const logFile = join(dir, 'logs', 'console.log')
    await this.prepareFolders(i, dir, osDisk)
    let disk = i.disk
    let customDataError: string | null = null
    if (i.customData && !disk.customDataDone) {
      customDataError = await runCustomData({
        file: env['OSROLL_CUSTOM_DATA_FILE'] as string,
        cwd: osDisk,
        env,
        timeoutMs: i.extensionsTimeBudgetMs,
        logFile,
        jail,
      })
      disk = { ...disk, customDataDone: true }
    }
    const spawnId = randomUUID()
    const intent = { spawnId, osDisk: disk.n, privateIp: i.privateIp, atMs: this.now() }
    await this.o.state.put({ ...i, process: null, spawning: intent })
    const startedAtMs = this.now()
    let next: LocalInstance
    try {
      const boot = jail.wrap(join(osDisk, 'boot'), [], osDisk, { reportPid: true })
      const proc = await startProcess({ ...boot, env: { ...env, [MARK_SPAWN]: spawnId }, logFile })
      crashPoint('boot-spawned')
      const recorded = { ...proc, spawnId }
      next = {
        ...i,
        wantRunning: true,
        process: recorded,
        spawning: null,
        disk: { ...disk, startedAtMs },
      }
    } catch (err) {
      const message = `The instance could not be started from image ${i.disk.label}: ${(err as Error).message}`
      await this.fail(i, { ...disk, startedAtMs }, message)
      return
    }
    if (customDataError !== null) {
      next = { ...next, provisioning: { state: 'failed', error: customDataError, extensions: [] } }
      await this.o.state.put(next)
      return
    }
    const state = next.extensions.length > 0 ? 'updating' : 'succeeded'
    next = { ...next, provisioning: { state, error: null, extensions: [] } }
    await this.o.state.put(next)
    if (next.extensions.length > 0) this.provisionInBackground(next)
  }

  /**
   * Stops whatever still carries the instance's spawn marker (orphans.ts): the recorded process
   * is a sandbox's pid 1, and a wrapper or child of it must not outlive a deleted instance
   * either (a sandbox stopped while it was still starting leaves its bubblewrap parent).
   */
  private async stopSpawn(i: LocalInstance): Promise<void> {
    const ids = new Set([i.process?.spawnId, i.spawning?.spawnId].filter((x) => x !== undefined))
    if (ids.size === 0) return
    const left = findMarked((root) => root === this.rootDir).filter((p) => ids.has(p.spawnId))
    await Promise.all(left.map((p) => stopProcess(p, this.grace())))
  }
  /** Records that the instance's process could not be started, and why. */
  private async fail(i: LocalInstance, disk: LocalDisk, error: string): Promise<void> {
    await this.o.state.put({
      ...i,
      wantRunning: true,
      process: null,
      spawning: null,
      disk,
      provisioning: { state: 'failed', error, extensions: [] },
    })
  }

  /**
   * Runs the extensions of the instance's current disk and records the outcome — unless the
   * instance moved on meanwhile (another disk or model), whose own run then decides.
   */
  private provisionInBackground(i: LocalInstance): void {
    const dir = this.instanceDir(i.scaleSetKey, i.instanceId)
    void this.ready()
      .then(() => this.jailOf(i, dir))
      .then(({ jail }) =>
        runExtensions({
          extensions: i.extensions,
          dir,
          env: this.environment(i, dir),
          budgetMs: i.extensionsTimeBudgetMs,
          logFile: join(dir, 'logs', 'console.log'),
          jail,
          ...(this.o.downloads ? { downloads: this.o.downloads } : {}),
        }),
      )
      .then(async (result) => {
        const current = (await this.records(i.scaleSetKey, [i.instanceId]))[0]
        if (
          !current ||
          current.disk.n !== i.disk.n ||
          current.disk.modelGeneration !== i.disk.modelGeneration
        )
          return
        await this.o.state.put({
          ...current,
          provisioning: {
            state: result.error ? 'failed' : 'succeeded',
            error: result.error,
            extensions: result.extensions,
          },
        })
      })
      .catch(() => undefined)
  }

  /**
   * The instance's sandbox and uid (kept from its record once it has one), and the jail its
   * commands run in: only its own folder, as its uid.
   */
  private async jailOf(
    i: LocalInstance,
    dir: string,
  ): Promise<{ uid: number | null; jail: InstanceJail }> {
    const sandbox = await this.sandbox()
    const uid =
      sandbox.kind === 'bwrap' && sandbox.perInstanceUid
        ? (i.uid ?? instanceUid(sandbox, i.privateIp))
        : null
    const jail: InstanceJail = {
      wrap: (command, args, cwd, o = {}) =>
        sandboxed(sandbox, { command, args, cwd, instanceDir: dir, uid, ...o }),
      give: (path) => giveTo(uid, path),
    }
    return { uid, jail }
  }

  private sandbox(): Promise<Sandbox> {
    return resolveSandbox(this.o.sandbox ?? 'auto', this.o.instanceUidBase)
  }

  /**
   * The folders an instance writes, its own (its uid's); the rest of its folder stays osroll's,
   * so nothing the instance does can turn a path osroll opens (logs, custom data) into a link.
   */
  private async prepareFolders(i: LocalInstance, dir: string, osDisk: string): Promise<void> {
    const uid = i.uid ?? null
    await mkdir(join(dir, 'logs'), { recursive: true })
    await mkdir(join(dir, 'home'), { recursive: true })
    await giveTo(uid, join(dir, 'home'))
    for (const d of i.dataDisks) {
      const path = join(dir, 'data', `lun${d.lun}`)
      await mkdir(path, { recursive: true })
      await ensureOwnedBy(uid, path)
    }
    await ensureOwnedBy(uid, osDisk)
    if (i.customData) {
      const file = join(dir, 'customdata')
      await writeFile(file, Buffer.from(i.customData, 'base64'), { mode: 0o600 })
      await giveTo(uid, file)
    }
  }

  /**
   * The environment (docs/architecture.md § Local images and their environment) for `boot`, custom
   * data and extension commands.
   */
  private environment(i: LocalInstance, dir: string): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: join(dir, 'home'),
      // The marker (orphans.ts); each spawn adds its own MARK_SPAWN.
      [MARK_ROOT]: this.rootDir,
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
    if (i.customData) env['OSROLL_CUSTOM_DATA_FILE'] = join(dir, 'customdata')
    return env
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

function diskDir(instanceDir: string, n: number): string {
  return join(instanceDir, 'disks', `os-${n}`)
}

function probeKey(i: Pick<LocalInstance, 'scaleSetKey' | 'instanceId' | 'disk'>): string {
  return `${i.scaleSetKey}|${i.instanceId}|${i.disk.n}`
}

function checkSignal(o?: CallOptions): void {
  if (o?.signal?.aborted) throw Errors.Timeout('local fabric call aborted')
}
