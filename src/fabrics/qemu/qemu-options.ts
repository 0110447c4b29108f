/** The qemu fabric's options, and what it provides and needs on the host. */
import type { HealthProber } from '../types/fabric.js'
import type { DownloadPolicy } from '../types/local-options.js'
import type { GuestMetadata } from '../types/metadata.js'
import type { QemuStateStore } from './qemu-state.js'
import type { Accel } from './vm.js'

export type QemuFabricOptions = Readonly<{
  /** Where VM directories live (`{data-dir}/vms`). */
  rootDir: string
  /** The content-addressed artifact store (`{data-dir}/images`). */
  casDir: string
  state: QemuStateStore
  prober: HealthProber
  addressPrefix?: string
  addressStart?: number
  /** A VM's memory and vCPUs when its model names no size (docs/qemu.md § Sizes). 256, 1. */
  memoryMb?: number
  vcpus?: number
  /** The most vCPUs a VM gets, whatever its size says: the host's (docs/qemu.md § Sizes). */
  hostCpus?: number
  /** A data disk's size when the model gives no `diskSizeGB`. Default 256 MiB. */
  dataDiskMb?: number
  accel?: Accel
  /** Why `accel` was chosen (accel.ts), shown with it in the instance view. */
  accelReason?: string
  /** Past this size a VM's console log is rotated (one older generation kept). Default 1 MiB. */
  consoleRotateBytes?: number
  /** How long a guest gets to power off before QMP quit. Default 5 s. */
  stopGraceMs?: number
  /**
   * Answers the guests' requests to 169.254.169.254
   * (docs/qemu.md § The metadata service); without it that address is not forwarded.
   */
  metadata?: GuestMetadata
  /** What Custom Script `fileUris` may reach, fetched on the host for the guest (host/fetch-files.ts). */
  downloads?: DownloadPolicy
  /** Told when a guest agent's report may change an instance's view (wakes its set). */
  onChange?: (scaleSetKey: string) => void
  nowMs?: () => number
}>

/**
 * Run by the guest agent inside the VM (docs/qemu.md § The guest agent): Custom Script, and the
 * Application Health extension, probed in the guest (the host probes while the agent does not).
 */
export const QEMU_EXTENSION_HANDLERS: ReadonlySet<string> = new Set(
  [
    'Microsoft.Azure.Extensions.CustomScript',
    'Microsoft.ManagedServices.ApplicationHealthLinux',
    'Microsoft.ManagedServices.ApplicationHealthWindows',
  ].map((s) => s.toLowerCase()),
)

export const QEMU_TOOLS = ['qemu-system-x86_64', 'qemu-img', 'genisoimage', 'mke2fs']
