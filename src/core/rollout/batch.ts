/**
 * Candidates and batch choice (docs/rollouts.md R3). The next batch is chosen afresh before each
 * batch from
 * the state at that moment: zones one at a time in zone order (unless cross-zone), never across
 * update domains, Service Fabric takes one whole update domain, unhealthy first when asked, then
 * ascending numeric instance id.
 */
import { compareVersions } from '../image/version.js'
import { verdict } from '../health/verdict.js'
import type { InstanceObservation, Rollout } from './types.js'

export type Candidates = Readonly<{
  /** May be picked for the next batch. */
  eligible: readonly InstanceObservation[]
  /** Waiting for `approveRollingUpgrade` (deferral). */
  deferred: readonly InstanceObservation[]
  /** Upgrade mode Manual: behind the target but not on the latest model (R1.7), left alone. */
  behindModel: readonly InstanceObservation[]
}>

export type BatchRules = Readonly<{
  size: number
  zones: readonly string[]
  crossZone: boolean
  prioritizeUnhealthy: boolean
  serviceFabric: boolean
}>

/**
 * Instances the rollout still has to move: not on the target, not protected from scale set
 * actions, not already tried by this rollout, in scope; deferred ones split out until approved.
 * An instance on a *newer* version than the target is left alone: osroll never downgrades; in
 * upgrade mode Manual, so is one not on the latest model (R1.7).
 * @example a 10-instance set with i0,i1 tried and i2 on the target → eligible i3…i9
 */
export function findCandidates(
  r: Pick<Rollout, 'kind' | 'target' | 'attempts' | 'scope' | 'deferral' | 'latestModelOnly'>,
  instances: readonly InstanceObservation[],
): Candidates {
  const tried = new Set<string>()
  for (const a of r.attempts) {
    tried.add(a.instanceId)
    if (a.surgeInstanceId !== null) tried.add(a.surgeInstanceId)
  }
  const scope = r.scope ? new Set(r.scope) : null
  const eligible: InstanceObservation[] = []
  const deferred: InstanceObservation[] = []
  const behindModel: InstanceObservation[] = []
  for (const i of instances) {
    if (tried.has(i.instanceId) || i.protectFromScaleSetActions) continue
    if (scope && !scope.has(i.instanceId)) continue
    if (!needsMove(r, i)) continue
    if (r.latestModelOnly === true && i.modelGeneration < r.target.modelGeneration)
      behindModel.push(i)
    else if (r.deferral && !i.osUpgradeApproved) deferred.push(i)
    else eligible.push(i)
  }
  return { eligible, deferred, behindModel }
}

/** Whether an instance is behind the rollout's target. */
export function needsMove(
  r: Pick<Rollout, 'kind' | 'target'>,
  i: Pick<InstanceObservation, 'osImageVersion' | 'modelGeneration'>,
): boolean {
  if (r.kind === 'OSImage') {
    return (
      r.target.imageVersion !== null && compareVersions(i.osImageVersion, r.target.imageVersion) < 0
    )
  }
  return i.modelGeneration < r.target.modelGeneration
}

/**
 * The next batch, as instance ids in upgrade order; empty when there is no candidate.
 * @example 10 instances, no zones (UD = id mod 5), size 2 → ['0','5'], then ['1','6'], …
 * @example zones 1,2,3 × 4 instances, size 2 → zone 1 first: its UD-0 instance alone, then UD 1…
 */
export function chooseBatch(eligible: readonly InstanceObservation[], rules: BatchRules): string[] {
  if (eligible.length === 0) return []
  // One pass computes each candidate's sort key and finds the first; only its group (same zone
  // unless cross-zone, same update domain) is then sorted: O(n + g log g), not O(n log n).
  const zoneIndex = new Map(rules.zones.map((z, i) => [z, i]))
  const keyOf = (i: InstanceObservation): [number, number, number, number] => [
    rules.crossZone || i.zone === null ? 0 : (zoneIndex.get(i.zone) ?? rules.zones.length),
    rules.serviceFabric ? i.updateDomain : 0,
    rules.prioritizeUnhealthy && verdict(i) === 'unhealthy' ? 0 : 1,
    Number(i.instanceId),
  ]
  const keys = eligible.map(keyOf)
  let best = 0
  for (let n = 1; n < keys.length; n++) if (compareKeys(keys[n]!, keys[best]!) < 0) best = n
  const first = eligible[best] as InstanceObservation
  const firstZone = (keys[best] as number[])[0]
  const group: number[] = []
  for (let n = 0; n < eligible.length; n++) {
    const i = eligible[n] as InstanceObservation
    if (i.updateDomain === first.updateDomain && (keys[n] as number[])[0] === firstZone)
      group.push(n)
  }
  group.sort((a, b) => compareKeys(keys[a]!, keys[b]!))
  const picked = rules.serviceFabric ? group : group.slice(0, Math.max(1, rules.size))
  return picked.map((n) => (eligible[n] as InstanceObservation).instanceId)
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return (a[k] as number) - (b[k] as number)
  return 0
}
