/**
 * The size lists (docs/api.md § VM sizes): Compute's `…/locations/{loc}/vmSizes` and the
 * Resource SKUs API's `…/providers/Microsoft.Compute/skus`, both built from the one table
 * (`core/scale-set/vm-sizes.ts`). Every location serves every size, as a scale set may use any
 * location; the SKU list without a filter covers the locations `GET …/locations` lists.
 */
import { LOCATIONS } from '../config/defaults.js'
import { normalizeLocation } from '../core/scale-set/to-spec.js'
import type { VmSize } from '../core/scale-set/vm-sizes.js'
import { VM_SIZES } from '../core/scale-set/vm-sizes.js'
import { Errors } from '../errors.js'

/** The zones each location offers in `locationInfo` (osroll places instances in any zone). */
const ZONES = ['1', '2', '3']

/**
 * Compute's `vmSizes` of a location: `{ value: [{ name, numberOfCores, … }] }`.
 * @example listVmSizes().value[0] → { name: 'Standard_A1_v2', numberOfCores: 1, memoryInMB: 2048, … }
 */
export function listVmSizes(): { value: Record<string, unknown>[] } {
  return {
    value: VM_SIZES.map((s) => ({
      name: s.name,
      numberOfCores: s.vCPUs,
      osDiskSizeInMB: s.osDiskSizeInMB,
      resourceDiskSizeInMB: s.resourceDiskSizeInMB,
      memoryInMB: s.memoryMB,
      maxDataDiskCount: s.maxDataDiskCount,
    })),
  }
}

/**
 * The Resource SKUs of virtual machines, one entry per size and location, for every listed
 * location or, with `$filter=location eq 'westus'` (the only filter Azure takes), for that one.
 * @example listResourceSkus("location eq 'westus'").value.length → VM_SIZES.length
 */
export function listResourceSkus(filter: string | undefined): {
  value: Record<string, unknown>[]
} {
  const locations = filter === undefined ? LOCATIONS : [filterLocation(filter)]
  return { value: locations.flatMap((loc) => VM_SIZES.map((s) => resourceSku(s, loc))) }
}

function filterLocation(filter: string): string {
  const m = /^\s*location\s+eq\s+'([^']+)'\s*$/i.exec(filter)
  if (!m)
    throw Errors.InvalidParameter(
      `The $filter '${filter}' is not supported: the only filter is location eq '{location}', e.g. $filter=location eq 'westus'.`,
      '$filter',
    )
  return normalizeLocation(m[1] as string)
}

function resourceSku(s: VmSize, location: string): Record<string, unknown> {
  const capabilities: [string, string][] = [
    ['MaxResourceVolumeMB', String(s.resourceDiskSizeInMB)],
    ['OSVhdSizeMB', String(s.osDiskSizeInMB)],
    ['vCPUs', String(s.vCPUs)],
    ['vCPUsAvailable', String(s.vCPUs)],
    ['MemoryGB', String(s.memoryMB / 1024)],
    ['MaxDataDiskCount', String(s.maxDataDiskCount)],
    ['CpuArchitectureType', 'x64'],
  ]
  return {
    resourceType: 'virtualMachines',
    name: s.name,
    tier: s.tier,
    size: s.size,
    family: s.family,
    locations: [location],
    locationInfo: [{ location, zones: ZONES, zoneDetails: [] }],
    capabilities: capabilities.map(([name, value]) => ({ name, value })),
    restrictions: [],
  }
}
