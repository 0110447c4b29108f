/**
 * A simulation scenario: a fleet, a policy, the images published over time and a schedule of
 * faults. Canonical scenarios are written by hand (`canonical.ts`); random ones come from a seed
 * (`generate.ts`).
 */
import type { ScaleSetSpec } from '../../src/core/scale-set/spec.js'
import type { TimingProfile } from '../../src/core/rollout/start.js'
import type { FabricModel } from '../../src/fabrics/types/fabric.js'
import type { UpgradeSettings } from '../../src/store/store.js'
import type { SimGatePlan } from './sim-gates.js'
import type { SimHooks } from './sim-hooks.js'
import type { MaintenanceWindows } from '../../src/core/rollout/window.js'

export type Fault = Readonly<
  | { kind: 'publish'; version: string; uri: string }
  | { kind: 'unhealthy'; ids: readonly string[] } // concurrent maintenance: health source says no
  | { kind: 'healthy'; ids: readonly string[] } // maintenance over
  | { kind: 'stop'; ids: readonly string[] } // instance process dies
  | { kind: 'start'; ids: readonly string[] }
  | { kind: 'cancel' }
  | { kind: 'pause' } // osroll's pause of the running rollout (docs/rollouts.md § Pause and resume)
  | { kind: 'resume' }
  // osroll's release of a quarantined version, the newest when null (§ Quarantine and roll forward)
  | { kind: 'release'; version: string | null }
  // POST osRollingUpgrade; with `rollback`, osroll's rollouts/start
  // (docs/rollouts.md § Rollback on every path)
  | { kind: 'manualStart'; rollback?: boolean }
  | { kind: 'manualUpgrade'; ids: readonly string[] | null } // POST manualupgrade (null: all)
  | { kind: 'scale'; capacity: number }
  | { kind: 'approve'; ids: readonly string[] | null }
  | { kind: 'protect'; ids: readonly string[] }
  | { kind: 'disableAuto' }
  | { kind: 'modelChange' } // a change to virtualMachineProfile: generation + 1
  // A new model that changes one extension's settings (the seed's new SAS token): generation + 1.
  | { kind: 'fixExtension'; name: string }
  | { kind: 'crash'; afterPersist: boolean } // the runtime dies (optionally right after a save)
  | { kind: 'storeFailure' } // the next rollout save fails
  | { kind: 'fabricFailure'; verb: 'reimage' | 'restore'; retryable: boolean }
  // The Service Fabric cluster's node type changes durability (docs/rollouts.md R3.4).
  | { kind: 'clusterDurability'; level: 'Bronze' | 'Silver' | 'Gold' }
>

export type TimedFault = Readonly<{ atMs: number; fault: Fault }>

export type Scenario = Readonly<{
  name: string
  seed: number
  spec: ScaleSetSpec
  model: FabricModel
  /** Version of the initial fleet and its image URI. */
  initial: Readonly<{ version: string; uri: string }>
  faults: readonly TimedFault[]
  healthDeadlineMs: number
  /** osroll's per-set settings (minHealthyTime, adaptive ramp), absent for none. */
  settings?: UpgradeSettings
  /** Health gates and how they answer per version (docs/controls.md § Health gates); absent: none. */
  gates?: SimGatePlan
  /** Lifecycle hooks and how the simulated webhooks answer (docs/rollouts.md § Lifecycle hooks). */
  hooks?: SimHooks
  timing: TimingProfile
  maxSteps: number
  /**
   * The set's maintenance windows (docs/rollouts.md § Maintenance windows), absent for none.
   * Windows need a calendar: such a scenario starts its clock at `epochMs` (a real date, near a
   * DST change), and its faults' times count from there.
   */
  windows?: MaintenanceWindows
  epochMs?: number
}>

/** The scenario's faults at their times on the clock (shifted by its epoch). */
export function timedFaults(s: Scenario): TimedFault[] {
  const epoch = s.epochMs ?? 0
  return [...s.faults]
    .map((f) => (epoch === 0 ? f : { ...f, atMs: f.atMs + epoch }))
    .sort((a, b) => a.atMs - b.atMs)
}

/** The cluster node type a Service Fabric scenario's set names, at Silver to begin with. */
export const SF_NODE_TYPE = {
  clusterId: '/subscriptions/sub1/resourceGroups/rg/providers/Microsoft.ServiceFabric/clusters/sf',
  nodeTypeRef: 'nt1',
  durability: 'Silver',
} as const

export const NO_DELAY: TimingProfile = {
  firstDelayMinMs: 0,
  firstDelayMaxMs: 0,
  laterDelayMinMs: 0,
  laterDelayMaxMs: 0,
  retryDelayMs: 10 * 60_000,
}
