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
import { fromArmImageReference, isLatest } from '../image/image-ref.js'
import type { ArmExtension, ArmScaleSet } from './arm-model.js'
import { isApplicationHealthExtension, isServiceFabricExtension } from './arm-model.js'
import { checkShapes, isPlainObject } from './shape.js'
import { durabilityMismatchMessage } from './service-fabric.js'
import { nameProblem } from '../names.js'
import { checkBackendPools } from './backend-pools.js'
import type { NameKind } from '../names.js'
import { sizeProblems } from './vm-sizes.js'

export type ValidationFacts = Readonly<{
  /** The request's `api-version`, e.g. `2024-07-01` (a `-preview` suffix is allowed). */
  apiVersion: string
  fabricName: string
  /** `publisher.type`, lower-cased, of every extension handler the fabric provides. */
  extensionHandlers: ReadonlySet<string>
  /** What the catalog knows of the referenced image; undefined when not looked up. */
  image?: Readonly<{ os: 'Windows' | 'Linux'; automaticOSUpgradeSupported: boolean }>
  /** The referenced probe, when `healthProbe.id` is well formed. */
  probe?: Readonly<{ exists: boolean; loadBalancerSku: string }>
  /** Durability of the Service Fabric node type the extension names, when found. */
  serviceFabricNodeTypeDurability?: string
  /** Per well-formed backend pool id (lower case): whether it exists in the set's region. */
  backendPools?: ReadonlyMap<string, boolean>
  /** The set's resource id, named by Azure's messages about what it references. */
  scaleSetId?: string
}>

const PROBE_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/loadBalancers\/[^/]+\/probes\/[^/]+$/i

export const MESSAGES = {
  notLatest:
    "virtualMachineScaleSets with Automatic OS Upgrade enabled must use Platform or Gallery Image with version set to 'latest'.",
  skuUnsupported:
    'Automatic OS Upgrade cannot be enabled on virtualMachineScaleSets configured with a Platform Image.',
  /** The seed: "Application health probes are not supported with Service Fabric scale sets." */
  serviceFabricProbe:
    'Application health probes are not supported for Service Fabric scale sets: remove properties.virtualMachineProfile.networkProfile.healthProbe (Service Fabric gates upgrades on its own health).',
  noHealthAuto:
    'Automatic OS Upgrade is not supported for this Virtual Machine Scale Set because a health probe or health extension was not specified.',
  noHealthRolling:
    'Rolling Upgrade mode is not supported for this Virtual Machine Scale Set because a health probe or health extension was not provided.',
  bothHealth:
    'Automatic OS Upgrade is not supported for this Virtual Machine Scale Set because both a health probe and a health extension were provided. Remove the health probe or health extension prior to enabling automatic OS upgrade.',
  windowsUpdates:
    'windowsConfiguration.enableAutomaticUpdates cannot be set to true if upgradePolicy.automaticOSUpgradePolicy.enableAutomaticOSUpgrade is already true, starting from APIversion 2019-03-01',
} as const

const P_UPGRADE = 'properties.upgradePolicy'
const P_AUTO = `${P_UPGRADE}.automaticOSUpgradePolicy`
const P_ROLLING = `${P_UPGRADE}.rollingUpgradePolicy`
const P_VMP = 'properties.virtualMachineProfile'
const P_EXT = `${P_VMP}.extensionProfile.extensions`

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
 * Service Fabric scale set: an extension of the SF publisher
 * (docs/api.md § Service Fabric clusters).
 */
export function serviceFabricExtension(model: ArmScaleSet): ArmExtension | undefined {
  return extensionsOf(model).find(isServiceFabricExtension)
}

/** The health source the model declares (probe and/or Application Health extension). */
export function healthSources(model: ArmScaleSet): { probe: boolean; extension: boolean } {
  const probeId = model.properties?.virtualMachineProfile?.networkProfile?.healthProbe?.id
  return {
    probe: typeof probeId === 'string' && probeId !== '',
    extension: extensionsOf(model).some(isApplicationHealthExtension),
  }
}

