import { createHash } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { VmShape } from '../../core/scale-set/vm-sizes.js'
import type { HealthSource } from '../../core/scale-set/spec.js'
import type { DataDisk, ExtensionModel, HealthCheck } from '../types/fabric.js'
import type { Accel } from './vm.js'

/**
 * What the qemu fabric remembers of its VMs: the OS disks (qcow2 overlays, numbered), the QEMU
 * process (pid and start time, never a bare pid), the address and the data disks. Kept apart from
 * the VMs so that a restarted control plane re-adopts them.
 */

export type QemuDisk = Readonly<{
  /** The overlay's number: `disks/os-{n}.qcow2`. */
  n: number
  /** The image version's artifact in the content-addressed store (`sha256-…`). */
  digest: string
  version: string
  label: string
  modelGeneration: number
  startedAtMs: number
}>

export type QemuInstance = Readonly<{
  scaleSetKey: string
  instanceId: string
  /** Stable for the instance's life: Azure's vmId, and the root of each disk's instance-id. */
  vmId: string
  zone: string | null
  updateDomain: number
  faultDomain: number
  privateIp: string
  computerName: string
  disk: QemuDisk
  previous: QemuDisk | null
  /** `accel`: what this QEMU was started under (absent in older records: its command line says). */
  process: Readonly<{ pid: number; startTicks: number; spawnId: string; accel?: Accel }> | null
  /** A QEMU about to start, recorded before the spawn: a crash in between leaves an orphan. */
  spawning: Readonly<{ spawnId: string; osDisk: number; atMs: number }> | null
  wantRunning: boolean
  provisioning: Readonly<{
    state: 'creating' | 'updating' | 'succeeded' | 'failed'
    error: string | null
  }>
  dataDisks: readonly DataDisk[]
  healthCheck: HealthCheck | null
  customData: string | null
  /** The model's size when this OS disk was made: the VM's vCPUs and memory (absent: default). */
  vmSize?: VmShape | null
  /**
   * The model's extensions, their time budget and the health source, as of this OS disk or the
   * last in-place update: the guest agent's goal (guest-agent.ts). Absent: none (older records).
   */
  extensions?: readonly ExtensionModel[]
  extensionsTimeBudgetMs?: number
  healthSource?: HealthSource
}>

/** The health prober's key of the instance's current OS disk. */
export function probeKey(i: Pick<QemuInstance, 'scaleSetKey' | 'instanceId' | 'disk'>): string {
  return `${i.scaleSetKey}|${i.instanceId}|${i.disk.n}`
}

export interface QemuStateStore {
  list(scaleSetKey: string): Promise<readonly QemuInstance[]>
  listAll(): Promise<readonly QemuInstance[]>
  getMany(scaleSetKey: string, instanceIds: readonly string[]): Promise<readonly QemuInstance[]>
  put(instance: QemuInstance): Promise<void>
  remove(scaleSetKey: string, instanceId: string): Promise<void>
}

export class MemoryQemuState implements QemuStateStore {
  private readonly map = new Map<string, QemuInstance>()
  async list(key: string): Promise<readonly QemuInstance[]> {
    return [...this.map.values()].filter((i) => i.scaleSetKey === key)
  }
  async listAll(): Promise<readonly QemuInstance[]> {
    return [...this.map.values()]
  }
  async getMany(key: string, ids: readonly string[]): Promise<readonly QemuInstance[]> {
    return ids.flatMap((id) => this.map.get(`${key}|${id}`) ?? [])
  }
  async put(i: QemuInstance): Promise<void> {
    this.map.set(`${i.scaleSetKey}|${i.instanceId}`, i)
  }
  async remove(key: string, id: string): Promise<void> {
    this.map.delete(`${key}|${id}`)
  }
}

/**
 * The records kept beside the VMs they describe: `{vm dir}/record.json`, written to a temporary
 * file, synced and renamed over, so that a crash leaves the old record or the new one, never a
 * torn one. Like a hypervisor's own domain files, they live on the host that runs the VMs.
 */
export class FileQemuState implements QemuStateStore {
  constructor(private readonly rootDir: string) {}

  async list(key: string): Promise<readonly QemuInstance[]> {
    return (await this.listAll()).filter((i) => i.scaleSetKey === key)
  }

  async listAll(): Promise<readonly QemuInstance[]> {
    const out: QemuInstance[] = []
    for (const set of await readdir(this.rootDir).catch(() => [] as string[]))
      for (const id of await readdir(join(this.rootDir, set)).catch(() => [] as string[])) {
        const r = await this.read(join(this.rootDir, set, id))
        if (r) out.push(r)
      }
    return out
  }

  async getMany(key: string, ids: readonly string[]): Promise<readonly QemuInstance[]> {
    const out: QemuInstance[] = []
    for (const id of ids) {
      const r = await this.read(vmDir(this.rootDir, key, id))
      if (r && r.scaleSetKey === key) out.push(r)
    }
    return out
  }

  async put(i: QemuInstance): Promise<void> {
    const dir = vmDir(this.rootDir, i.scaleSetKey, i.instanceId)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const tmp = join(dir, 'record.json.tmp')
    const fh = await open(tmp, 'w', 0o600)
    try {
      await fh.writeFile(JSON.stringify(i))
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, join(dir, 'record.json'))
  }

  async remove(key: string, id: string): Promise<void> {
    await rm(join(vmDir(this.rootDir, key, id), 'record.json'), { force: true })
  }

  private async read(dir: string): Promise<QemuInstance | null> {
    const text = await readFile(join(dir, 'record.json'), 'utf8').catch(() => null)
    return text === null ? null : (JSON.parse(text) as QemuInstance)
  }
}

/** A VM's directory: `{root}/{first 16 hex of sha256(set key)}/{instance id}`. */
export function vmDir(rootDir: string, scaleSetKey: string, instanceId: string): string {
  const set = createHash('sha256').update(scaleSetKey).digest('hex').slice(0, 16)
  return join(rootDir, set, instanceId)
}
