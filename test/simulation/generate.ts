/**
 * Turns a seed into a random scenario (STYLE R9): fleet size 1–200, zones, Service Fabric or
 * not, every policy knob, images that are healthy, broken, flaky or fail an extension, and a
 * fault schedule — maintenance, deaths, cancels, scale in/out, new versions mid-rollout, manual
 * triggers, deferral approvals, model changes, runtime crashes (also right after a save), store
 * and fabric failures.
 */
import { Rng } from '../../test-support/rng.js'
import { fabricModel, spec } from '../../test-support/builders.js'
import type { ScaleSetSpec } from '../../src/core/scale-set/spec.js'
import type { MaintenanceWindow } from '../../src/core/rollout/window.js'
import type { Fault, Scenario, TimedFault } from './scenario.js'
import { NO_DELAY, SF_NODE_TYPE } from './scenario.js'
import type { SimGateOutcome, SimGatePlan } from './sim-gates.js'
import type { SimHooks } from './sim-hooks.js'
import type { LifecycleHooks } from '../../src/core/rollout/hooks.js'

const S = 1000

export type GenerateOptions = Readonly<{ maxInstances?: number }>

export function generateScenario(seed: number, o: GenerateOptions = {}): Scenario {
  const rng = new Rng(seed)
  const size = rng.chance(0.3) ? rng.int(1, 12) : rng.int(1, o.maxInstances ?? 200)
  const zones = rng.chance(0.35) ? ['1', '2', '3'].slice(0, rng.int(1, 3)) : []
  const serviceFabric = rng.chance(0.1)
  const s = spec({
    capacity: size,
    zones,
    platformFaultDomainCount: zones.length > 0 ? 1 : 5,
    serviceFabric,
    serviceFabricNodeType: serviceFabric ? SF_NODE_TYPE : null,
    healthSource: serviceFabric ? 'none' : rng.pick(['probe', 'extension'] as const),
    mode: rng.pick(['Manual', 'Manual', 'Rolling', 'Automatic'] as const),
    ...policy(rng),
  })
  const extensions = rng.chance(0.3) ? [ext('install'), ext('agent')] : []
  const horizon = 1800 * S
  const faults: TimedFault[] = []
  const versions = ['1.1.0', '1.2.0', '1.3.0']
  let nextVersion = 0
  const publish = (atMs: number): void => {
    const v = versions[nextVersion++]
    if (v)
      faults.push({
        atMs,
        fault: { kind: 'publish', version: v, uri: imageUri(rng, extensions.length > 0) },
      })
  }
  publish(rng.int(5, 30) * S)
  const faultCount = rng.int(0, 8)
  for (let i = 0; i < faultCount; i++) {
    const atMs = rng.int(10, horizon / S) * S
    if (rng.chance(0.15)) publish(atMs)
    else faults.push({ atMs, fault: randomFault(rng, size) })
  }
  // Pause and resume draw from a stream of their own, so that every other part of a seed's
  // scenario is what it was before they existed.
  const controls = new Rng(seed ^ 0x2f6b_5a1d)
  if (controls.chance(0.25)) {
    const atMs = controls.int(10, horizon / S) * S
    faults.push({ atMs, fault: { kind: 'pause' } })
    faults.push({ atMs: atMs + controls.int(5, 600) * S, fault: { kind: 'resume' } })
  }
  // Quarantine and roll forward, from a stream of their own too
  // (docs/rollouts.md § Quarantine and roll forward): a good newer version published into whatever runs then (a faulted or
  // stuck rollout, often), and a release of the newest quarantined version.
  const forward = new Rng(seed ^ 0x3c9e_41b7)
  if (forward.chance(0.3)) {
    const atMs = forward.int(30, horizon / S / 2) * S
    faults.push({ atMs, fault: { kind: 'publish', version: '1.9.0', uri: 'sim:?boot=1' } })
  }
  if (forward.chance(0.25)) {
    const atMs = forward.int(60, horizon / S) * S
    faults.push({ atMs, fault: { kind: 'release', version: null } })
  }
  // minHealthyTime, from a stream of its own as well (docs/rollouts.md § Per-set timing).
  const timing = new Rng(seed ^ 0x6d1e_7a11)
  const minHealthyTimeMs = timing.chance(0.3) ? timing.pick([5, 30, 60]) * S : 0
  // batchSoak and progressDeadline, from one more stream of their own.
  const soak = new Rng(seed ^ 0x50a6_d3ad)
  const soakMinMs = soak.chance(0.3) ? soak.pick([10, 30, 60]) * S : 0
  const soakMaxMs = soakMinMs * soak.pick([1, 3, 10])
  const progressDeadlineMs = soak.chance(0.25) ? soak.pick([120, 300, 900]) * S : 0
  // The adaptive ramp and manual starts that ask for rollback (or refuse it), from a stream of
  // their own (docs/rollouts.md § Adaptive ramp, § Rollback on every path).
  const ramps = new Rng(seed ^ 0x3a7c_91e5)
  const adaptiveRamp = ramps.chance(0.3)
  if (ramps.chance(0.25)) {
    const rollback = ramps.chance(0.8)
    const atMs = ramps.int(10, horizon / S) * S
    faults.push({ atMs, fault: { kind: 'manualStart', rollback } })
  }
  const settings = {
    ...(minHealthyTimeMs > 0 ? { minHealthyTimeMs } : {}),
    ...(soakMinMs > 0 ? { batchSoakMinMs: soakMinMs, batchSoakMaxMs: soakMaxMs } : {}),
    ...(progressDeadlineMs > 0 ? { progressDeadlineMs } : {}),
    ...(adaptiveRamp ? { adaptiveRamp } : {}),
  }
  // Health gates (docs/controls.md § Health gates), from a stream of their own: per-instance
  // and/or cohort gates that pass, fail, time out or lose their Prometheus, per version.
  const gating = new Rng(seed ^ 0x9a7e_5c11)
  const gates = gating.chance(0.3) ? gatePlan(gating) : null
  if (s.automaticOS.deferral) faults.push({ atMs: horizon, fault: { kind: 'approve', ids: null } })
  faults.push(...ruleFaults(seed, s, horizon, extensions.length > 0))
  // Upgrade mode Manual (docs/rollouts.md R1.7): the operator's manualupgrade, on its own stream.
  const manual = new Rng(seed ^ 0x4d61_6e75)
  if (s.mode === 'Manual' && manual.chance(0.4))
    faults.push({
      atMs: manual.int(20, horizon / S) * S,
      fault: { kind: 'manualUpgrade', ids: null },
    })
  const hooks = randomHooks(seed)
  const windows = windowsOf(seed)
  return {
    name: `random-${seed}`,
    seed,
    spec: s,
    model: fabricModel({
      healthSource: s.healthSource,
      extensions,
      dataDiskLuns: rng.chance(0.5) ? [0, 1] : [0],
    }),
    initial: { version: '1.0.0', uri: 'sim:?boot=1' },
    faults: faults.sort((a, b) => a.atMs - b.atMs),
    healthDeadlineMs: rng.pick([60, 120, 300]) * S,
    ...(Object.keys(settings).length > 0 ? { settings } : {}),
    ...(gates ? { gates } : {}),
    ...(hooks ? { hooks } : {}),
    timing: NO_DELAY,
    maxSteps: 5000,
    ...(windows ?? {}),
  }
}

