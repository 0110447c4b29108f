/**
 * Where the sim fabric keeps its virtual instances. The records hold timestamps, not timers, so
 * the state is derived at read time and survives a restart of the control plane when kept in the
 * store (SPEC §10). `MemorySimState` is the in-process implementation.
 */
import type { SimBehaviour } from './sim-behaviour.js'

export type SimDisk = Readonly<{
  serial: string
  version: string
  behaviour: SimBehaviour
  modelGeneration: number
  startedAtMs: number
  /** The extension whose provisioning failed on this disk, if any. */
  failedExtension: string | null
  extensionNames: readonly string[]
}>

export type SimInstance = Readonly<{
  instanceId: string
  zone: string | null
  updateDomain: number
  faultDomain: number
  disk: SimDisk
  previous: SimDisk | null
  stopped: boolean
  /** Fault injection: forces the health source's answer (e.g. concurrent maintenance). */
  healthOverride: 'healthy' | 'unhealthy' | null
  dataDisks: readonly Readonly<{ lun: number; diskId: string }>[]
  diskCount: number
  privateIp: string
  healthSource: 'probe' | 'extension' | 'none'
}>

export interface SimStateStore {
  list(scaleSetKey: string): Promise<readonly SimInstance[]>
  get(scaleSetKey: string, instanceId: string): Promise<SimInstance | undefined>
  put(scaleSetKey: string, instance: SimInstance): Promise<void>
  remove(scaleSetKey: string, instanceId: string): Promise<void>
}

export class MemorySimState implements SimStateStore {
  private readonly sets = new Map<string, Map<string, SimInstance>>()

  async list(scaleSetKey: string): Promise<readonly SimInstance[]> {
    return [...(this.sets.get(scaleSetKey)?.values() ?? [])]
  }

  async get(scaleSetKey: string, instanceId: string): Promise<SimInstance | undefined> {
    return this.sets.get(scaleSetKey)?.get(instanceId)
  }

  async put(scaleSetKey: string, instance: SimInstance): Promise<void> {
    let set = this.sets.get(scaleSetKey)
    if (!set) this.sets.set(scaleSetKey, (set = new Map()))
    set.set(instance.instanceId, instance)
  }

  async remove(scaleSetKey: string, instanceId: string): Promise<void> {
    this.sets.get(scaleSetKey)?.delete(instanceId)
  }
}
