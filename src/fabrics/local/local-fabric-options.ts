/** The local fabric's options, and the extension handlers it provides. */
import { join } from 'node:path'
import type { HealthProber } from '../types/fabric.js'
import type { LocalInstance, LocalStateStore } from '../types/local-state.js'
import type { DownloadPolicy, OsDiskMode, SandboxMode } from '../types/local-options.js'

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

/** An OS disk's folder in the instance's: `disks/os-{n}`. */
export function diskDir(instanceDir: string, n: number): string {
  return join(instanceDir, 'disks', `os-${n}`)
}

/** The health prober's key of the instance's current OS disk. */
export function probeKey(i: Pick<LocalInstance, 'scaleSetKey' | 'instanceId' | 'disk'>): string {
  return `${i.scaleSetKey}|${i.instanceId}|${i.disk.n}`
}
