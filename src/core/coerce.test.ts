import { describe, expect, it } from 'vitest'
import { coerceScalar, coerceScalars, LOAD_BALANCER_SCALARS, SCALE_SET_SCALARS } from './coerce.js'
import type { ScalarType } from './coerce.js'

describe('coerceScalar', () => {
  const cases: [unknown, ScalarType, unknown][] = [
    ['true', 'boolean', true],
    ['false', 'boolean', false],
    ['FALSE', 'boolean', false],
    ['True', 'boolean', true],
    ['maybe', 'boolean', 'maybe'],
    [' true', 'boolean', ' true'],
    ['1', 'boolean', '1'],
    ['', 'boolean', ''],
    [true, 'boolean', true],
    [0, 'boolean', 0],
    ['20', 'integer', 20],
    ['0', 'integer', 0],
    ['+7', 'integer', 7],
    ['-3', 'integer', -3],
    ['007', 'integer', 7],
    ['2.5', 'integer', '2.5'],
    ['1e3', 'integer', '1e3'],
    ['0x10', 'integer', '0x10'],
    [' 3', 'integer', ' 3'],
    ['3 ', 'integer', '3 '],
    ['', 'integer', ''],
    ['-', 'integer', '-'],
    ['true', 'integer', 'true'],
    ['99999999999999999999', 'integer', '99999999999999999999'],
    [20, 'integer', 20],
    [null, 'integer', null],
  ]
  it.each(cases)('%j as %s → %j', (value, type, expected) => {
    expect(coerceScalar(value, type)).toStrictEqual(expected)
  })
})

describe('coerceScalars', () => {
  it('converts the scale set members, walks arrays and names in any case, copies', () => {
    const body = {
      sku: { capacity: '3' },
      Properties: {
        singlePlacementGroup: 'false',
        overprovision: 'TRUE',
        doNotRunExtensionsOnOverprovisionedVMs: 'false',
        platformFaultDomainCount: '1',
        zoneBalance: 'true',
        upgradePolicy: {
          rollingUpgradePolicy: {
            maxBatchInstancePercent: '20',
            MaxUnhealthyInstancePercent: '30',
            maxUnhealthyUpgradedInstancePercent: '0',
            enableCrossZoneUpgrade: 'true',
            prioritizeUnhealthyInstances: 'false',
            rollbackFailedInstancesOnPolicyBreach: 'true',
            maxSurge: 'false',
            pauseTimeBetweenBatches: 'PT0S',
          },
          automaticOSUpgradePolicy: {
            enableAutomaticOSUpgrade: 'true',
            disableAutomaticRollback: 'false',
            useRollingUpgradePolicy: 'true',
            osRollingUpgradeDeferral: 'false',
          },
        },
        virtualMachineProfile: {
          osProfile: { windowsConfiguration: { enableAutomaticUpdates: 'false' } },
          storageProfile: {
            osDisk: { diskSizeGB: '30' },
            dataDisks: [
              { lun: '0', diskSizeGB: '1' },
              { lun: '1', diskSizeGB: 'big' },
            ],
          },
          extensionProfile: {
            extensions: [
              {
                name: 'health',
                properties: {
                  typeHandlerVersion: '1.0',
                  autoUpgradeMinorVersion: 'true',
                  enableAutomaticUpgrade: 'false',
                  suppressFailures: 'maybe',
                  settings: { port: '80' },
                },
              },
            ],
          },
        },
      },
    }
    const snapshot = structuredClone(body)
    expect(coerceScalars(body, SCALE_SET_SCALARS)).toStrictEqual({
      sku: { capacity: 3 },
      Properties: {
        singlePlacementGroup: false,
        overprovision: true,
        doNotRunExtensionsOnOverprovisionedVMs: false,
        platformFaultDomainCount: 1,
        zoneBalance: true,
        upgradePolicy: {
          rollingUpgradePolicy: {
            maxBatchInstancePercent: 20,
            MaxUnhealthyInstancePercent: 30,
            maxUnhealthyUpgradedInstancePercent: 0,
            enableCrossZoneUpgrade: true,
            prioritizeUnhealthyInstances: false,
            rollbackFailedInstancesOnPolicyBreach: true,
            maxSurge: false,
            pauseTimeBetweenBatches: 'PT0S',
          },
          automaticOSUpgradePolicy: {
            enableAutomaticOSUpgrade: true,
            disableAutomaticRollback: false,
            useRollingUpgradePolicy: true,
            osRollingUpgradeDeferral: false,
          },
        },
        virtualMachineProfile: {
          osProfile: { windowsConfiguration: { enableAutomaticUpdates: false } },
          storageProfile: {
            osDisk: { diskSizeGB: 30 },
            dataDisks: [
              { lun: 0, diskSizeGB: 1 },
              { lun: 1, diskSizeGB: 'big' },
            ],
          },
          extensionProfile: {
            extensions: [
              {
                name: 'health',
                properties: {
                  typeHandlerVersion: '1.0',
                  autoUpgradeMinorVersion: true,
                  enableAutomaticUpgrade: false,
                  suppressFailures: 'maybe',
                  // Extension settings are the extension's own JSON: passed through as sent.
                  settings: { port: '80' },
                },
              },
            ],
          },
        },
      },
    })
    expect(body).toStrictEqual(snapshot)
  })

  it('converts load balancer probe integers and leaves the rest', () => {
    const body = {
      location: 'westus',
      properties: {
        probes: [
          {
            name: 'http',
            properties: {
              protocol: 'Http',
              port: '80',
              requestPath: '/',
              intervalInSeconds: '5',
              numberOfProbes: '2',
              probeThreshold: '2',
            },
          },
          { name: 'tcp', properties: { protocol: 'Tcp', port: 'eighty' } },
        ],
      },
    }
    expect(coerceScalars(body, LOAD_BALANCER_SCALARS)).toStrictEqual({
      location: 'westus',
      properties: {
        probes: [
          {
            name: 'http',
            properties: {
              protocol: 'Http',
              port: 80,
              requestPath: '/',
              intervalInSeconds: 5,
              numberOfProbes: 2,
              probeThreshold: 2,
            },
          },
          { name: 'tcp', properties: { protocol: 'Tcp', port: 'eighty' } },
        ],
      },
    })
  })

  it('leaves bodies without the members, and non-objects, as they are', () => {
    expect(coerceScalars({ location: 'westus' }, SCALE_SET_SCALARS)).toStrictEqual({
      location: 'westus',
    })
    expect(coerceScalars({ sku: 'x', properties: [] }, SCALE_SET_SCALARS)).toStrictEqual({
      sku: 'x',
      properties: [],
    })
    expect(coerceScalars('body', SCALE_SET_SCALARS)).toBe('body')
  })
})
