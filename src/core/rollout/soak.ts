/**
 * The batch soak (docs/rollouts.md § Per-set timing): after a batch passes its after-batch check,
 * the next batch waits until no instance of the set has changed health for the soak's `minMs`;
 * when that has not happened within `maxMs` of the batch's end, the rollout stops Faulted
 * (`SoakNotStable`). Not a sleep: every pass compares the set's verdicts with the last ones seen.
 */
import { formatDurationMs } from '../duration.js'
import { verdict } from '../health/verdict.js'
import type { Verdict } from '../health/verdict.js'
import type {
  BatchSoak,
  HealthPicture,
  InstanceObservation,
  RolloutError,
  SoakState,
} from './types.js'

export const SOAK_NOT_STABLE = 'SoakNotStable'

/** One instance whose verdict changed (or that appeared or went away) since the last pass. */
export type HealthChange = Readonly<{ instanceId: string; from: string; to: string }>

export type SoakOutcome =
  | Readonly<{ kind: 'passed'; changes: readonly HealthChange[] }>
  | Readonly<{
      kind: 'waiting'
      soak: SoakState
      wakeAtMs: number
      changes: readonly HealthChange[]
    }>
  | Readonly<{
      kind: 'unstable'
      soak: SoakState
      error: RolloutError
      changes: readonly HealthChange[]
    }>

/**
 * Whether a rollout soaks after its batches: a soak of min 0 passes at once, so it is none.
 * @example soaks({ batchSoak: { minMs: 0, maxMs: 60_000 } }) === false
 */
export function soaks(r: Readonly<{ batchSoak?: BatchSoak; pace: string }>): boolean {
  return r.pace === 'batched' && (r.batchSoak?.minMs ?? 0) > 0
}

/**
 * The soak after `batch`, starting now with the set's health as it is.
 * @example startSoak(1, fleet, 40_000) → { batch: 1, startedAtMs: 40_000, stableSinceMs: 40_000, … }
 */
export function startSoak(
  batch: number,
  instances: readonly InstanceObservation[],
  nowMs: number,
): SoakState {
  return {
    batch,
    startedAtMs: nowMs,
    stableSinceMs: nowMs,
    health: pictureOf(instances),
    lastChange: null,
  }
}

/**
 * One pass of a soak: any change restarts the stable time; the soak passes once the set has been
 * unchanged for min; at max it has failed. Min PT30S, max PT2M, batch ended at t=100 s, instance 3
 * unhealthy at t=120 s and healthy at t=130 s → stable since 130 s, passes at t=160 s; had it
 * flapped again at t=200 s and t=210 s, the soak would have failed at t=220 s.
 */
export function judgeSoak(
  soak: SoakState,
  cfg: BatchSoak,
  instances: readonly InstanceObservation[],
  nowMs: number,
): SoakOutcome {
  const health = pictureOf(instances)
  const changes = diff(soak.health, health)
  const first = changes[0]
  const next: SoakState = first
    ? { ...soak, health, stableSinceMs: nowMs, lastChange: { ...first, atMs: nowMs } }
    : soak
  if (nowMs - next.stableSinceMs >= cfg.minMs) return { kind: 'passed', changes }
  const endsAtMs = soak.startedAtMs + cfg.maxMs
  if (nowMs >= endsAtMs)
    return { kind: 'unstable', soak: next, error: soakNotStable(next, cfg), changes }
  const wakeAtMs = Math.min(next.stableSinceMs + cfg.minMs, endsAtMs)
  return { kind: 'waiting', soak: next, wakeAtMs, changes }
}

/**
 * The slowest soak that still passes, for the dry-run plan's worst case: the set settles only at
 * the last moment, min before max. Min PT30S, max PT10M, started at 0 → stable since 9 min 30 s.
 */
export function slowestPassingSoak(soak: SoakState, cfg: BatchSoak): SoakState {
  return { ...soak, stableSinceMs: soak.startedAtMs + Math.max(0, cfg.maxMs - cfg.minMs) }
}

function soakNotStable(soak: SoakState, cfg: BatchSoak): RolloutError {
  const last = soak.lastChange
  const change = last
    ? ` The last change: instance ${last.instanceId} went from ${last.from} to ${last.to} at ${iso(last.atMs)}.`
    : ''
  return {
    code: SOAK_NOT_STABLE,
    message: `The scale set's health did not stay unchanged for the batchSoak minimum of ${formatDurationMs(cfg.minMs)} within its maximum of ${formatDurationMs(cfg.maxMs)} after batch ${soak.batch} (soaking since ${iso(soak.startedAtMs)}); no further batch was started.${change}`,
  }
}

function pictureOf(instances: readonly InstanceObservation[]): HealthPicture {
  const out: Record<string, Verdict> = {}
  for (const i of [...instances].sort((a, b) => compareIds(a.instanceId, b.instanceId)))
    out[i.instanceId] = verdict(i)
  return out
}

function diff(before: HealthPicture, now: HealthPicture): HealthChange[] {
  const ids = [...new Set([...Object.keys(before), ...Object.keys(now)])].sort(compareIds)
  const out: HealthChange[] = []
  for (const id of ids) {
    const from = before[id] ?? 'absent'
    const to = now[id] ?? 'absent'
    if (from !== to) out.push({ instanceId: id, from, to })
  }
  return out
}

/** Numeric ids in numeric order ('2' before '10'), others after, by text. */
function compareIds(a: string, b: string): number {
  const x = Number(a)
  const y = Number(b)
  if (Number.isInteger(x) && Number.isInteger(y)) return x - y
  return a < b ? -1 : a > b ? 1 : 0
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}
