/**
 * The canonical scenarios of issue 2, each with a golden transcript in `golden/{name}.log`:
 * what users should see osroll do in the situations the seed document describes.
 */
import { spec, fabricModel } from '../../test-support/builders.js'
import type { ScaleSetSpec } from '../../src/core/scale-set/spec.js'
import { DEFAULT_ROLLING_POLICY } from '../../src/core/scale-set/spec.js'
import type { FabricModel } from '../../src/fabrics/types/fabric.js'
import type { Scenario, TimedFault } from './scenario.js'
import { NO_DELAY, SF_NODE_TYPE } from './scenario.js'

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
    extensions?: FabricModel['extensions']
    settings?: Scenario['settings']
    gates?: Scenario['gates']
    hooks?: Scenario['hooks']
    windows?: Scenario['windows']
    epochMs?: number
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
    model: fabricModel({
      healthSource: s.healthSource,
      ...(o.extensions ? { extensions: o.extensions } : {}),
    }),
    initial: { version: '1.0.0', uri: GOOD },
    faults: o.faults,
    healthDeadlineMs: 300 * S,
    ...(o.settings ? { settings: o.settings } : {}),
    ...(o.gates ? { gates: o.gates } : {}),
    ...(o.hooks ? { hooks: o.hooks } : {}),
    ...(o.windows ? { windows: o.windows, epochMs: o.epochMs ?? 0 } : {}),
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
  scenario('min-healthy-time', {
    settings: { minHealthyTimeMs: 30 * S },
    faults: [
      publish(10 * S, '1.1.0'),
      // instance 5 flaps inside its minHealthyTime: it fails and is rolled back
      { atMs: 20 * S, fault: { kind: 'unhealthy', ids: ['5'] } },
      { atMs: 25 * S, fault: { kind: 'healthy', ids: ['5'] } },
    ],
  }),
  scenario('batch-soak', {
    settings: { batchSoakMinMs: 30 * S, batchSoakMaxMs: 120 * S },
    faults: [
      publish(10 * S, '1.1.0'),
      // instance 7 flaps during the first soak: it restarts, and passes 30 s after the flap
      { atMs: 20 * S, fault: { kind: 'unhealthy', ids: ['7'] } },
      { atMs: 25 * S, fault: { kind: 'healthy', ids: ['7'] } },
      // instance 9 flaps through the second soak until its max: the rollout stops
      ...[70, 90, 110, 130, 150, 170].map((t, i) => ({
        atMs: t * S,
        fault: { kind: i % 2 === 0 ? 'unhealthy' : 'healthy', ids: ['9'] } as const,
      })),
    ],
  }),
  scenario('progress-deadline', {
    settings: { progressDeadlineMs: 120 * S },
    // never healthy: the progressDeadline (120 s) stops it before the health deadline (300 s)
    faults: [publish(10 * S, '1.1.0', BROKEN)],
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
  // Issue 20 §6: broken 1.1.0 faults (no automatic rollback: its batch, 0 and 5, stays unhealthy
  // on it) and is quarantined; a scale-out builds instance 10 from 1.0.0; 1.2.0 rolls forward
  // though 2 of 11 are unhealthy (> 10%), those 2 excused and upgraded first; 1.1.0 is released.
  scenario('quarantine-roll-forward', {
    spec: {
      automaticOS: {
        enabled: true,
        disableAutomaticRollback: true,
        useRollingUpgradePolicy: true,
        deferral: false,
      },
    },
    rolling: { unhealthyPercentMax: 10 },
    faults: [
      publish(10 * S, '1.1.0', BROKEN),
      { atMs: 400 * S, fault: { kind: 'scale', capacity: 11 } },
      publish(450 * S, '1.2.0'),
      { atMs: 900 * S, fault: { kind: 'release', version: '1.1.0' } },
    ],
  }),
  // Issue 20 §6: a stuck rollout (paused after its first batch) is superseded by a newer version
  // once its batch is done; the rollout to 1.2.0 starts at once and rolls forward from 1.1.0.
  scenario('roll-forward-superseded', {
    faults: [
      publish(10 * S, '1.1.0', GOOD_SLOW),
      { atMs: 15 * S, fault: { kind: 'pause' } },
      publish(60 * S, '1.2.0'),
    ],
  }),
  // Issue 18, seed gap 3: "the durability mismatch makes upgrades fail". The node type moves to
  // Gold during batch 1 while the extension still says Silver: batch 1 finishes, batch 2 never
  // starts, and the rollout ends Faulted with the message validation gives.
  scenario('service-fabric-durability-mismatch', {
    spec: {
      capacity: 10,
      serviceFabric: true,
      serviceFabricNodeType: SF_NODE_TYPE,
      healthSource: 'none',
    },
    faults: [
      publish(10 * S, '1.1.0', GOOD_SLOW),
      { atMs: 15 * S, fault: { kind: 'clusterDurability', level: 'Gold' } },
    ],
  }),
  // Issue 18, seed gap 4: a rollout stopped by unrelated unhealthy instances (three of ten under
  // maintenance before it starts) does not fault its version; it is retried once they are back.
  scenario('unhealthy-fleet-retried', {
    faults: [
      { atMs: 5 * S, fault: { kind: 'unhealthy', ids: ['2', '3', '4'] } },
      publish(10 * S, '1.1.0'),
      { atMs: 60 * S, fault: { kind: 'healthy', ids: ['2', '3', '4'] } },
    ],
  }),
  // Issue 18, seed gap 4: the seed's recovery path, "update the extensions in the scale set model
  // with the new tokens". The version that faulted on extension 'install' is released by a model
  // that changes 'install' (and only by such a model): one new attempt, which faults again here
  // because the simulated image still fails it, and blocks the version again. The set is in
  // upgrade mode Manual, so the fixed model reaches the instances by manualupgrade (R1.7: an OS
  // rollout moves only instances on the latest model), as the seed says for that mode.
  scenario('fixed-extension-retried', {
    spec: { capacity: 5 },
    extensions: [
      {
        name: 'install',
        publisher: 'Microsoft.Azure.Extensions',
        type: 'CustomScript',
        typeHandlerVersion: '2.1',
        settings: { fileUris: ['https://example.invalid/install.sh?sig=expired'] },
        protectedSettings: {},
        provisionAfterExtensions: [],
        suppressFailures: false,
      },
    ],
    faults: [
      publish(10 * S, '1.1.0', 'sim:?boot=1&extfail=install'),
      { atMs: 60 * S, fault: { kind: 'modelChange' } },
      { atMs: 120 * S, fault: { kind: 'fixExtension', name: 'install' } },
      { atMs: 130 * S, fault: { kind: 'manualUpgrade', ids: null } },
      // A later look at the set, which changes nothing: a run stops once it is quiet, and the
      // retry comes at a later pass (the next step here; the 30 s resync in queue mode).
      { atMs: 200 * S, fault: { kind: 'healthy', ids: [] } },
    ],
  }),
  // Issue 18, seed gap 6 (docs/rollouts.md R1.7): in upgrade mode Manual a model change waits
  // for manualupgrade, and an OS rollout moves only the instances already on the latest model.
  // Instances 0 and 1 get the new model by manualupgrade; the rollout to 1.1.0 takes them only;
  // after the manualupgrade of all, the rollout to 1.2.0 takes every instance.
  scenario('manual-mode-latest-model', {
    spec: { capacity: 5 },
    faults: [
      { atMs: 5 * S, fault: { kind: 'modelChange' } },
      { atMs: 8 * S, fault: { kind: 'manualUpgrade', ids: ['0', '1'] } },
      publish(20 * S, '1.1.0'),
      { atMs: 120 * S, fault: { kind: 'manualUpgrade', ids: null } },
      publish(150 * S, '1.2.0'),
    ],
  }),
  // docs/rollouts.md § Adaptive ramp: 20 instances at 20% (batches of at most 4) ramp 1, 2, 4;
  // instance 3 breaks before its batch (4) and never becomes healthy on the new disk: it is
  // rolled back, so batch 5 has one instance, then the ramp doubles again.
  scenario('adaptive-ramp', {
    spec: { capacity: 20 },
    settings: { adaptiveRamp: true },
    faults: [
      publish(10 * S, '1.1.0', GOOD_SLOW),
      { atMs: 60 * S, fault: { kind: 'unhealthy', ids: ['3'] } },
    ],
  }),
  // docs/rollouts.md § Rollback on every path: a manual start that asks for rollback restores
  // its failed batch, as an automatic rollout would (compare manual-trigger-broken-no-rollback).
  scenario('manual-start-with-rollback', {
    spec: {
      automaticOS: {
        enabled: false,
        disableAutomaticRollback: false,
        useRollingUpgradePolicy: false,
        deferral: false,
      },
    },
    faults: [
      publish(10 * S, '1.1.0', BROKEN),
      { atMs: 20 * S, fault: { kind: 'manualStart', rollback: true } },
    ],
  }),
  // docs/controls.md § Health gates: a cohort gate beside the probe (the random seeds mix in
  // per-instance gates). 1.1.0 passes (each batch counts one interval after it is healthy);
  // 1.2.0 is healthy by probe but its cohort regresses: batch 1 fails GateFailed and is rolled
  // back, the rollout Faulted with the values quoted; 1.3.0 loses its Prometheus: nothing passes
  // by default, the batch fails closed at the gate's timeout (GateUnreachable), rolled back.
  scenario('health-gates', {
    spec: { capacity: 10 },
    gates: {
      instance: false,
      cohort: true,
      intervalMs: 5 * S,
      timeoutMs: 60 * S,
      outcomes: { '1.1.0': 'pass', '1.2.0': 'fail', '1.3.0': 'down' },
    },
    faults: [publish(10 * S, '1.1.0'), publish(200 * S, '1.2.0'), publish(400 * S, '1.3.0')],
  }),
  // docs/rollouts.md § Lifecycle hooks: batches of one (0…5). The pre-reimage hook defers 0 twice
  // (30 s each) before continuing, skips 1 (left on 1.0.0, counted in nothing), times out on 2
  // (the default, continue); the post-healthy hook fails 3 (rolled back as a health failure)
  // and answers 4 with garbage (the default, continue). 1 failed of 5 upgraded is within 50%.
  scenario('lifecycle-hooks', {
    spec: { capacity: 6 },
    rolling: { unhealthyUpgradedPercentMax: 50 },
    hooks: {
      spec: {
        preReimage: { url: 'http://hooks.sim/pre', timeoutMs: 5 * S, defaultAction: 'continue' },
        postHealthy: { url: 'http://hooks.sim/post', timeoutMs: 5 * S, defaultAction: 'continue' },
      },
      script: {
        'preReimage:0': ['defer', 'defer', 'continue'],
        'preReimage:1': ['skip'],
        'preReimage:2': ['timeout'],
        'postHealthy:3': ['fail'],
        'postHealthy:4': ['garbage'],
      },
      deferSeconds: 30,
      seed: 1,
    },
    faults: [publish(10 * S, '1.1.0')],
  }),
  // docs/rollouts.md § Maintenance windows: Berlin, the night its clocks go forward (02:00 CET
  // is 03:00 CEST). A window opens at every full hour for 10 minutes. The new version comes at
  // 01:41 CET: batch 1 waits for the next window (03:00 CEST: 79 minutes later on the wall
  // clock, 19 in real time), batch 2 starts inside it and is still in flight when it closes at
  // 03:10 (it completes), and batch 3 waits for the 04:00 window.
  scenario('maintenance-window', {
    spec: { capacity: 6 },
    rolling: { batchPercentMax: 34 },
    windows: {
      timeZone: 'Europe/Berlin',
      windows: [{ cron: '0 * * * *', durationMs: 600 * S }],
    },
    epochMs: Date.parse('2026-03-29T00:40:00Z'),
    faults: [publish(60 * S, '1.1.0', 'sim:?boot=320')],
  }),
]
