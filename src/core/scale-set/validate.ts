/**
 * Scale set validation (docs/api.md § Validation) as a pure function: every rule that needs a
 * lookup (the image,
 * the probe, the Service Fabric cluster, the fabric's extension handlers) takes its answer from
 * `facts`, which the service gathers first. Returns every problem found, in rule order; the API
 * answers with the first one and lists the rest in `details`.
 */
import type { Problem } from '../problem.js'
import { problem } from '../problem.js'
import { parseDurationMs } from '../duration.js'
import { fromArmImageReference } from '../image/image-ref.js'
import type { ArmScaleSet } from './arm-model.js'
import { checkShapes, isPlainObject } from './shape.js'
import { nameProblem } from '../names.js'
import { checkBackendPools } from './backend-pools.js'
import type { NameKind } from '../names.js'
import { sizeProblems } from './vm-sizes.js'
import { checkExtensions } from './validate-extensions.js'
import {
  checkAutomaticOSUpgrade,
  checkHealthProbe,
  checkRollingMode,
  checkRollingPolicy,
} from './validate-upgrade.js'
import type { ValidationFacts } from './validation-facts.js'
import { P_EXT, P_UPGRADE, P_VMP, extensionsOf } from './validation-facts.js'

export type { ValidationFacts } from './validation-facts.js'
export {
  MESSAGES,
  apiVersionAtLeast,
  extensionsOf,
  healthSources,
  serviceFabricExtension,
} from './validation-facts.js'

/**
 * Every problem of a scale set model, first the shape (unknown members, wrong types), then the
 * ranges, then the rules of automatic OS upgrades and rolling mode.
 * @example validateScaleSet({ location: 'westus', sku: { capacity: 2000 } }, facts)
 *   → [{ code: 'InvalidParameter', target: 'sku.capacity', message: '…between 0 and 1000…' }]
 */
export function validateScaleSet(model: ArmScaleSet, facts: ValidationFacts): Problem[] {
  const shape = checkShapes(model)
  if (shape.length > 0) return shape
  return [
    ...checkModelNames(model),
    ...checkBasics(model),
    ...sizeProblems(model),
    ...checkRollingPolicy(model),
    ...checkHealthProbe(model, facts),
    ...checkBackendPools(model, { exists: facts.backendPools, scaleSetId: facts.scaleSetId }),
    ...checkExtensions(model, facts),
    ...checkAutomaticOSUpgrade(model, facts),
    ...checkRollingMode(model),
  ]
}

/**
 * Names inside the model (issue 15), by ARM's rules: extensions, network interface and IP
 * configurations, computerNamePrefix, and a platform image's publisher, offer, sku and version. A missing
 * extension name is checkExtensions' to report.
 */
function checkModelNames(model: ArmScaleSet): Problem[] {
  const vmp = model.properties?.virtualMachineProfile
  const names: [NameKind, unknown, string][] = []
  extensionsOf(model).forEach((ext, i) => {
    if (ext.name !== undefined && ext.name !== '')
      names.push(['extension', ext.name, `${P_EXT}[${i}].name`])
  })
  const nics = vmp?.networkProfile?.networkInterfaceConfigurations
  ;(Array.isArray(nics) ? nics : []).forEach((nic: unknown, i) => {
    const at = `${P_VMP}.networkProfile.networkInterfaceConfigurations[${i}]`
    if (!isPlainObject(nic)) return
    names.push(['networkConfiguration', nic['name'], `${at}.name`])
    const ips = isPlainObject(nic['properties']) ? nic['properties']['ipConfigurations'] : []
    ;(Array.isArray(ips) ? ips : []).forEach((ip: unknown, j) => {
      if (isPlainObject(ip))
        names.push([
          'networkConfiguration',
          ip['name'],
          `${at}.properties.ipConfigurations[${j}].name`,
        ])
    })
  })
  const prefix = vmp?.osProfile?.computerNamePrefix
  if (prefix !== undefined)
    names.push(['computerNamePrefix', prefix, `${P_VMP}.osProfile.computerNamePrefix`])
  const ref = vmp?.storageProfile?.imageReference
  if (isPlainObject(ref) && ref['id'] === undefined) {
    for (const k of ['publisher', 'offer', 'sku'] as const)
      if (ref[k] !== undefined)
        names.push(['imageSegment', ref[k], `${P_VMP}.storageProfile.imageReference.${k}`])
    if (ref['version'] !== undefined)
      names.push(['imageVersion', ref['version'], `${P_VMP}.storageProfile.imageReference.version`])
  }
  return names.flatMap(([kind, name, target]) => nameProblem(kind, name, target) ?? [])
}

function checkBasics(model: ArmScaleSet): Problem[] {
  const out: Problem[] = []
  if (typeof model.location !== 'string' || model.location.trim() === '') {
    out.push(problem('location', "The 'location' property is required.", 'LocationRequired'))
  }
  const capacity = model.sku?.capacity
  if (capacity !== undefined && (!Number.isInteger(capacity) || capacity < 0 || capacity > 1000)) {
    out.push(problem('sku.capacity', 'Capacity must be an integer between 0 and 1000.'))
  }
  const mode = model.properties?.upgradePolicy?.mode
  if (mode !== undefined && !['Automatic', 'Manual', 'Rolling'].includes(mode)) {
    out.push(
      problem(
        `${P_UPGRADE}.mode`,
        `Upgrade mode '${mode}' is not one of Automatic, Manual, Rolling.`,
      ),
    )
  }
  const orchestration = model.properties?.orchestrationMode
  if (orchestration !== undefined && !['Uniform', 'Flexible'].includes(orchestration)) {
    out.push(
      problem(
        'properties.orchestrationMode',
        `Orchestration mode '${orchestration}' is not one of Uniform, Flexible.`,
      ),
    )
  }
  const fd = model.properties?.platformFaultDomainCount
  if (fd !== undefined && (!Number.isInteger(fd) || fd < 1 || fd > 5)) {
    out.push(
      problem(
        'properties.platformFaultDomainCount',
        'platformFaultDomainCount must be an integer between 1 and 5.',
      ),
    )
  }
  const budget = model.properties?.virtualMachineProfile?.extensionProfile?.extensionsTimeBudget
  if (budget !== undefined) {
    const ms = parseDurationMs(budget)
    if (ms === undefined || ms < 15 * 60_000 || ms > 120 * 60_000) {
      out.push(
        problem(
          `${P_VMP}.extensionProfile.extensionsTimeBudget`,
          `extensionsTimeBudget '${budget}' must be an ISO 8601 duration between PT15M and PT2H.`,
        ),
      )
    }
  }
  const dataDisks = model.properties?.virtualMachineProfile?.storageProfile?.dataDisks ?? []
  const luns = new Set<number>()
  dataDisks.forEach((d, i) => {
    const target = `${P_VMP}.storageProfile.dataDisks[${i}].lun`
    if (!Number.isInteger(d.lun) || (d.lun as number) < 0 || (d.lun as number) > 63) {
      out.push(problem(target, 'A data disk lun must be an integer between 0 and 63.'))
    } else if (luns.has(d.lun as number)) {
      out.push(problem(target, `Two data disks use lun ${d.lun}; luns must be unique.`))
    } else luns.add(d.lun as number)
  })
  const ref = model.properties?.virtualMachineProfile?.storageProfile?.imageReference
  if (ref !== undefined && fromArmImageReference(ref) === undefined) {
    out.push(
      problem(
        `${P_VMP}.storageProfile.imageReference`,
        'An imageReference needs either publisher, offer, sku and version, or an id.',
      ),
    )
  }
  return out
}
