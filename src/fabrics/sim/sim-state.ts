/**
 * Where the sim fabric keeps its virtual instances. The records hold timestamps, not timers, so
 * the state is derived at read time and survives a restart of the control plane when kept in the
 * store (docs/architecture.md § The sim fabric). `MemorySimState` is the in-process implementation.
 */
import type { SimInstance, SimStateStore } from '../types/sim-state.js'

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
