/**
 * ARM's resource providers read enum values without regard to case (`"automatic"` is
 * `Automatic`) and answer with the canonical casing. osroll puts every enum value it knows into
 * its canonical casing before validating, so a body is validated, stored and returned in one
 * spelling. A value that matches no allowed value is left as sent, for validation to refuse.
 */
import { isPlainObject } from './scale-set/shape.js'

/** A member path (`a.b[].c`; `[]` walks every array item) and its allowed values, canonical. */
export type EnumRule = readonly [path: string, allowed: readonly string[]]

/**
 * The canonical spelling of `value` among `allowed`, compared without case; else `value`.
 * @example canonicalEnum('tcp', ['Http', 'Https', 'Tcp']) → 'Tcp'
 */
export function canonicalEnum(value: unknown, allowed: readonly string[]): unknown {
  if (typeof value !== 'string') return value
  const lower = value.toLowerCase()
  return allowed.find((a) => a.toLowerCase() === lower) ?? value
}

/**
 * `body` with the enum members named by `rules` in their canonical casing. Member names along a
 * path match without case too; the body is copied, never changed.
 * @example canonicalEnums({ properties: { upgradePolicy: { mode: 'rolling' } } },
 *   [['properties.upgradePolicy.mode', ['Automatic', 'Manual', 'Rolling']]])
 *   → { properties: { upgradePolicy: { mode: 'Rolling' } } }
 */
export function canonicalEnums(body: unknown, rules: readonly EnumRule[]): unknown {
  return rules.reduce(
    (b, [path, allowed]) => rewriteAt(b, path, (v) => canonicalEnum(v, allowed)),
    body,
  )
}

/**
 * `body` with the member at `path` (`a.b[].c`; `[]` walks every array item) replaced by
 * `f(value)` wherever it is present. Member names match without case; the body is copied, never
 * changed. Shared by the enum and the scalar rules (`coerce.ts`).
 * @example rewriteAt({ A: [{ b: 1 }, { c: 2 }] }, 'a[].b', (v) => Number(v) + 1)
 *   → { A: [{ b: 2 }, { c: 2 }] }
 */
export function rewriteAt(body: unknown, path: string, f: (value: unknown) => unknown): unknown {
  return rewrite(body, steps(path), f)
}

function steps(path: string): string[] {
  return path.split('.').flatMap((s) => (s.endsWith('[]') ? [s.slice(0, -2), '[]'] : [s]))
}

function rewrite(node: unknown, rest: readonly string[], f: (value: unknown) => unknown): unknown {
  const [head, ...tail] = rest
  if (head === undefined) return f(node)
  if (head === '[]') return Array.isArray(node) ? node.map((x) => rewrite(x, tail, f)) : node
  if (!isPlainObject(node)) return node
  const key = Object.keys(node).find((k) => k.toLowerCase() === head.toLowerCase())
  if (key === undefined) return node
  return { ...node, [key]: rewrite(node[key], tail, f) }
}

const STORAGE_ACCOUNT_TYPES = [
  'Standard_LRS',
  'Premium_LRS',
  'StandardSSD_LRS',
  'UltraSSD_LRS',
  'Premium_ZRS',
  'StandardSSD_ZRS',
  'PremiumV2_LRS',
] as const
const CACHING = ['None', 'ReadOnly', 'ReadWrite'] as const
const OS_TYPES = ['Linux', 'Windows'] as const
const VMP = 'properties.virtualMachineProfile'

/** Enum members of a scale set body (Microsoft.Compute/virtualMachineScaleSets). */
export const SCALE_SET_ENUMS: readonly EnumRule[] = [
  ['sku.tier', ['Standard', 'Basic']],
  ['properties.upgradePolicy.mode', ['Automatic', 'Manual', 'Rolling']],
  ['properties.orchestrationMode', ['Uniform', 'Flexible']],
  [`${VMP}.priority`, ['Regular', 'Low', 'Spot']],
  [`${VMP}.evictionPolicy`, ['Deallocate', 'Delete']],
  [
    `${VMP}.osProfile.windowsConfiguration.patchSettings.patchMode`,
    ['Manual', 'AutomaticByOS', 'AutomaticByPlatform'],
  ],
  [
    `${VMP}.osProfile.linuxConfiguration.patchSettings.patchMode`,
    ['ImageDefault', 'AutomaticByPlatform'],
  ],
  [`${VMP}.storageProfile.osDisk.createOption`, ['FromImage', 'Empty', 'Attach']],
  [`${VMP}.storageProfile.osDisk.caching`, CACHING],
  [`${VMP}.storageProfile.osDisk.osType`, OS_TYPES],
  [`${VMP}.storageProfile.osDisk.managedDisk.storageAccountType`, STORAGE_ACCOUNT_TYPES],
  [`${VMP}.storageProfile.dataDisks[].createOption`, ['Empty', 'Attach', 'FromImage']],
  [`${VMP}.storageProfile.dataDisks[].caching`, CACHING],
  [`${VMP}.storageProfile.dataDisks[].managedDisk.storageAccountType`, STORAGE_ACCOUNT_TYPES],
]

/** Enum members of a load balancer body (Microsoft.Network/loadBalancers). */
export const LOAD_BALANCER_ENUMS: readonly EnumRule[] = [
  ['sku.name', ['Basic', 'Standard', 'Gateway']],
  ['sku.tier', ['Regional', 'Global']],
  ['properties.probes[].properties.protocol', ['Http', 'Https', 'Tcp']],
  ['properties.loadBalancingRules[].properties.protocol', ['Tcp', 'Udp', 'All']],
  [
    'properties.frontendIPConfigurations[].properties.privateIPAllocationMethod',
    ['Static', 'Dynamic'],
  ],
]

/** Enum members of a gallery image definition (Microsoft.Compute/galleries/images). */
export const IMAGE_DEFINITION_ENUMS: readonly EnumRule[] = [
  ['properties.osType', OS_TYPES],
  ['properties.osState', ['Generalized', 'Specialized']],
  ['properties.hyperVGeneration', ['V1', 'V2']],
  ['properties.architecture', ['x64', 'Arm64']],
]

/** Enum members of a gallery image version (Microsoft.Compute/galleries/images/versions). */
export const IMAGE_VERSION_ENUMS: readonly EnumRule[] = [
  [
    'properties.publishingProfile.storageAccountType',
    ['Standard_LRS', 'Standard_ZRS', 'Premium_LRS'],
  ],
  [
    'properties.publishingProfile.targetRegions[].storageAccountType',
    ['Standard_LRS', 'Standard_ZRS', 'Premium_LRS'],
  ],
]

/** Enum members of a platform image publish body (osroll's catalog). */
export const PLATFORM_IMAGE_ENUMS: readonly EnumRule[] = [
  ['properties.osDiskImage.operatingSystem', OS_TYPES],
]