function gatePlan(rng: Rng): SimGatePlan {
  const kinds = rng.pick(['instance', 'cohort', 'both'] as const)
  const outcomes: Record<string, SimGateOutcome> = {}
  for (const v of ['1.1.0', '1.2.0', '1.3.0', '1.9.0'])
    outcomes[v] = rng.pick(['pass', 'pass', 'pass', 'fail', 'timeout', 'down'] as const)
  return {
    instance: kinds !== 'cohort',
    cohort: kinds !== 'instance',
    intervalMs: rng.pick([1, 5, 10]) * S,
    timeoutMs: rng.pick([15, 60, 240]) * S,
    outcomes,
  }
}

/**
 * Lifecycle hooks (docs/rollouts.md § Lifecycle hooks), from a stream of their own: for a quarter
 * of the seeds a pre-reimage hook, a post-healthy one or both, whose simulated webhooks continue,
 * defer, skip, fail, time out, answer 500 or garbage, with tight deferral bounds now and then.
 */
function randomHooks(seed: number): SimHooks | undefined {
  const rng = new Rng(seed ^ 0x7b0c_4e21)
  if (!rng.chance(0.25)) return undefined
  const pre = rng.chance(0.8)
  const post = !pre || rng.chance(0.5)
  const timeoutMs = rng.pick([1, 5, 30]) * S
  const tight = rng.chance(0.3)
  const spec: LifecycleHooks = {
    ...(pre
      ? {
          preReimage: {
            url: 'http://hooks.sim/pre',
            timeoutMs,
            defaultAction: rng.pick(['continue', 'skip'] as const),
            ...(tight
              ? { maxDeferrals: rng.int(0, 3), maxDeferMs: rng.pick([10, 60, 300]) * S }
              : {}),
          },
        }
      : {}),
    ...(post
      ? {
          postHealthy: {
            url: 'http://hooks.sim/post',
            timeoutMs,
            defaultAction: rng.pick(['continue', 'fail'] as const),
          },
        }
      : {}),
  }
  return {
    spec,
    weights: {
      continue: rng.pick([2, 6, 20]),
      defer: rng.pick([0, 1, 3]),
      skip: rng.pick([0, 1]),
      fail: rng.pick([0, 1]),
      timeout: rng.pick([0, 1]),
      status: rng.pick([0, 1]),
      garbage: rng.pick([0, 1]),
    },
    ...(rng.chance(0.7) ? { deferSeconds: rng.pick([0, 1, 10, 120, 5000]) } : {}),
    seed,
  }
}