export function extensionsOf(model: ArmScaleSet): readonly ArmExtension[] {
  return model.properties?.virtualMachineProfile?.extensionProfile?.extensions ?? []
}

/** `YYYY-MM-DD[-preview]` ≥ `minimum`; dates compare as strings. */
export function apiVersionAtLeast(apiVersion: string, minimum: string): boolean {
  return apiVersion.slice(0, 10) >= minimum
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

function checkRollingPolicy(model: ArmScaleSet): Problem[] {
  const p = model.properties?.upgradePolicy?.rollingUpgradePolicy
  if (!p) return []
  const out: Problem[] = []
  const ranges: [keyof typeof p, number][] = [
    ['maxBatchInstancePercent', 5],
    ['maxUnhealthyInstancePercent', 5],
    ['maxUnhealthyUpgradedInstancePercent', 0],
  ]
  for (const [name, min] of ranges) {
    const v = p[name]
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < min || (v as number) > 100)) {
      out.push(
        problem(`${P_ROLLING}.${name}`, `${name} must be an integer between ${min} and 100.`),
      )
    }
  }
  const pause = p.pauseTimeBetweenBatches
  if (pause !== undefined) {
    const ms = parseDurationMs(pause)
    if (ms === undefined || ms > 3_600_000) {
      out.push(
        problem(
          `${P_ROLLING}.pauseTimeBetweenBatches`,
          `pauseTimeBetweenBatches '${pause}' must be an ISO 8601 duration between PT0S and PT1H.`,
        ),
      )
    }
  }
  return out
}

function checkHealthProbe(model: ArmScaleSet, facts: ValidationFacts): Problem[] {
  const id = model.properties?.virtualMachineProfile?.networkProfile?.healthProbe?.id
  if (id === undefined) return []
  const target = `${P_VMP}.networkProfile.healthProbe.id`
  if (!PROBE_ID.test(id)) {
    return [
      problem(
        target,
        `Property id '${id}' at path '${target}' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{subscriptionId}' or '/providers/{resourceProviderNamespace}/'.`,
        'LinkedInvalidPropertyId',
      ),
    ]
  }
  if (facts.probe && !facts.probe.exists) {
    return [problem(target, `Resource ${id} not found.`, 'NotFound', 404)]
  }
  if (
    model.properties?.singlePlacementGroup === false &&
    facts.probe &&
    facts.probe.loadBalancerSku.toLowerCase() !== 'standard'
  ) {
    return [
      problem(
        target,
        'A scale set with singlePlacementGroup set to false can only use a health probe of a Standard SKU load balancer.',
      ),
    ]
  }
  return []
}

function checkExtensions(model: ArmScaleSet, facts: ValidationFacts): Problem[] {
  const extensions = extensionsOf(model)
  const out: Problem[] = []
  const names = new Map<string, number>()
  extensions.forEach((ext, i) => {
    const target = `${P_EXT}[${i}]`
    if (typeof ext.name !== 'string' || ext.name === '') {
      out.push(problem(`${target}.name`, 'Every extension needs a name.'))
      return
    }
    if (names.has(ext.name.toLowerCase())) {
      out.push(problem(`${target}.name`, `Extension name '${ext.name}' is used twice.`))
    }
    names.set(ext.name.toLowerCase(), i)
    const p = ext.properties
    if (!p?.publisher || !p.type) {
      out.push(
        problem(`${target}.properties`, `Extension '${ext.name}' needs a publisher and a type.`),
      )
      return
    }
    if (!facts.extensionHandlers.has(`${p.publisher}.${p.type}`.toLowerCase())) {
      out.push(
        problem(
          `${target}.properties.type`,
          `Extension '${ext.name}' of type '${p.publisher}.${p.type}' is not available on fabric '${facts.fabricName}'.`,
        ),
      )
    }
  })
  extensions.forEach((ext, i) => {
    if (isApplicationHealthExtension(ext))
      out.push(...checkApplicationHealthSettings(ext, `${P_EXT}[${i}].properties.settings`))
  })
  extensions.forEach((ext, i) => {
    for (const dep of ext.properties?.provisionAfterExtensions ?? []) {
      if (!names.has(dep.toLowerCase())) {
        out.push(
          problem(
            `${P_EXT}[${i}].properties.provisionAfterExtensions`,
            `Extension '${ext.name}' is to be provisioned after extension '${dep}', which is not in the model.`,
          ),
        )
      }
    }
  })
  const cycle = findCycle(extensions)
  if (cycle) {
    out.push(
      problem(
        `${P_EXT}`,
        `The provisionAfterExtensions of extensions form a cycle: ${cycle.join(' -> ')}.`,
      ),
    )
  }
  return out
}

