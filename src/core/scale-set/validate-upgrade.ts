/**
 * The checks of a scale set's upgrade policy: the rolling policy's ranges, the health probe it
 * names, the rules of automatic OS upgrades and of rolling mode.
 */
import type { Problem } from '../problem.js'
import { problem } from '../problem.js'
import { parseDurationMs } from '../duration.js'
import { fromArmImageReference, isLatest } from '../image/image-ref.js'
import type { ArmScaleSet } from './arm-model.js'
import { checkServiceFabric } from './validate-extensions.js'
import type { ValidationFacts } from './validation-facts.js'
import {
  MESSAGES,
  P_AUTO,
  P_ROLLING,
  P_UPGRADE,
  P_VMP,
  apiVersionAtLeast,
  healthSources,
  serviceFabricExtension,
} from './validation-facts.js'

const PROBE_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/loadBalancers\/[^/]+\/probes\/[^/]+$/i

export function checkRollingPolicy(model: ArmScaleSet): Problem[] {
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

export function checkHealthProbe(model: ArmScaleSet, facts: ValidationFacts): Problem[] {
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

export function checkAutomaticOSUpgrade(model: ArmScaleSet, facts: ValidationFacts): Problem[] {
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
  out.push(...checkWindowsAutomatic(model, facts))
  if (sf) out.push(...checkServiceFabric(sf, facts))
  if (sf && health.probe)
    out.push(problem(`${P_VMP}.networkProfile.healthProbe`, MESSAGES.serviceFabricProbe))
  if (model.properties?.orchestrationMode === 'Flexible')
    out.push(...checkFlexibleAutomatic(model, health))
  return out
}

export function checkRollingMode(model: ArmScaleSet): Problem[] {
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

/** Automatic OS upgrades against Windows' own updates and patching. */
function checkWindowsAutomatic(model: ArmScaleSet, facts: ValidationFacts): Problem[] {
  const out: Problem[] = []
  const vmp = model.properties?.virtualMachineProfile
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
  return out
}

/** Automatic OS upgrades on a Flexible scale set. */
function checkFlexibleAutomatic(
  model: ArmScaleSet,
  health: { probe: boolean; extension: boolean },
): Problem[] {
  const out: Problem[] = []
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
  return out
}
