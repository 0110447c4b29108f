/**
 * Shapes of the objects osroll models completely (docs/api.md § Scale set shape): `upgradePolicy`
 * and its children,
 * `imageReference`, `healthProbe` and each extension's `properties`. Inside them an unknown
 * member or a value of the wrong type is refused with `InvalidRequestContent`, as Azure does, so
 * that a typo such as `maxBatchInstancePercnet` never passes silently.
 */
import type { Problem } from '../problem.js'
import { problem } from '../problem.js'

type FieldType = 'string' | 'boolean' | 'integer' | 'object' | 'string[]' | 'any'
type Shape = Readonly<{ typeName: string; fields: Readonly<Record<string, FieldType | Shape>> }>

const ROLLING: Shape = {
  typeName: 'RollingUpgradePolicy',
  fields: {
    maxBatchInstancePercent: 'integer',
    maxUnhealthyInstancePercent: 'integer',
    maxUnhealthyUpgradedInstancePercent: 'integer',
    pauseTimeBetweenBatches: 'string',
    enableCrossZoneUpgrade: 'boolean',
    prioritizeUnhealthyInstances: 'boolean',
    rollbackFailedInstancesOnPolicyBreach: 'boolean',
    maxSurge: 'boolean',
  },
}
const AUTOMATIC_OS: Shape = {
  typeName: 'AutomaticOSUpgradePolicy',
  fields: {
    enableAutomaticOSUpgrade: 'boolean',
    disableAutomaticRollback: 'boolean',
    useRollingUpgradePolicy: 'boolean',
    osRollingUpgradeDeferral: 'boolean',
  },
}
const UPGRADE_POLICY: Shape = {
  typeName: 'UpgradePolicy',
  fields: { mode: 'string', rollingUpgradePolicy: ROLLING, automaticOSUpgradePolicy: AUTOMATIC_OS },
}
const IMAGE_REFERENCE: Shape = {
  typeName: 'ImageReference',
  fields: {
    publisher: 'string',
    offer: 'string',
    sku: 'string',
    version: 'string',
    id: 'string',
    exactVersion: 'string',
  },
}
const HEALTH_PROBE: Shape = { typeName: 'ApiEntityReference', fields: { id: 'string' } }
const EXTENSION_PROPERTIES: Shape = {
  typeName: 'VirtualMachineScaleSetExtensionProperties',
  fields: {
    publisher: 'string',
    type: 'string',
    typeHandlerVersion: 'string',
    autoUpgradeMinorVersion: 'boolean',
    enableAutomaticUpgrade: 'boolean',
    settings: 'any',
    protectedSettings: 'any',
    provisionAfterExtensions: 'string[]',
    suppressFailures: 'boolean',
    forceUpdateTag: 'string',
    provisioningState: 'any',
  },
}

/**
 * Unknown members and wrong types in the modelled objects of a scale set body.
 * @example checkShapes({ properties: { upgradePolicy: { mdoe: 'Rolling' } } })
 *   → [{ code: 'InvalidRequestContent', target: 'properties.upgradePolicy.mdoe', … }]
 */
export function checkShapes(body: unknown): Problem[] {
  const out: Problem[] = []
  const props = field(body, 'properties')
  checkObject(field(props, 'upgradePolicy'), UPGRADE_POLICY, 'properties.upgradePolicy', out)
  const vmp = field(props, 'virtualMachineProfile')
  const vmpPath = 'properties.virtualMachineProfile'
  checkObject(
    field(field(vmp, 'storageProfile'), 'imageReference'),
    IMAGE_REFERENCE,
    `${vmpPath}.storageProfile.imageReference`,
    out,
  )
  checkObject(
    field(field(vmp, 'networkProfile'), 'healthProbe'),
    HEALTH_PROBE,
    `${vmpPath}.networkProfile.healthProbe`,
    out,
  )
  const extensions = field(field(vmp, 'extensionProfile'), 'extensions')
  if (extensions !== undefined && !Array.isArray(extensions)) {
    out.push(typeProblem(`${vmpPath}.extensionProfile.extensions`, 'array'))
  } else if (Array.isArray(extensions)) {
    extensions.forEach((ext: unknown, i) => {
      const path = `${vmpPath}.extensionProfile.extensions[${i}]`
      if (!isPlainObject(ext)) return out.push(typeProblem(path, 'object'))
      checkObject(field(ext, 'properties'), EXTENSION_PROPERTIES, `${path}.properties`, out)
    })
  }
  return out
}

