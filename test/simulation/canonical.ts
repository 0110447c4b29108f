/**
 * The canonical scenarios of issue 2, each with a golden transcript in `golden/{name}.log`:
 * what users should see osroll do in the situations the seed document describes.
 */
import { spec, fabricModel } from '../../test-support/builders.js'
import type { ScaleSetSpec } from '../../src/core/scale-set/spec.js'
import { DEFAULT_ROLLING_POLICY } from '../../src/core/scale-set/spec.js'
import type { Scenario, TimedFault } from './scenario.js'
import { NO_DELAY } from './scenario.js'

export const GOOD = 'sim:?boot=1'
export const GOOD_SLOW = 'sim:?boot=20'
export const BROKEN = 'sim:?boot=1&health=unhealthy'

const S = 1000

function scenario(
  name: string,
  o: {
    spec?: Partial<ScaleSetSpec>
    faults: TimedFault[]
    rolling?: Partial<ScaleSetSpec['rolling']>
  },
): Scenario {
  const s = spec({
    ...o.spec,
    ...(o.rolling
      ? {
          rolling: { ...DEFAULT_ROLLING_POLICY, ...o.rolling },
          rollingPolicySet: true,
          automaticOS: {
            enabled: true,
            disableAutomaticRollback: false,
            useRollingUpgradePolicy: true,
            deferral: false,
            ...o.spec?.automaticOS,
          },
        }
      : {}),
  })
  return {
    name,
    seed: 1,
    spec: s,
    model: fabricModel({ healthSource: s.healthSource }),
    initial: { version: '1.0.0', uri: GOOD },
    faults: o.faults,
    healthDeadlineMs: 300 * S,
    timing: NO_DELAY,
    maxSteps: 2000,
  }
}

const publish = (atMs: number, version: string, uri = GOOD): TimedFault => ({
  atMs,
  fault: { kind: 'publish', version, uri },
})

export const CANONICAL: readonly Scenario[] = [
  scenario('healthy-rollout-10', { faults: [publish(10 * S, '1.1.0')] }),
  scenario('broken-image-rollback', { faults: [publish(10 * S, '1.1.0', BROKEN)] }),
  scenario('manual-trigger-broken-no-rollback', {
    spec: {
      automaticOS: {
        enabled: false,
        disableAutomaticRollback: false,
        useRollingUpgradePolicy: false,
        deferral: false,
      },
    },
    faults: [publish(10 * S, '1.1.0', BROKEN), { atMs: 20 * S, fault: { kind: 'manualStart' } }],
  }),
  scenario('zones-3x4', {
    spec: { capacity: 12, zones: ['1', '2', '3'], platformFaultDomainCount: 1 },
    faults: [publish(10 * S, '1.1.0')],
  }),
  scenario('service-fabric-update-domains', {
    spec: { capacity: 10, serviceFabric: true, healthSource: 'none' },
    faults: [publish(10 * S, '1.1.0')],
  }),
  scenario('concurrent-maintenance', {
    spec: { capacity: 10 },
    faults: [
      publish(10 * S, '1.1.0', GOOD_SLOW),
      { atMs: 15 * S, fault: { kind: 'unhealthy', ids: ['2', '3', '4'] } },
    ],
  }),
  scenario('cancel-mid-rollout', {
    faults: [publish(10 * S, '1.1.0', GOOD_SLOW), { atMs: 45 * S, fault: { kind: 'cancel' } }],
  }),
  scenario('pause-resume', {
    faults: [
      publish(10 * S, '1.1.0', GOOD_SLOW),
      { atMs: 45 * S, fault: { kind: 'pause' } },
      { atMs: 300 * S, fault: { kind: 'resume' } },
    ],
  }),
  scenario('prioritize-unhealthy', {
    rolling: { prioritizeUnhealthy: true },
    faults: [{ atMs: 5 * S, fault: { kind: 'stop', ids: ['7'] } }, publish(10 * S, '1.1.0')],
  }),
  scenario('max-surge', {
    spec: { capacity: 5 },
    rolling: { maxSurge: true },
    faults: [publish(10 * S, '1.1.0')],
  }),
  scenario('deferral-approve', {
    spec: {
      capacity: 5,
      automaticOS: {
        enabled: true,
        disableAutomaticRollback: false,
        useRollingUpgradePolicy: false,
        deferral: true,
      },
    },
    faults: [
      publish(10 * S, '1.1.0'),
      { atMs: 60 * S, fault: { kind: 'approve', ids: ['0', '1'] } },
      { atMs: 120 * S, fault: { kind: 'approve', ids: null } },
    ],
  }),
  scenario('rolling-mode-model-rollout', {
    spec: {
      mode: 'Rolling',
      automaticOS: {
        enabled: false,
        disableAutomaticRollback: false,
        useRollingUpgradePolicy: false,
        deferral: false,
      },
    },
    faults: [{ atMs: 10 * S, fault: { kind: 'modelChange' } }],
  }),
]
