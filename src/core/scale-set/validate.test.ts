/**
 * docs/api.md § Validation, rule by rule: each row is a scale set body and the code, target and
 * (where Azure's
 * text is known) message of the first problem osroll reports.
 */
import { describe, expect, it } from 'vitest'
import type { ArmScaleSet } from './arm-model.js'
import { MESSAGES, validateScaleSet } from './validate.js'
import type { ValidationFacts } from './validate.js'
import { applyWriteDefaults, toScaleSetSpec } from './to-spec.js'
import { canonicalCase } from './shape.js'

const PROBE =
  '/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/lb/probes/http'
const facts: ValidationFacts = {
  apiVersion: '2024-07-01',
  fabricName: 'sim',
  extensionHandlers: new Set(
    [
      'Microsoft.Azure.Extensions.CustomScript',
      'Microsoft.ManagedServices.ApplicationHealthLinux',
      'Microsoft.Azure.ServiceFabric.ServiceFabricNode',
    ].map((h) => h.toLowerCase()),
  ),
  image: { os: 'Linux', automaticOSUpgradeSupported: true },
  probe: { exists: true, loadBalancerSku: 'Standard' },
}
const healthExt = {
  name: 'health',
  properties: {
    publisher: 'Microsoft.ManagedServices',
    type: 'ApplicationHealthLinux',
    typeHandlerVersion: '2.0',
    settings: { protocol: 'http', port: 80, requestPath: '/health' },
  },
}
const sfExt = (durability: string, version = '1.1') => ({
  name: 'sf',
  properties: {
    publisher: 'Microsoft.Azure.ServiceFabric',
    type: 'ServiceFabricNode',
    typeHandlerVersion: version,
    settings: {
      clusterEndpoint:
        '/subscriptions/s/resourceGroups/g/providers/Microsoft.ServiceFabric/clusters/c',
      nodeTypeRef: 'nt1',
      durabilityLevel: durability,
    },
  },
})

function body(
  o: {
    auto?: Record<string, unknown>
    mode?: string
    rolling?: Record<string, unknown>
    ref?: Record<string, unknown>
    probe?: string | null
    extensions?: unknown[]
    windows?: Record<string, unknown>
    extra?: Record<string, unknown>
    top?: Record<string, unknown>
  } = {},
): ArmScaleSet {
  return {
    location: 'westus',
    sku: { name: 'Standard_D2s_v3', capacity: 3 },
    ...o.top,
    properties: {
      upgradePolicy: {
        mode: o.mode ?? 'Automatic',
        ...(o.rolling ? { rollingUpgradePolicy: o.rolling } : {}),
        automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: true, ...o.auto },
      },
      virtualMachineProfile: {
        osProfile: {
          computerNamePrefix: 'web',
          adminUsername: 'azure',
          ...(o.windows ? { windowsConfiguration: o.windows } : {}),
        },
        storageProfile: {
          imageReference: o.ref ?? {
            publisher: 'Canonical',
            offer: 'UbuntuServer',
            sku: '18.04-LTS',
            version: 'latest',
          },
        },
        networkProfile: o.probe === null ? {} : { healthProbe: { id: o.probe ?? PROBE } },
        extensionProfile: { extensions: o.extensions ?? [] },
      },
      ...o.extra,
    },
  } as ArmScaleSet
}

const first = (b: ArmScaleSet, f: Partial<ValidationFacts> = {}) =>
  validateScaleSet(b, { ...facts, ...f })[0]

