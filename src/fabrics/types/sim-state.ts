/**
 * What the sim fabric keeps of its virtual instances, and the interface of where it keeps them
 * (`MemorySimState` in the fabric, the SQL stores in the store): records with timestamps, not
 * timers, so the state is derived at read time and survives a restart of the control plane.
 */
import type { DataDisk } from './fabric.js'

/** How instances built from a `sim:` image behave (`fabrics/sim/sim-behaviour.ts`). */
export type SimHealth = Readonly<
  { kind: 'healthy' } | { kind: 'unhealthy' } | { kind: 'flaky'; p: number }
>

export type SimBehaviour = Readonly<{ bootMs: number; health: SimHealth; extfail: string | null }>

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
  dataDisks: readonly DataDisk[]
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