function checkAutomaticOSUpgrade(model: ArmScaleSet, facts: ValidationFacts): Problem[] {
  const auto = model.properties?.upgradePolicy?.automaticOSUpgradePolicy
  if (auto !== undefined && !apiVersionAtLeast(facts.apiVersion, '2018-10-01')) {
    return [
      problem(
        P_AUTO,
        `automaticOSUpgradePolicy requires api-version 2018-10-01 or later; the request used ${facts.apiVersion}.`,
      ),
    ]
  }
  if (auto?.enableAutomaticOSUpgrade !== true) return []
  const out: Problem[] = []
  const vmp = model.properties?.virtualMachineProfile
  const refTarget = `${P_VMP}.storageProfile.imageReference`
  const ref =
    vmp?.storageProfile?.imageReference && fromArmImageReference(vmp.storageProfile.imageReference)
  if (!ref || !isLatest(ref)) out.push(problem(refTarget, MESSAGES.notLatest))
  if (ref?.kind === 'platform' && facts.image && !facts.image.automaticOSUpgradeSupported) {
    const sku = `${ref.publisher}:${ref.offer}:${ref.sku}`
    const detail = problem(
      refTarget,
      `Image SKU '${sku}' does not support automatic OS upgrades.`,
      'AutomaticOSUpgradeNotSupported',
    )
    out.push({ ...problem(refTarget, MESSAGES.skuUnsupported), details: [detail] })
  }
  const sf = serviceFabricExtension(model)
  const health = healthSources(model)
  if (!sf && !health.probe && !health.extension) out.push(problem(P_AUTO, MESSAGES.noHealthAuto))
  if (health.probe && health.extension) out.push(problem(P_AUTO, MESSAGES.bothHealth))
  const win = vmp?.osProfile?.windowsConfiguration
  if (
    facts.image?.os === 'Windows' &&
    apiVersionAtLeast(facts.apiVersion, '2019-03-01') &&
    win?.enableAutomaticUpdates === true
  ) {
    out.push(
      problem(
        `${P_VMP}.osProfile.windowsConfiguration.enableAutomaticUpdates`,
        MESSAGES.windowsUpdates,
      ),
    )
  }
  if (win?.patchSettings?.patchMode === 'AutomaticByPlatform') {
    out.push(
      problem(
        `${P_VMP}.osProfile.windowsConfiguration.patchSettings.patchMode`,
        "patchMode 'AutomaticByPlatform' cannot be used when upgradePolicy.automaticOSUpgradePolicy.enableAutomaticOSUpgrade is true.",
      ),
    )
  }
  if (sf) out.push(...checkServiceFabric(sf, facts))
  if (sf && health.probe)
    out.push(problem(`${P_VMP}.networkProfile.healthProbe`, MESSAGES.serviceFabricProbe))
  if (model.properties?.orchestrationMode === 'Flexible') {
    if (!health.extension)
      out.push(
        problem(
          P_AUTO,
          'Automatic OS Upgrade on a Flexible scale set requires the Application Health extension; a load balancer probe is not enough.',
        ),
      )
    if (model.properties?.upgradePolicy?.rollingUpgradePolicy?.maxSurge === true) {
      out.push(
        problem(
          `${P_ROLLING}.maxSurge`,
          'maxSurge with Automatic OS Upgrade is supported only for Uniform orchestration mode.',
        ),
      )
    }
  }
  return out
}