describe('§3 validation', () => {
  it('accepts a valid automatic-upgrade scale set', () => {
    expect(validateScaleSet(body(), facts)).toEqual([])
  })

  it.each<
    [
      string,
      ArmScaleSet,
      Partial<ValidationFacts>,
      { code: string; target?: string; message?: string; status?: number },
    ]
  >([
    [
      'automaticOSUpgradePolicy needs api-version ≥ 2018-10-01',
      body(),
      { apiVersion: '2018-06-01' },
      { code: 'InvalidParameter', target: 'properties.upgradePolicy.automaticOSUpgradePolicy' },
    ],
    [
      'the image version must be latest',
      body({
        ref: { publisher: 'Canonical', offer: 'UbuntuServer', sku: '18.04-LTS', version: '1.0.0' },
      }),
      {},
      { code: 'InvalidParameter', message: MESSAGES.notLatest },
    ],
    [
      'a pinned gallery version is not latest',
      body({
        ref: {
          id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/x/images/web/versions/1.0.0',
        },
      }),
      {},
      { code: 'InvalidParameter', message: MESSAGES.notLatest },
    ],
    [
      'a managed image never auto-upgrades',
      body({
        ref: { id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/images/golden' },
      }),
      {},
      { code: 'InvalidParameter', message: MESSAGES.notLatest },
    ],
    [
      'the platform SKU must support automatic OS upgrades',
      body(),
      { image: { os: 'Linux', automaticOSUpgradeSupported: false } },
      { code: 'InvalidParameter', message: MESSAGES.skuUnsupported },
    ],
    [
      'a health probe or extension is required',
      body({ probe: null }),
      {},
      { code: 'InvalidParameter', message: MESSAGES.noHealthAuto },
    ],
    [
      'not both a probe and an extension',
      body({ extensions: [healthExt] }),
      {},
      { code: 'InvalidParameter', message: MESSAGES.bothHealth },
    ],
    [
      'a malformed probe id',
      body({ probe: 'lb/probes/x' }),
      {},
      {
        code: 'LinkedInvalidPropertyId',
        target: 'properties.virtualMachineProfile.networkProfile.healthProbe.id',
      },
    ],
    [
      'a probe that does not exist',
      body(),
      { probe: { exists: false, loadBalancerSku: 'Standard' } },
      { code: 'NotFound', status: 404 },
    ],
    [
      'singlePlacementGroup false needs a Standard load balancer',
      body({ extra: { singlePlacementGroup: false } }),
      { probe: { exists: true, loadBalancerSku: 'Basic' } },
      { code: 'InvalidParameter' },
    ],
    [
      'Windows: enableAutomaticUpdates must not be true',
      body({ windows: { enableAutomaticUpdates: true } }),
      { image: { os: 'Windows', automaticOSUpgradeSupported: true } },
      { code: 'InvalidParameter', message: MESSAGES.windowsUpdates },
    ],
    [
      'patchMode AutomaticByPlatform is refused',
      body({ windows: { patchSettings: { patchMode: 'AutomaticByPlatform' } } }),
      {},
      {
        code: 'InvalidParameter',
        target:
          'properties.virtualMachineProfile.osProfile.windowsConfiguration.patchSettings.patchMode',
      },
    ],
    [
      'Service Fabric: durability Silver or Gold',
      body({ probe: null, extensions: [sfExt('Bronze')] }),
      {},
      { code: 'InvalidParameter' },
    ],
    [
      'Service Fabric: no load-balancer health probe (the seed: probes are not supported)',
      body({ extensions: [sfExt('Silver')] }),
      {},
      {
        code: 'InvalidParameter',
        target: 'properties.virtualMachineProfile.networkProfile.healthProbe',
        message: MESSAGES.serviceFabricProbe,
      },
    ],
    [
      'Service Fabric: typeHandlerVersion ≥ 1.1',
      body({ probe: null, extensions: [sfExt('Silver', '1.0')] }),
      {},
      { code: 'InvalidParameter' },
    ],
    [
      'Service Fabric: durability must match the cluster node type',
      body({ probe: null, extensions: [sfExt('Silver')] }),
      { serviceFabricNodeTypeDurability: 'Gold' },
      {
        code: 'OperationNotAllowed',
        status: 409,
        message:
          'Durability Mismatch Detected for NodeType nt1. VMSS Durability Silver does not match the current SFRP NodeType durability level Gold',
      },
    ],
    [
      'provisionAfterExtensions names must exist',
      body({
        probe: null,
        extensions: [
          healthExt,
          {
            name: 'a',
            properties: {
              publisher: 'Microsoft.Azure.Extensions',
              type: 'CustomScript',
              provisionAfterExtensions: ['nope'],
            },
          },
        ],
      }),
      {},
      {
        code: 'InvalidParameter',
        target:
          'properties.virtualMachineProfile.extensionProfile.extensions[1].properties.provisionAfterExtensions',
      },
    ],
    [
      'provisionAfterExtensions must not form a cycle',
      body({
        probe: null,
        extensions: [
          healthExt,
          {
            name: 'a',
            properties: {
              publisher: 'Microsoft.Azure.Extensions',
              type: 'CustomScript',
              provisionAfterExtensions: ['b'],
            },
          },
          {
            name: 'b',
            properties: {
              publisher: 'Microsoft.Azure.Extensions',
              type: 'CustomScript',
              provisionAfterExtensions: ['a'],
            },
          },
        ],
      }),
      {},
      {
        code: 'InvalidParameter',
        message: 'The provisionAfterExtensions of extensions form a cycle: a -> b -> a.',
      },
    ],
    [
      'extension handlers must exist on the fabric',
      body({
        probe: null,
        extensions: [healthExt, { name: 'x', properties: { publisher: 'Acme', type: 'Agent' } }],
      }),
      {},
      {
        code: 'InvalidParameter',
        message: "Extension 'x' of type 'Acme.Agent' is not available on fabric 'sim'.",
      },
    ],
    [
      'maxBatchInstancePercent 5–100',
      body({ rolling: { maxBatchInstancePercent: 4 } }),
      {},
      {
        code: 'InvalidParameter',
        target: 'properties.upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercent',
      },
    ],
    [
      'maxUnhealthyInstancePercent 5–100',
      body({ rolling: { maxUnhealthyInstancePercent: 101 } }),
      {},
      {
        code: 'InvalidParameter',
        target: 'properties.upgradePolicy.rollingUpgradePolicy.maxUnhealthyInstancePercent',
      },
    ],
    [
      'maxUnhealthyUpgradedInstancePercent 0–100',
      body({ rolling: { maxUnhealthyUpgradedInstancePercent: -1 } }),
      {},
      { code: 'InvalidParameter' },
    ],
    [
      'pauseTimeBetweenBatches must be ISO 8601',
      body({ rolling: { pauseTimeBetweenBatches: '5 minutes' } }),
      {},
      {
        code: 'InvalidParameter',
        target: 'properties.upgradePolicy.rollingUpgradePolicy.pauseTimeBetweenBatches',
      },
    ],
    [
      'capacity 0–1000',
      body({ top: { sku: { capacity: 1001 } } }),
      {},
      { code: 'InvalidParameter', target: 'sku.capacity' },
    ],
    [
      'location is required',
      body({ top: { location: '' } }),
      {},
      { code: 'LocationRequired', target: 'location' },
    ],
    [
      'Flexible: a probe is not enough',
      body({ extra: { orchestrationMode: 'Flexible' } }),
      {},
      { code: 'InvalidParameter', target: 'properties.upgradePolicy.automaticOSUpgradePolicy' },
    ],
    [
      'Flexible: maxSurge with automatic OS upgrades is Uniform-only',
      body({
        probe: null,
        extensions: [healthExt],
        rolling: { maxSurge: true },
        extra: { orchestrationMode: 'Flexible' },
      }),
      {},
      {
        code: 'InvalidParameter',
        target: 'properties.upgradePolicy.rollingUpgradePolicy.maxSurge',
      },
    ],
    [
      'mode Rolling needs a health source too',
      body({ mode: 'Rolling', probe: null, auto: { enableAutomaticOSUpgrade: false } }),
      {},
      { code: 'InvalidParameter', message: MESSAGES.noHealthRolling },
    ],
    [
      'an unknown member inside upgradePolicy',
      body({ rolling: { maxBatchInstancePercnet: 20 } }),
      {},
      {
        code: 'InvalidRequestContent',
        target: 'properties.upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercnet',
      },
    ],
    [
      'a wrong type inside automaticOSUpgradePolicy',
      body({ auto: { enableAutomaticOSUpgrade: 'yes' } }),
      {},
      {
        code: 'InvalidRequestContent',
        target: 'properties.upgradePolicy.automaticOSUpgradePolicy.enableAutomaticOSUpgrade',
      },
    ],
    [
      'an unknown member in imageReference',
      body({
        ref: {
          publisher: 'Canonical',
          offer: 'UbuntuServer',
          sku: '18.04-LTS',
          version: 'latest',
          verison: '1',
        },
      }),
      {},
      { code: 'InvalidRequestContent' },
    ],
    [
      'an unknown member in an extension',
      body({
        probe: null,
        extensions: [
          { ...healthExt, properties: { ...healthExt.properties, typeHandlerVerison: '1.0' } },
        ],
      }),
      {},
      { code: 'InvalidRequestContent' },
    ],
  ])('%s', (_name, b, f, expected) => {
    expect(first(b, f)).toMatchObject(expected)
  })

  it('the unsupported-SKU error names the SKU in a detail', () => {
    const p = first(body(), { image: { os: 'Linux', automaticOSUpgradeSupported: false } })
    expect(p?.details?.[0]?.message).toContain("'Canonical:UbuntuServer:18.04-LTS'")
  })

  it('members osroll does not model are kept, not refused', () => {
    const b = body({
      extra: {
        additionalCapabilities: { ultraSSDEnabled: false },
        scaleInPolicy: { rules: ['Default'] },
      },
    })
    expect(validateScaleSet(b, facts)).toEqual([])
  })

  it('Service Fabric sets need no health source, and Windows defaults enableAutomaticUpdates to false', () => {
    expect(
      validateScaleSet(body({ probe: null, extensions: [sfExt('Silver')] }), {
        ...facts,
        serviceFabricNodeTypeDurability: 'Silver',
      }),
    ).toEqual([])
    const b = applyWriteDefaults(body({ windows: {} }), 'Windows')
    expect(
      b.properties?.virtualMachineProfile?.osProfile?.windowsConfiguration?.enableAutomaticUpdates,
    ).toBe(false)
  })

  it('returns every problem, not only the first', () => {
    const b = body({
      probe: null,
      rolling: { maxBatchInstancePercent: 1, maxUnhealthyInstancePercent: 1 },
      top: { sku: { capacity: -1 } },
    })
    expect(validateScaleSet(b, facts).map((p) => p.target)).toEqual([
      'sku.capacity',
      'properties.upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercent',
      'properties.upgradePolicy.rollingUpgradePolicy.maxUnhealthyInstancePercent',
      'properties.upgradePolicy.automaticOSUpgradePolicy',
    ])
  })

  it('maps to the engine spec with defaults and milliseconds', () => {
    const s = toScaleSetSpec({
      key: '/X',
      name: 'web',
      modelGeneration: 3,
      model: body({ rolling: { pauseTimeBetweenBatches: 'PT30S', maxBatchInstancePercent: 50 } }),
    })
    expect(s).toMatchObject({
      key: '/x',
      capacity: 3,
      mode: 'Automatic',
      healthSource: 'probe',
      modelGeneration: 3,
      rollingPolicySet: true,
      rolling: { batchPercentMax: 50, unhealthyPercentMax: 20, pauseBetweenBatchesMs: 30_000 },
    })
  })

  it('reads member names without regard to case, as ARM does; unknown members keep their case', () => {
    const sent = {
      Location: 'westus',
      Properties: {
        UpgradePolicy: { RollingUpgradePolicy: { MAXBATCHINSTANCEPERCENT: 50 } },
        VirtualMachineProfile: {
          ExtensionProfile: {
            Extensions: [
              { Name: 'h', Properties: { TypeHandlerVersion: '2.0', Settings: { Port: 80 } } },
            ],
          },
        },
        SomethingElse: { A: 1 },
      },
    }
    expect(canonicalCase(sent)).toEqual({
      location: 'westus',
      properties: {
        upgradePolicy: { rollingUpgradePolicy: { maxBatchInstancePercent: 50 } },
        virtualMachineProfile: {
          extensionProfile: {
            extensions: [
              { name: 'h', properties: { typeHandlerVersion: '2.0', settings: { Port: 80 } } },
            ],
          },
        },
        SomethingElse: { A: 1 },
      },
    })
  })
})