/**
 * Maintenance windows (docs/rollouts.md § Maintenance windows), from a stream of their own: for
 * some seeds, windows in a time zone with DST, and a clock that starts shortly before one of its
 * changes, so that rollouts wait across it.
 */
function windowsOf(seed: number): Pick<Scenario, 'windows' | 'epochMs'> | null {
  const rng = new Rng(seed ^ 0x77a1_d0c5)
  if (!rng.chance(0.3)) return null
  const zone = rng.pick(ZONES)
  const epochMs = Date.parse(rng.pick(zone.changes)) - rng.int(0, 180) * 60 * S
  const windows = rng.pick(WINDOW_MENU)
  return { windows: { timeZone: zone.timeZone, windows }, epochMs }
}

/** Time zones and instants of their DST changes (2026), and one without DST. */
const ZONES = [
  { timeZone: 'Europe/Berlin', changes: ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z'] },
  { timeZone: 'America/New_York', changes: ['2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z'] },
  { timeZone: 'Australia/Sydney', changes: ['2026-04-04T16:00:00Z', '2026-10-03T16:00:00Z'] },
  { timeZone: 'UTC', changes: ['2026-06-01T00:00:00Z'] },
] as const

const MIN = 60 * S
/** Windows that never overlap: short and frequent (the sim's rollouts last minutes), some at
 * the night hours DST moves, and weekly ranges over the change's weekend. */
const WINDOW_MENU: readonly (readonly MaintenanceWindow[])[] = [
  [{ cron: '*/10 * * * *', durationMs: 3 * MIN }],
  [{ cron: '0 * * * *', durationMs: 20 * MIN }],
  [{ cron: '*/15 1-4 * * *', durationMs: 5 * MIN }],
  [{ cron: '30 2 * * *', durationMs: 45 * MIN }],
  [
    { cron: '0 */2 * * *', durationMs: 15 * MIN },
    { cron: '0 1-23/2 * * *', durationMs: 15 * MIN },
  ],
  [{ cron: '*/20 * * * * *', durationMs: 8 * S }],
  [{ weekly: { start: 'Sat 22:00', end: 'Sun 04:00' } }],
  [
    { weekly: { start: 'Sun 01:00', end: 'Sun 02:30' } },
    { weekly: { start: 'Sun 03:00', end: 'Sun 05:00' } },
  ],
]

/**
 * Faults of the rollout rules added after the generator's first draws (issue 18): drawn from a
 * second generator of the same seed, so every scenario the first draws made stays what it was.
 */
function ruleFaults(
  seed: number,
  s: ScaleSetSpec,
  horizon: number,
  hasExtensions: boolean,
): TimedFault[] {
  const rng = new Rng(seed ^ 0x5bd1e995)
  const out: TimedFault[] = []
  // The seed's recovery path: the failed extension's settings are fixed in a new model.
  if (hasExtensions && rng.chance(0.5))
    out.push({
      atMs: rng.int(60, horizon / S) * S,
      fault: { kind: 'fixExtension', name: 'install' },
    })
  if (s.serviceFabric && rng.chance(0.5)) {
    // The node type moves to Gold while the extension still says Silver; maybe back later.
    const atMs = rng.int(10, horizon / S / 4) * S
    out.push({ atMs, fault: { kind: 'clusterDurability', level: 'Gold' } })
    if (rng.chance(0.5))
      out.push({
        atMs: atMs + rng.int(10, 300) * S,
        fault: { kind: 'clusterDurability', level: 'Silver' },
      })
  }
  return out
}

function policy(rng: Rng): Partial<ScaleSetSpec> {
  const set = rng.chance(0.6)
  return {
    rollingPolicySet: set,
    rolling: {
      batchPercentMax: rng.pick([5, 10, 20, 33, 50, 100]),
      unhealthyPercentMax: rng.pick([5, 20, 50, 100]),
      unhealthyUpgradedPercentMax: rng.pick([0, 20, 50, 100]),
      pauseBetweenBatchesMs: rng.pick([0, 0, 5, 30]) * S,
      crossZone: rng.chance(0.3),
      prioritizeUnhealthy: rng.chance(0.3),
      rollbackFailedOnPolicyBreach: rng.chance(0.3),
      maxSurge: rng.chance(0.15),
    },
    automaticOS: {
      enabled: rng.chance(0.85),
      disableAutomaticRollback: rng.chance(0.2),
      useRollingUpgradePolicy: set && rng.chance(0.7),
      deferral: rng.chance(0.1),
    },
  }
}

function imageUri(rng: Rng, hasExtensions: boolean): string {
  const boot = rng.pick([0, 1, 2, 10, 30])
  const r = rng.next()
  if (r < 0.55) return `sim:?boot=${boot}`
  if (r < 0.7) return `sim:?boot=${boot}&health=unhealthy`
  if (r < 0.9 || !hasExtensions)
    return `sim:?boot=${boot}&health=flaky:${rng.pick([0.05, 0.2, 0.5])}`
  return `sim:?boot=${boot}&extfail=install`
}

function randomFault(rng: Rng, size: number): Fault {
  const someIds = (): string[] => {
    const n = rng.int(1, Math.max(1, Math.ceil(size / 4)))
    return [...new Set(Array.from({ length: n }, () => String(rng.int(0, size + 5))))]
  }
  switch (rng.int(0, 13)) {
    case 0:
    case 1:
      return { kind: 'unhealthy', ids: someIds() }
    case 2:
      return { kind: 'healthy', ids: someIds() }
    case 3:
      return { kind: 'stop', ids: someIds() }
    case 4:
      return { kind: 'start', ids: someIds() }
    case 5:
      return { kind: 'cancel' }
    case 6:
      return { kind: 'manualStart' }
    case 7:
      return {
        kind: 'scale',
        capacity: Math.max(0, size + rng.int(-Math.ceil(size / 2), Math.ceil(size / 2))),
      }
    case 8:
      return { kind: 'protect', ids: someIds() }
    case 9:
      return { kind: 'modelChange' }
    case 10:
      return { kind: 'crash', afterPersist: rng.chance(0.5) }
    case 11:
      return { kind: 'storeFailure' }
    case 12:
      return {
        kind: 'fabricFailure',
        verb: rng.pick(['reimage', 'restore'] as const),
        retryable: rng.chance(0.5),
      }
    default:
      return rng.chance(0.5) ? { kind: 'disableAuto' } : { kind: 'approve', ids: someIds() }
  }
}

function ext(name: string): ReturnType<typeof fabricModel>['extensions'][number] {
  return {
    name,
    publisher: 'Microsoft.Azure.Extensions',
    type: 'CustomScript',
    typeHandlerVersion: '2.1',
    settings: {},
    protectedSettings: {},
    provisionAfterExtensions: name === 'agent' ? ['install'] : [],
    suppressFailures: false,
  }
}
