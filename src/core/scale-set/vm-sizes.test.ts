import { describe, expect, it } from 'vitest'
import type { ArmScaleSet } from './arm-model.js'
import { findVmSize, MAX_DATA_DISK_GB, sizeProblems, VM_SIZES, vmShapeOf } from './vm-sizes.js'

const model = (sku: ArmScaleSet['sku'], dataDisks?: { lun: number; diskSizeGB?: number }[]) =>
  ({
    location: 'westus',
    sku,
    properties: { virtualMachineProfile: { storageProfile: { dataDisks } } },
  }) as ArmScaleSet

describe('the size table', () => {
  it('names each size once, whatever the case, with its tier split off as Azure does', () => {
    const names = VM_SIZES.map((s) => s.name.toLowerCase())
    expect(new Set(names).size).toBe(names.length)
    for (const s of VM_SIZES) {
      expect(`${s.tier}_${s.size}`).toBe(s.name)
      expect(s.vCPUs).toBeGreaterThanOrEqual(1)
      expect(s.memoryMB % 512).toBe(0)
      expect(s.maxDataDiskCount).toBeGreaterThanOrEqual(2)
      expect(s.family).toMatch(/^standard\w+Family$/)
    }
  })

  it.each([
    ['Standard_B1s', 1, 1_024, 2],
    ['Standard_B1ms', 1, 2_048, 2],
    ['Standard_B2s', 2, 4_096, 4],
    ['Standard_DS1_v2', 1, 3_584, 4],
    ['Standard_D2s_v3', 2, 8_192, 4],
    ['Standard_D4s_v3', 4, 16_384, 8],
    ['Standard_F2s_v2', 2, 4_096, 4],
  ])("has Azure's figures for %s: %i vCPUs, %i MB, %i data disks", (name, cpus, mb, disks) => {
    expect(findVmSize(name)).toMatchObject({
      vCPUs: cpus,
      memoryMB: mb,
      maxDataDiskCount: disks,
    })
  })

  it('finds a size without regard to case, and nothing for other values', () => {
    expect(findVmSize('STANDARD_d2S_V3')?.name).toBe('Standard_D2s_v3')
    expect(findVmSize('Standard_D2s')).toBeUndefined()
    expect(findVmSize(42)).toBeUndefined()
    expect(findVmSize(undefined)).toBeUndefined()
  })

  it("gives a model's shape from its sku.name, or null without a known one", () => {
    expect(vmShapeOf(model({ name: 'standard_f2s_v2' }))).toEqual({
      name: 'Standard_F2s_v2',
      vCPUs: 2,
      memoryMB: 4_096,
    })
    expect(vmShapeOf(model({ capacity: 2 }))).toBeNull()
    expect(vmShapeOf(model(undefined))).toBeNull()
  })
})

describe('sizeProblems', () => {
  const target = (i: number) =>
    `properties.virtualMachineProfile.storageProfile.dataDisks[${i}].diskSizeGB`
  it.each<[string, ArmScaleSet, { code: string; target: string; status: number }[]]>([
    ['no sku at all', model(undefined), []],
    ['a capacity without a name', model({ capacity: 3 }), []],
    ['a size of the table', model({ name: 'Standard_B2s', capacity: 3 }), []],
    [
      'an unknown size',
      model({ name: 'Standard_B3s' }),
      [{ code: 'InvalidParameter', target: 'sku.name', status: 400 }],
    ],
    [
      'a name of the wrong type',
      model({ name: 7 as unknown as string }),
      [{ code: 'InvalidParameter', target: 'sku.name', status: 400 }],
    ],
    [
      'two data disks on a size that takes two',
      model({ name: 'Standard_B1s' }, [{ lun: 0 }, { lun: 1 }]),
      [],
    ],
    [
      'three data disks on a size that takes two',
      model({ name: 'Standard_B1s' }, [{ lun: 0 }, { lun: 1 }, { lun: 2 }]),
      [
        {
          code: 'OperationNotAllowed',
          target: 'properties.virtualMachineProfile.storageProfile.dataDisks',
          status: 409,
        },
      ],
    ],
    [
      'the smallest and the largest data disk',
      model({ name: 'Standard_B2s' }, [
        { lun: 0, diskSizeGB: 1 },
        { lun: 1, diskSizeGB: MAX_DATA_DISK_GB },
      ]),
      [],
    ],
    [
      'data disks of 0 GiB and of 32 TiB + 1 GiB',
      model({ name: 'Standard_B2s' }, [
        { lun: 0, diskSizeGB: 0 },
        { lun: 1, diskSizeGB: MAX_DATA_DISK_GB + 1 },
      ]),
      [
        { code: 'InvalidParameter', target: target(0), status: 400 },
        { code: 'InvalidParameter', target: target(1), status: 400 },
      ],
    ],
    ['sized disks on a set without a size', model({}, [{ lun: 0, diskSizeGB: 8 }]), []],
  ])('%s', (_what, m, expected) => {
    const found = sizeProblems(m).map(({ code, target, status }) => ({ code, target, status }))
    expect(found).toEqual(expected)
  })

  it("lists the valid sizes in Azure's message for an unknown one", () => {
    const [p] = sizeProblems(model({ name: 'Standard_B3s' }))
    expect(p?.message).toBe(
      `The value Standard_B3s provided for the VM size is not valid. The valid sizes in the current region are: ${VM_SIZES.map((s) => s.name).join(',')}.`,
    )
  })
})
