/**
 * Starting and stopping a qemu fabric's VMs (docs/qemu.md § What an instance is): QEMU started
 * on the instance's current disk with its intent recorded first (no orphan after a crash), its
 * pid and start time after; stopped with the power button, then by its spawn marker; a VM that
 * stopped by itself fails its provisioning quoting its console.
 */
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { artifactDir } from '../host/artifacts.js'
import { addressInUse } from '../host/addresses.js'
import {
  crashPoint,
  findMarked,
  isAlive,
  MARK_ROOT,
  MARK_SPAWN,
  stopProcess,
} from '../host/processes.js'
import { CONSOLE_LOG, consoleTail } from './console-log.js'
import { METADATA_RELAY, METADATA_SOCKET, type MetadataSockets } from './metadata-sockets.js'
import type { QemuManifest } from './manifest.js'
import { probeKey, type QemuInstance } from './qemu-state.js'
import type { QemuFabricOptions } from './qemu-options.js'
import { startVm, stopVm, type Accel } from './vm.js'
import type { VmFiles } from './vm-files.js'

/** What the launcher shares with its fabric. */
export type LauncherContext = Readonly<{
  rootDir: string
  files: VmFiles
  sockets: MetadataSockets | null
  tscKhz: number | undefined
  /** The fabric's one-time sweep of orphans, done before any VM starts. */
  ready: () => Promise<number>
  now: () => number
}>

export class VmLauncher {
  private readonly files: VmFiles

  constructor(
    private readonly o: QemuFabricOptions,
    private readonly d: LauncherContext,
  ) {
    this.files = d.files
  }

  /**
   * A VM that should run and whose QEMU has exited (a kernel panic with `panic=-1` and
   * `-no-reboot`, a guest that powered itself off, a crash) fails its provisioning, quoting the
   * console's last lines.
   */
  async noticeDeath(i: QemuInstance): Promise<QemuInstance> {
    if (!i.wantRunning || i.process === null || isAlive(i.process)) return i
    if (i.provisioning.state === 'failed') return i
    const console = (await consoleTail(join(this.files.dirOf(i), CONSOLE_LOG), 2048)) ?? ''
    const last = console.trimEnd().split('\n').slice(-5).join('\n')
    const error =
      `The virtual machine stopped on image ${i.disk.label}.` +
      (last ? ` Its console's last lines:\n${last}` : ' Its console is empty.')
    const next: QemuInstance = { ...i, provisioning: { state: 'failed', error } }
    await this.o.state.put(next)
    return next
  }

  /** Starts QEMU on the instance's current disk: address checked free, intent recorded first. */
  async start(instance: QemuInstance): Promise<void> {
    await this.d.ready()
    // A health state known from an earlier process on this disk says nothing about this one.
    this.o.prober.remove(probeKey(instance))
    const manifest = await this.files.manifestOf(instance.disk)
    const ports = this.portsOf(instance, manifest)
    const taken = await addressInUse(instance.privateIp, ports)
    if (taken !== null) return this.fail(instance, taken)
    const dir = this.files.dirOf(instance)
    if (!existsSync(this.files.seedPath(instance, instance.disk.n)))
      await this.files.makeSeed(instance)
    const spawnId = randomUUID()
    await this.o.state.put({
      ...instance,
      process: null,
      spawning: { spawnId, osDisk: instance.disk.n, atMs: this.d.now() },
    })
    const base = artifactDir(this.o.casDir, instance.disk.digest)
    const startedAtMs = this.d.now()
    try {
      const metadata = await this.openMetadata(instance)
      const proc = await startVm(
        {
          dir,
          kernel: join(base, manifest.kernel),
          ...(manifest.initrd ? { initrd: join(base, manifest.initrd) } : {}),
          cmdline: manifest.cmdline,
          osDisk: this.files.osDiskPath(instance, instance.disk.n),
          seed: this.files.seedPath(instance, instance.disk.n),
          dataDisks: instance.dataDisks.map((d) => ({
            lun: d.lun,
            path: this.files.dataDiskPath(instance, d.lun),
          })),
          ...this.shapeOf(instance),
          accel: this.o.accel ?? 'tcg',
          hostAddress: instance.privateIp,
          ports,
          ...(this.d.tscKhz ? { tscKhz: this.d.tscKhz } : {}),
          ...(metadata ? { metadata } : {}),
        },
        {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          [MARK_ROOT]: this.d.rootDir,
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

  async recordStarted(
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
  async stopInstance(i: QemuInstance): Promise<void> {
    this.o.prober.remove(probeKey(i))
    if (i.process) await stopVm(i.process, this.files.dirOf(i), this.o.stopGraceMs ?? 5000)
    const ids = new Set([i.process?.spawnId, i.spawning?.spawnId].filter((x) => x !== undefined))
    if (ids.size === 0) return
    const left = findMarked((root) => root === this.d.rootDir).filter((p) => ids.has(p.spawnId))
    await Promise.all(left.map((p) => stopProcess(p, 1000)))
  }

  async stopOrphans(): Promise<number> {
    const named = new Set<string>()
    for (const i of await this.o.state.listAll()) {
      if (i.process && isAlive(i.process)) named.add(i.process.spawnId)
      if (i.spawning && i.wantRunning) named.add(i.spawning.spawnId) // adopt() records it
    }
    const orphans = findMarked((root) => root === this.d.rootDir).filter(
      (p) => !named.has(p.spawnId),
    )
    await Promise.all(orphans.map((p) => stopProcess(p, 1000)))
    return orphans.length
  }

  /**
   * Listens on the VM's metadata socket (bound to this instance) and returns what QEMU runs to
   * reach it; null without a metadata service.
   */
  async openMetadata(i: QemuInstance) {
    if (!this.d.sockets) return null
    const socket = join(this.files.dirOf(i), METADATA_SOCKET)
    // sun_path holds 107 bytes and a NUL: a longer path would be cut, or refused by listen.
    if (Buffer.byteLength(socket) > 107)
      throw new Error(`its metadata socket path is longer than 107 bytes: ${socket}`)
    await this.d.sockets.open(socket, { scaleSetKey: i.scaleSetKey, instanceId: i.instanceId })
    return { node: process.execPath, relay: join(this.d.rootDir, METADATA_RELAY), socket }
  }

  /** The guest ports forwarded: the manifest's, and the health check's. */
  private portsOf(i: QemuInstance, m: QemuManifest): number[] {
    return [...new Set([...m.ports, ...(i.healthCheck ? [i.healthCheck.port] : [])])].sort(
      (a, b) => a - b,
    )
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
}
