/**
 * The in-process `LocalStateStore` (fabrics/types/local-state.ts), for tests and the memory
 * store; the SQL stores keep the same records in their database.
 */
import type { LocalInstance, LocalStateStore } from '../types/local-state.js'

export class MemoryLocalState implements LocalStateStore {
  private readonly map = new Map<string, LocalInstance>()
  async list(key: string): Promise<readonly LocalInstance[]> {
    return [...this.map.values()].filter((i) => i.scaleSetKey === key)
  }
  async listAll(): Promise<readonly LocalInstance[]> {
    return [...this.map.values()]
  }
  async get(key: string, id: string): Promise<LocalInstance | undefined> {
    return this.map.get(`${key}|${id}`)
  }
  async getMany(key: string, ids: readonly string[]): Promise<readonly LocalInstance[]> {
    return ids.flatMap((id) => this.map.get(`${key}|${id}`) ?? [])
  }
  async put(i: LocalInstance): Promise<void> {
    this.map.set(`${i.scaleSetKey}|${i.instanceId}`, i)
  }
  async remove(key: string, id: string): Promise<void> {
    this.map.delete(`${key}|${id}`)
  }
}