function checkServiceFabric(sf: ArmExtension, facts: ValidationFacts): Problem[] {
  const out: Problem[] = []
  const target = `${P_EXT}.${sf.name}`
  const settings = sf.properties?.settings ?? {}
  const durability = String(settings['durabilityLevel'] ?? '')
  if (!['Silver', 'Gold'].includes(durability)) {
    out.push(
      problem(
        target,
        `Automatic OS Upgrade of a Service Fabric scale set requires durability level Silver or Gold; the extension has '${durability || 'Bronze'}'.`,
      ),
    )
  }
  const [major, minor] = String(sf.properties?.typeHandlerVersion ?? '0.0')
    .split('.')
    .map(Number)
  if ((major ?? 0) < 1 || ((major ?? 0) === 1 && (minor ?? 0) < 1)) {
    out.push(
      problem(
        `${target}.typeHandlerVersion`,
        'Automatic OS Upgrade of a Service Fabric scale set requires Service Fabric extension typeHandlerVersion 1.1 or later.',
      ),
    )
  }
  const clusterDurability = facts.serviceFabricNodeTypeDurability
  if (clusterDurability !== undefined && durability !== '' && clusterDurability !== durability) {
    const nt = String(settings['nodeTypeRef'] ?? '')
    out.push(
      problem(
        target,
        durabilityMismatchMessage(nt, durability, clusterDurability),
        'OperationNotAllowed',
        409,
      ),
    )
  }
  return out
}

function checkRollingMode(model: ArmScaleSet): Problem[] {
  if (model.properties?.upgradePolicy?.mode !== 'Rolling') return []
  const health = healthSources(model)
  const out: Problem[] = []
  if (!serviceFabricExtension(model) && !health.probe && !health.extension) {
    out.push(problem(`${P_UPGRADE}.mode`, MESSAGES.noHealthRolling))
  }
  if (model.properties?.orchestrationMode === 'Flexible' && !health.extension) {
    out.push(
      problem(
        `${P_UPGRADE}.mode`,
        'Rolling Upgrade mode on a Flexible scale set requires the Application Health extension; a load balancer probe is not enough.',
      ),
    )
  }
  return out
}

/** The first cycle of `provisionAfterExtensions`, as names, or undefined. */
function findCycle(extensions: readonly ArmExtension[]): string[] | undefined {
  const byName = new Map(extensions.map((e) => [String(e.name).toLowerCase(), e]))
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (key: string): string[] | undefined => {
    if (state.get(key) === 'done') return undefined
    if (state.get(key) === 'visiting') {
      const from = stack.indexOf(key)
      return [...stack.slice(from), key].map((k) => String(byName.get(k)?.name ?? k))
    }
    state.set(key, 'visiting')
    stack.push(key)
    for (const dep of byName.get(key)?.properties?.provisionAfterExtensions ?? []) {
      if (!byName.has(dep.toLowerCase())) continue
      const found = visit(dep.toLowerCase())
      if (found) return found
    }
    stack.pop()
    state.set(key, 'done')
    return undefined
  }
  for (const key of byName.keys()) {
    const found = visit(key)
    if (found) return found
  }
  return undefined
}

/**
 * Application Health extension settings (docs/rollouts.md R5): protocol, port, path and the ranges.
 */
function checkApplicationHealthSettings(ext: ArmExtension, target: string): Problem[] {
  const s = ext.properties?.settings ?? {}
  const out: Problem[] = []
  const protocol = s['protocol'] ?? 'http'
  if (!['http', 'https', 'tcp'].includes(String(protocol)))
    out.push(
      problem(
        `${target}.protocol`,
        `protocol '${String(protocol)}' is not one of http, https, tcp.`,
      ),
    )
  const port = s['port']
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
    out.push(problem(`${target}.port`, 'port must be an integer from 1 to 65535.'))
  const ranges: [string, number, number][] = [
    ['intervalInSeconds', 5, 60],
    ['numberOfProbes', 1, 24],
    ['gracePeriod', 0, 14400],
  ]
  for (const [name, min, max] of ranges) {
    const v = s[name]
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < min || (v as number) > max)) {
      out.push(problem(`${target}.${name}`, `${name} must be an integer from ${min} to ${max}.`))
    }
  }
  return out
}
