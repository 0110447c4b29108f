/**
 * Builders for tests: a valid spec, instance observations and fabric models with sensible
 * defaults, overridable field by field.
 */
import type { ScaleSetSpec } from '../src/core/scale-set/spec.js'
import { DEFAULT_AUTOMATIC_OS_POLICY, DEFAULT_ROLLING_POLICY } from '../src/core/scale-set/spec.js'
import type { InstanceObservation } from '../src/core/rollout/types.js'
import type { FabricModel } from '../src/fabrics/types/fabric.js'
import { placeNewInstances } from '../src/core/scale-set/placement.js'
import type { ScaleSetState } from '../src/store/store.js'

export const SET_KEY =
  '/subscriptions/sub1/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/web'

export function spec(overrides: Partial<ScaleSetSpec> = {}): ScaleSetSpec {
  return {
    key: SET_KEY,
    name: 'web',
    location: 'westus',
    zones: [],
    capacity: 10,
    orchestrationMode: 'Uniform',
    mode: 'Manual',
    rolling: DEFAULT_ROLLING_POLICY,
    rollingPolicySet: false,
    automaticOS: { ...DEFAULT_AUTOMATIC_OS_POLICY, enabled: true },
    image: {
      kind: 'platform',
      publisher: 'Canonical',
      offer: 'UbuntuServer',
      sku: '18.04-LTS',
      version: 'latest',
    },
    modelGeneration: 1,
    serviceFabric: false,
    healthSource: 'probe',
    platformFaultDomainCount: 5,
    extensionsTimeBudgetMs: 5_400_000,
    ...overrides,
  }
}

/** `count` healthy, running instances on `version`, placed as the set would place them. */
export function fleet(
  count: number,
  o: { version?: string; zones?: readonly string[]; generation?: number } = {},
): InstanceObservation[] {
  const placements = placeNewInstances([], o.zones ?? [], count, undefined)
  return placements.map((p, i) =>
    instance(String(i), {
      ...p,
      osImageVersion: o.version ?? '1.0.0',
      modelGeneration: o.generation ?? 1,
    }),
  )
}

export function instance(
  id: string,
  overrides: Partial<InstanceObservation> = {},
): InstanceObservation {
  return {
    instanceId: id,
    zone: null,
    updateDomain: Number(id) % 5,
    faultDomain: Number(id) % 5,
    protectFromScaleIn: false,
    protectFromScaleSetActions: false,
    osImageVersion: '1.0.0',
    previousOsImageVersion: null,
    modelGeneration: 1,
    power: 'running',
    provisioning: 'succeeded',
    provisioningError: null,
    health: 'healthy',
    bootedAtMs: 0,
    osUpgradePending: false,
    osUpgradeApproved: false,
    ...overrides,
  }
}

export function fabricModel(overrides: Partial<FabricModel> = {}): FabricModel {
  return {
    scaleSetKey: SET_KEY,
    computerNamePrefix: 'web',
    modelGeneration: 1,
    customData: null,
    dataDiskLuns: [0],
    extensions: [],
    healthSource: 'probe',
    extensionsTimeBudgetMs: 5_400_000,
    ...overrides,
  }
}

/** A scale set's stored orchestrator state around `spec` (defaults: just enabled, nothing run). */
export function scaleSetState(
  s: ScaleSetSpec = spec(),
  overrides: Partial<ScaleSetState> = {},
): ScaleSetState {
  return {
    key: s.key,
    spec: s,
    fabricModel: fabricModel({ scaleSetKey: s.key }),
    autoEnabledAtMs: 0,
    firstSinceEnable: true,
    nextInstanceId: 0,
    faultedVersions: [],
    lastPlatformRollout: null,
    cancelRequestedAtMs: null,
    revision: 0,
    ...overrides,
  }
}
