/**
 * What the local fabric remembers of its instances, kept in the store (so a restarted control
 * plane re-adopts them): disks, the process (pid and its start time, never a bare pid), address;
 * and the interface of where it keeps them (`MemoryLocalState`, the SQL stores).
 */
import type { DataDisk, ExtensionModel, ExtensionStatus, HealthCheck } from './fabric.js'

export type LocalDisk = Readonly<{
  n: number
  digest: string
  version: string
  label: string
  modelGeneration: number
  /** When a process was last started on this disk (or the model last applied). */
  startedAtMs: number
  /** Custom data runs once per new OS disk: whether it has run on this one. */
  customDataDone: boolean
}>

export type LocalInstance = Readonly<{
  scaleSetKey: string
  instanceId: string
  zone: string | null
  updateDomain: number
  faultDomain: number
  privateIp: string
  computerName: string
  disk: LocalDisk
  previous: LocalDisk | null
  /**
   * The running process: pid and its start time in clock ticks (/proc/<pid>/stat field 22), and
   * the spawn id its environment carries (`processes.ts` MARK_SPAWN; absent in older records).
   */
  process: Readonly<{ pid: number; startTicks: number; spawnId?: string }> | null
  /**
   * A boot process about to start, recorded before the spawn (issue 16): which disk and address,
   * and the spawn id the process will carry. Cleared when its pid is recorded. A crash in between
   * leaves a process no record names; the next start stops it before handing out any address.
   */
  spawning?: Readonly<{ spawnId: string; osDisk: number; privateIp: string; atMs: number }> | null
  wantRunning: boolean
  /** Provisioning of the current disk: custom data, then extensions (running in the background). */
  provisioning: Readonly<{
    state: 'creating' | 'updating' | 'succeeded' | 'failed'
    error: string | null
    extensions: readonly ExtensionStatus[]
  }>
  /** The model's extensions and their time budget, to (re)run them. */
  extensions: readonly ExtensionModel[]
  extensionsTimeBudgetMs: number
  dataDisks: readonly DataDisk[]
  /** How osroll probes this instance's health; null when the set has no health source. */
  healthCheck: HealthCheck | null
  /** The model's custom data (base64), given to each new OS disk. */
  customData: string | null
  /** The instance's own uid in its sandbox (sandbox.ts); null or absent: osroll's own. */
  uid?: number | null
}>

export interface LocalStateStore {
  list(scaleSetKey: string): Promise<readonly LocalInstance[]>
  listAll(): Promise<readonly LocalInstance[]>
  get(scaleSetKey: string, instanceId: string): Promise<LocalInstance | undefined>
  /** The records of these instances of one set (missing ones left out), in one read. */
  getMany(scaleSetKey: string, instanceIds: readonly string[]): Promise<readonly LocalInstance[]>
  put(instance: LocalInstance): Promise<void>
  remove(scaleSetKey: string, instanceId: string): Promise<void>
}
