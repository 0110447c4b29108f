import type { HealthCheck } from '../fabric.js'

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
  process: Readonly<{ pid: number; startTicks: number; spawnId: string }> | null
  /** A QEMU about to start, recorded before the spawn: a crash in between leaves an orphan. */
  spawning: Readonly<{ spawnId: string; osDisk: number; atMs: number }> | null
  wantRunning: boolean
  provisioning: Readonly<{
    state: 'creating' | 'updating' | 'succeeded' | 'failed'
    error: string | null
  }>
  dataDisks: readonly Readonly<{ lun: number; diskId: string }>[]
  healthCheck: HealthCheck | null
  customData: string | null
}>

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
