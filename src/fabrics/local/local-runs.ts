/**
 * What runs for a local instance (docs/architecture.md § The local fabric): `boot` started on its
 * current disk, custom data once per disk, the extensions in the background, each in the
 * instance's sandbox with its own folders and environment; and its processes stopped.
 */
import { randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LocalDisk, LocalInstance } from '../types/local-state.js'
import { runCustomData, runExtensions, type InstanceJail } from './provisioning.js'
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
  MARK_ROOT,
  MARK_SPAWN,
  startProcess,
  stopProcess,
} from '../host/processes.js'
import { addressInUse } from '../host/addresses.js'
import { diskDir, type LocalFabricOptions } from './local-fabric-options.js'

/** What the runs share with their fabric. */
export type RunsContext = Readonly<{
  rootDir: string
  /** The fabric's one-time sweep of orphans, done before any process starts. */
  ready: () => Promise<unknown>
  records: (scaleSetKey: string, ids: readonly string[]) => Promise<LocalInstance[]>
  instanceDir: (scaleSetKey: string, instanceId: string) => string
  grace: () => number
  now: () => number
}>

export class LocalRuns {
  constructor(
    private readonly o: LocalFabricOptions,
    private readonly c: RunsContext,
  ) {}

  /**
   * Starts `boot` on the instance's current disk and records the process: the address checked
   * free first, custom data run once per disk, the intent recorded before the spawn.
   */
  async start(instance: LocalInstance): Promise<void> {
    await this.c.ready()
    const dir = this.c.instanceDir(instance.scaleSetKey, instance.instanceId)
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
    const intent = { spawnId, osDisk: disk.n, privateIp: i.privateIp, atMs: this.c.now() }
    await this.o.state.put({ ...i, process: null, spawning: intent })
    const startedAtMs = this.c.now()
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
  async stopSpawn(i: LocalInstance): Promise<void> {
    const ids = new Set([i.process?.spawnId, i.spawning?.spawnId].filter((x) => x !== undefined))
    if (ids.size === 0) return
    const left = findMarked((root) => root === this.c.rootDir).filter((p) => ids.has(p.spawnId))
    await Promise.all(left.map((p) => stopProcess(p, this.c.grace())))
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
  provisionInBackground(i: LocalInstance): void {
    const dir = this.c.instanceDir(i.scaleSetKey, i.instanceId)
    void this.c
      .ready()
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
        const current = (await this.c.records(i.scaleSetKey, [i.instanceId]))[0]
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
  async jailOf(i: LocalInstance, dir: string): Promise<{ uid: number | null; jail: InstanceJail }> {
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
  async prepareFolders(i: LocalInstance, dir: string, osDisk: string): Promise<void> {
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
  environment(i: LocalInstance, dir: string): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: join(dir, 'home'),
      // The marker (orphans.ts); each spawn adds its own MARK_SPAWN.
      [MARK_ROOT]: this.c.rootDir,
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
}