function checkObject(value: unknown, shape: Shape, path: string, out: Problem[]): void {
  if (value === undefined || value === null) return
  if (!isPlainObject(value)) {
    out.push(typeProblem(path, 'object'))
    return
  }
  for (const [key, v] of Object.entries(value)) {
    const type = shape.fields[key]
    const memberPath = `${path}.${key}`
    if (type === undefined) {
      out.push(
        problem(
          memberPath,
          `Could not find member '${key}' on object of type '${shape.typeName}'. Path '${memberPath}'.`,
          'InvalidRequestContent',
        ),
      )
    } else if (v === null || v === undefined) {
      continue
    } else if (typeof type === 'object') {
      checkObject(v, type, memberPath, out)
    } else if (!hasType(v, type)) {
      out.push(typeProblem(memberPath, type))
    }
  }
}

function hasType(v: unknown, type: FieldType): boolean {
  switch (type) {
    case 'any':
      return true
    case 'string':
      return typeof v === 'string'
    case 'boolean':
      return typeof v === 'boolean'
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v)
    case 'object':
      return isPlainObject(v)
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string')
  }
}

function typeProblem(path: string, expected: string): Problem {
  return problem(
    path,
    `Error converting value at path '${path}': expected ${expected === 'integer' ? 'an integer' : `a ${expected}`}.`,
    'InvalidRequestContent',
  )
}

function field(value: unknown, key: string): unknown {
  return isPlainObject(value) ? value[key] : undefined
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The member names osroll reads, in their canonical case; `[]` marks a list of such objects. */
type Names = { readonly [name: string]: Names | true }
const NAMES: Names = {
  location: true,
  tags: true,
  zones: true,
  sku: { name: true, tier: true, capacity: true },
  properties: {
    orchestrationMode: true,
    singlePlacementGroup: true,
    platformFaultDomainCount: true,
    upgradePolicy: {
      mode: true,
      rollingUpgradePolicy: Object.fromEntries(Object.keys(ROLLING.fields).map((k) => [k, true])),
      automaticOSUpgradePolicy: Object.fromEntries(
        Object.keys(AUTOMATIC_OS.fields).map((k) => [k, true]),
      ),
    },
    virtualMachineProfile: {
      osProfile: {
        computerNamePrefix: true,
        adminUsername: true,
        adminPassword: true,
        customData: true,
        windowsConfiguration: { enableAutomaticUpdates: true, patchSettings: { patchMode: true } },
        linuxConfiguration: true,
      },
      storageProfile: {
        imageReference: Object.fromEntries(
          Object.keys(IMAGE_REFERENCE.fields).map((k) => [k, true]),
        ),
        osDisk: true,
        dataDisks: { '[]': { lun: true, diskSizeGB: true, createOption: true } },
      },
      networkProfile: { healthProbe: { id: true }, networkInterfaceConfigurations: true },
      extensionProfile: {
        extensionsTimeBudget: true,
        extensions: {
          '[]': {
            name: true,
            properties: Object.fromEntries(
              Object.keys(EXTENSION_PROPERTIES.fields).map((k) => [k, true]),
            ),
          },
        },
      },
    },
  },
}

/**
 * ARM reads member names without regard to case (`RollingUpgradePolicy` is
 * `rollingUpgradePolicy`); osroll reads them in one case, so known names are put in their
 * canonical case first. Unknown members keep theirs.
 * @example canonicalCase({ Properties: { UpgradePolicy: { Mode: 'Rolling' } } })
 *   → { properties: { upgradePolicy: { mode: 'Rolling' } } }
 */
export function canonicalCase(body: unknown, names: Names = NAMES): unknown {
  if (Array.isArray(body)) {
    const item = names['[]']
    return item && item !== true ? body.map((x) => canonicalCase(x, item)) : body
  }
  if (!isPlainObject(body)) return body
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body)) {
    const known = Object.keys(names).find(
      (n) => n.toLowerCase() === key.toLowerCase() && n !== '[]',
    )
    const sub = known ? names[known] : undefined
    out[known ?? key] = sub && sub !== true ? canonicalCase(value, sub) : value
  }
  return out
}
