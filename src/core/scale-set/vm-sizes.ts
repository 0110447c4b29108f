/**
 * The VM sizes osroll serves (docs/api.md § VM sizes): one declarative table with Azure's own
 * cores, memory, disk limits and families, what `…/locations/{loc}/vmSizes` and `…/skus` list,
 * and the rules a scale set's `sku.name` and data disks follow: a size must be in the table, a
 * model may not attach more data disks than its size allows, and a data disk is 1–32,767 GiB.
 */
import type { Problem } from '../problem.js'
import { problem } from '../problem.js'
import type { ArmScaleSet } from './arm-model.js'

/** One VM size, as Azure's `vmSizes` and Resource SKUs APIs describe it. */
export type VmSize = Readonly<{
  /** `sku.name`, e.g. `Standard_D2s_v3`; matched without regard to case. */
  name: string
  tier: 'Standard' | 'Basic'
  /** The name without its tier, as the Resource SKUs API gives it: `D2s_v3`. */
  size: string
  family: string
  vCPUs: number
  memoryMB: number
  maxDataDiskCount: number
  /** The temporary disk; 0 for sizes without one (the v5 `s` sizes). */
  resourceDiskSizeInMB: number
  /** The largest OS disk the size takes: 1,023 GiB for every size here. */
  osDiskSizeInMB: number
}>

/** What a fabric needs of a size to shape a VM (the qemu fabric's `-smp` and `-m`). */
export type VmShape = Readonly<{ name: string; vCPUs: number; memoryMB: number }>

const OS_DISK_MB = 1_047_552

/**
 * Azure's figures for each size (learn.microsoft.com, "Sizes for virtual machines in Azure",
 * and `az vm list-sizes`): Standard_D2s_v3 has 2 vCPUs, 8 GiB (8,192 MB), 4 data disks and a
 * 16 GiB temporary disk. Sorted by family, then size.
 */
export const VM_SIZES: readonly VmSize[] = [
  row('Standard_A1_v2', 'standardAv2Family', 1, 2_048, 2, 10_240),
  row('Standard_A2_v2', 'standardAv2Family', 2, 4_096, 4, 20_480),
  row('Standard_B1ls', 'standardBSFamily', 1, 512, 2, 4_096),
  row('Standard_B1s', 'standardBSFamily', 1, 1_024, 2, 4_096),
  row('Standard_B1ms', 'standardBSFamily', 1, 2_048, 2, 4_096),
  row('Standard_B2s', 'standardBSFamily', 2, 4_096, 4, 8_192),
  row('Standard_B2ms', 'standardBSFamily', 2, 8_192, 4, 16_384),
  row('Standard_DS1_v2', 'standardDSv2Family', 1, 3_584, 4, 7_168),
  row('Standard_DS2_v2', 'standardDSv2Family', 2, 7_168, 8, 14_336),
  row('Standard_D2s_v3', 'standardDSv3Family', 2, 8_192, 4, 16_384),
  row('Standard_D4s_v3', 'standardDSv3Family', 4, 16_384, 8, 32_768),
  row('Standard_D2s_v5', 'standardDSv5Family', 2, 8_192, 4, 0),
  row('Standard_D4s_v5', 'standardDSv5Family', 4, 16_384, 8, 0),
  row('Standard_F2s_v2', 'standardFSv2Family', 2, 4_096, 4, 16_384),
  row('Standard_F4s_v2', 'standardFSv2Family', 4, 8_192, 8, 32_768),
]

/** Azure's largest managed data disk, 32,767 GiB. */
export const MAX_DATA_DISK_GB = 32_767

/**
 * The size named `name`, without regard to case, or undefined.
 * @example findVmSize('standard_b1s') → { name: 'Standard_B1s', vCPUs: 1, memoryMB: 1024, … }
 */
export function findVmSize(name: unknown): VmSize | undefined {
  if (typeof name !== 'string') return undefined
  const lower = name.toLowerCase()
  return VM_SIZES.find((s) => s.name.toLowerCase() === lower)
}

/**
 * The shape of the model's `sku.name`, or null when the model names no size (or one not in the
 * table, which validation refuses first).
 * @example vmShapeOf({ sku: { name: 'Standard_D2s_v3' } }) → { name: 'Standard_D2s_v3', vCPUs: 2, memoryMB: 8192 }
 */
export function vmShapeOf(model: ArmScaleSet): VmShape | null {
  const size = findVmSize(model.sku?.name)
  return size ? { name: size.name, vCPUs: size.vCPUs, memoryMB: size.memoryMB } : null
}

/**
 * The size rules of a scale set model, in Azure's words where known: `sku.name` must be a size of
 * the table (400 `InvalidParameter`, listing the valid sizes, as Azure lists a region's), the
 * data disks at most the size's `maxDataDiskCount` (409 `OperationNotAllowed`), and each data
 * disk's `diskSizeGB` an integer from 1 to 32,767. A model without `sku.name` has no size: it is
 * accepted, and the fabric uses its default VM shape (docs/api.md § VM sizes).
 * @example sizeProblems({ sku: { name: 'Standard_Z9' } })
 *   → [{ code: 'InvalidParameter', target: 'sku.name', message: 'The value Standard_Z9 provided for the VM size is not valid. …' }]
 */
export function sizeProblems(model: ArmScaleSet): Problem[] {
  const out: Problem[] = []
  const name = model.sku?.name
  const size = findVmSize(name)
  if (name !== undefined && name !== null && !size) {
    out.push(
      problem(
        'sku.name',
        `The value ${typeof name === 'string' ? name : JSON.stringify(name)} provided for the VM size is not valid. The valid sizes in the current region are: ${VM_SIZES.map((s) => s.name).join(',')}.`,
      ),
    )
  }
  const disks = model.properties?.virtualMachineProfile?.storageProfile?.dataDisks
  if (!Array.isArray(disks)) return out
  disks.forEach((d: { diskSizeGB?: unknown } | null, i) => {
    const gb = d?.diskSizeGB
    if (gb === undefined || gb === null) return
    if (!Number.isInteger(gb) || (gb as number) < 1 || (gb as number) > MAX_DATA_DISK_GB)
      out.push(
        problem(
          `properties.virtualMachineProfile.storageProfile.dataDisks[${i}].diskSizeGB`,
          `diskSizeGB ${JSON.stringify(gb)} is not valid: a data disk's size is an integer number of GiB from 1 to ${MAX_DATA_DISK_GB}.`,
        ),
      )
  })
  if (size && disks.length > size.maxDataDiskCount)
    out.push(
      problem(
        'properties.virtualMachineProfile.storageProfile.dataDisks',
        `The maximum number of data disks allowed to be attached to a VM of this size is ${size.maxDataDiskCount}.`,
        'OperationNotAllowed',
        409,
      ),
    )
  return out
}

function row(
  name: string,
  family: string,
  vCPUs: number,
  memoryMB: number,
  maxDataDiskCount: number,
  resourceDiskSizeInMB: number,
): VmSize {
  const [tier, ...rest] = name.split('_')
  return {
    name,
    tier: tier === 'Basic' ? 'Basic' : 'Standard',
    size: rest.join('_'),
    family,
    vCPUs,
    memoryMB,
    maxDataDiskCount,
    resourceDiskSizeInMB,
    osDiskSizeInMB: OS_DISK_MB,
  }
}
