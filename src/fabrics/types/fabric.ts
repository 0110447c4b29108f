/**
 * The narrow interface every fabric implements (STYLE R7): the verbs the orchestrator needs to
 * run instances, each idempotent and cancellable through `CallOptions.signal`. A fabric reports
 * what it observes; it never decides. `fabrics/fabric.contract.ts` is the suite every fabric passes.
 */
import type { HealthState, PowerState, ProvisioningState } from '../../core/health/verdict.js'
import type { HealthSource } from '../../core/scale-set/spec.js'
import type { VmShape } from '../../core/scale-set/vm-sizes.js'

export type CallOptions = Readonly<{ signal?: AbortSignal }>

/** An image version the fabric can boot: `sourceUri` is `file://`, a tarball, or `sim:?…`. */
export type ImageArtifact = Readonly<{ version: string; label: string; sourceUri: string }>

export type ExtensionModel = Readonly<{
  name: string
  publisher: string
  type: string
  typeHandlerVersion: string
  settings: Readonly<Record<string, unknown>>
  protectedSettings: Readonly<Record<string, unknown>>
  provisionAfterExtensions: readonly string[]
  suppressFailures: boolean
}>

/**
 * How an instance's health is probed (docs/rollouts.md R5), resolved from the load-balancer probe
 * or the
 * Application Health extension when the model is written; null when the set has neither.
 */
export type HealthCheck = Readonly<{
  protocol: 'tcp' | 'http' | 'https'
  port: number
  requestPath: string
  intervalMs: number
  threshold: number
  mode: 'binary' | 'rich'
  gracePeriodMs: number
}>

/** The prober a fabric that runs real instances asks about their health (health/prober.ts). */
export interface HealthProber {
  set(key: string, target: HealthCheck & { host: string }): void
  remove(key: string): void
  state(key: string): HealthState | undefined
}

/** What a fabric needs of the scale set's model to build or update an instance. */
export type FabricModel = Readonly<{
  scaleSetKey: string
  computerNamePrefix: string
  modelGeneration: number
  customData: string | null
  dataDiskLuns: readonly number[]
  /** Each data disk's `diskSizeGB` by lun, where the model gives one (absent: the fabric's). */
  dataDiskSizesGB?: Readonly<Record<string, number>>
  /**
   * The size `sku.name` names (docs/api.md § VM sizes): the qemu fabric's vCPUs and memory.
   * Absent or null: the model names no size, and the fabric keeps its default VM shape.
   */
  vmSize?: VmShape | null
  extensions: readonly ExtensionModel[]
  healthSource: HealthSource
  /** Absent or null: no probing (sim fabric, or a set without a health source). */
  healthCheck?: HealthCheck | null
  extensionsTimeBudgetMs: number
  /**
   * The subnet the instances' primary IP configuration names, if any: the control plane gives
   * each instance an address of it (runtime/subnet-addresses.ts) before the fabric creates it.
   */
  network?: Readonly<{ subnetId: string; nic: string; ipConfig: string }> | null
}>

/** A data disk as a fabric keeps it: its size only where the model gave one when it was made. */
export type DataDisk = Readonly<{ lun: number; diskId: string; sizeGB?: number }>

/**
 * The data disks a new instance gets from `model`, each with its size where the model gives one.
 * @example newDataDisks({ dataDiskLuns: [0], dataDiskSizesGB: { '0': 4 }, … }, (l) => `lun${l}`)
 *   → [{ lun: 0, diskId: 'lun0', sizeGB: 4 }]
 */
export function newDataDisks(model: FabricModel, diskId: (lun: number) => string): DataDisk[] {
  return model.dataDiskLuns.map((lun) => {
    const sizeGB = model.dataDiskSizesGB?.[String(lun)]
    return { lun, diskId: diskId(lun), ...(sizeGB !== undefined ? { sizeGB } : {}) }
  })
}

export type NewInstanceSpec = Readonly<{
  instanceId: string
  zone: string | null
  updateDomain: number
  faultDomain: number
  image: ImageArtifact
  /**
   * The address the instance's subnet gave it (e.g. `10.1.0.5`), when the model names a subnet:
   * `local` and `qemu` give the instance the loopback address with the same last two octets
   * when it is free (`127.77.0.5`), so the two read alike (docs/api.md § Virtual networks and subnets).
   */
  subnetAddress?: string
}>

export type ExtensionStatus = Readonly<{
  name: string
  type: string
  state: 'succeeded' | 'failed' | 'transitioning'
  message: string
}>

/** One instance as the fabric sees it now. */
export type InstanceView = Readonly<{
  instanceId: string
  zone: string | null
  updateDomain: number
  faultDomain: number
  osImageVersion: string
  previousOsImageVersion: string | null
  modelGeneration: number
  power: PowerState
  provisioning: ProvisioningState
  provisioningError: string | null
  health: HealthState
  bootedAtMs: number
  /** The instance's own address, stable for its life (sim: virtual, never contacted). */
  privateIp: string
  /** Stable identity of each data disk (and its size): it never changes while the instance lives. */
  dataDisks: readonly DataDisk[]
  extensions: readonly ExtensionStatus[]
  /**
   * The accelerator the instance's VM runs under (qemu fabric, while its VM runs) and why:
   * shown as an `Osroll/Accelerator/{accel}` status (docs/api.md § Instances and their views).
   */
  accelerator?: Readonly<{ accel: 'kvm' | 'tcg'; reason: string }>
}>

export interface Fabric {
  readonly name: string
  /** `publisher.type`, lower-cased, of the extension handlers this fabric provides. */
  readonly extensionHandlers: ReadonlySet<string>
  listInstances(scaleSetKey: string, o?: CallOptions): Promise<readonly InstanceView[]>
  /** Creates instances from an image and the model; an id that already exists is left as is. */
  createInstances(
    model: FabricModel,
    instances: readonly NewInstanceSpec[],
    o?: CallOptions,
  ): Promise<void>
  /** Deletes instances with their disks; unknown ids are ignored. */
  deleteInstances(
    scaleSetKey: string,
    instanceIds: readonly string[],
    o?: CallOptions,
  ): Promise<void>
  /**
   * Replaces the OS disk with one built from `image`, keeping the previous disk, and starts the
   * instance on it (custom data, extensions). Already on `image` with a kept previous disk: no-op.
   */
  reimage(
    model: FabricModel,
    instanceIds: readonly string[],
    image: ImageArtifact,
    o?: CallOptions,
  ): Promise<void>
  /** Boots the kept previous OS disk again (rollback); without one, makes sure it runs. */
  restore(scaleSetKey: string, instanceIds: readonly string[], o?: CallOptions): Promise<void>
  /** Drops the kept previous OS disk once the new one is known good. */
  release(scaleSetKey: string, instanceIds: readonly string[], o?: CallOptions): Promise<void>
  /**
   * The tail (at most `maxBytes`) of an instance's console log, for `bootDiagnostics` (the sim
   * fabric's is a virtual one); absent on fabrics without a console.
   */
  consoleLog?(
    scaleSetKey: string,
    instanceId: string,
    maxBytes: number,
  ): Promise<string | undefined>
  /** Applies a model in place: extensions re-provisioned, the OS disk kept. */
  update(model: FabricModel, instanceIds: readonly string[], o?: CallOptions): Promise<void>
}
