/**
 * Composable health gates (docs/controls.md § Health gates): a set's list of checks beside its
 * Azure health source. The runtime evaluates them with I/O (runtime/gates.ts, as the prober
 * probes); their verdicts enter the core as plain inputs, and the core decides: an instance (or a
 * batch, for cohort gates) counts as healthy only when the health source AND every gate pass. A
 * gate that has not answered is never a pass (fail closed).
 */
import type { Attempt, InstanceObservation, Rollout } from '../rollout/types.js'
import { TERMINAL_ATTEMPT_STATES } from '../rollout/types.js'
import { verdict } from '../health/verdict.js'

export type GateKind = 'prometheus' | 'cohort' | 'webhook'
export type Comparison = '<' | '<=' | '>' | '>=' | '==' | '!='
export const COMPARISONS: readonly Comparison[] = ['<', '<=', '>', '>=', '==', '!=']

type GateBase = Readonly<{
  name: string
  /** How long the gate may take to give a verdict before it fails with `GateTimeout`. */
  timeoutMs: number
  /** How often an inconclusive gate (no data yet, server unreachable) is asked again. */
  intervalMs: number
}>

export type PrometheusGate = GateBase &
  Readonly<{
    kind: 'prometheus'
    serverUrl: string
    /** PromQL; `{{instance}}`, `{{scaleSet}}` and `{{version}}` stand for the instance. */
    query: string
    comparison: Comparison
    threshold: number
  }>

export type CohortGate = GateBase &
  Readonly<{
    kind: 'cohort'
    serverUrl: string
    /** PromQL evaluated once per cohort; `{{version}}` and `{{scaleSet}}` stand for it. */
    query: string
    /** Pass when upgraded ≤ baseline × (1 + tolerance). */
    tolerance: number
  }>

export type WebhookGate = GateBase & Readonly<{ kind: 'webhook'; url: string }>

export type HealthGate = PrometheusGate | CohortGate | WebhookGate

/** The typed reasons a gate fails with (docs/controls.md § Health gates). */
export type GateReason =
  | 'GateThresholdNotMet' // a prometheus gate's value failed its comparison
  | 'GateCohortRegressed' // the upgraded cohort is worse than baseline × (1 + tolerance)
  | 'GateWebhookRefused' // the webhook answered something other than 2xx
  | 'GateUnreachable' // the server could not be reached (fail closed)
  | 'GateTimeout' // no verdict within the gate's timeout (fail closed)
  | 'GateNoData' // the query returned no sample until the timeout
  | 'GateQueryFailed' // the server refused the query or answered what a gate cannot use

export type GateVerdict = Readonly<
  | { status: 'pass' }
  | { status: 'pending' }
  | { status: 'fail'; gate: string; reason: GateReason; message: string }
>

export type GateInputs = Readonly<{
  /** The set has gates judged per instance (prometheus, webhook). */
  instanceGates: boolean
  /** The set has gates judged per batch (cohort). */
  cohortGates: boolean
  /** Per-instance verdicts of the running rollout, by attempt instance id; absent: pending. */
  instances: Readonly<Record<string, GateVerdict>>
  /** Per-batch verdicts of the running rollout, by batch number; absent: pending. */
  batches: Readonly<Record<string, GateVerdict>>
}>

const PENDING: GateVerdict = { status: 'pending' }
const PASS: GateVerdict = { status: 'pass' }

/**
 * An attempt's combined gate verdict; null when the set has no gates (the health source alone
 * decides). A failure of either kind wins; both must pass to pass; anything else is pending.
 * @example gateVerdictOf(a, { instanceGates: true, cohortGates: false, instances: {}, batches: {} })
 *   → { status: 'pending' }
 */
export function gateVerdictOf(a: Attempt, g: GateInputs | null | undefined): GateVerdict | null {
  if (!g || (!g.instanceGates && !g.cohortGates)) return null
  const own = g.instanceGates ? (g.instances[a.instanceId] ?? PENDING) : PASS
  const batch = g.cohortGates ? (g.batches[String(a.batch)] ?? PENDING) : PASS
  if (own.status === 'fail') return own
  if (batch.status === 'fail') return batch
  return own.status === 'pass' && batch.status === 'pass' ? PASS : PENDING
}

export type GateCandidate = Readonly<{
  /** The attempt's instance id (its key in GateInputs). */
  attemptId: string
  /** The instance that runs the new version (a maxSurge replacement's own id). */
  instanceId: string
  batch: number
  fromVersion: string
}>

/**
 * What the runtime should evaluate now: instances of the running rollout healthy on their new
 * disk and waiting to count, and the current batch once all its open instances are. A rollout
 * of pace allAtOnce (upgrade mode Automatic, manualupgrade) waits for no health, so no gates.
 */
export function gateCandidates(
  r: Rollout,
  instances: readonly InstanceObservation[],
): { instances: GateCandidate[]; batch: { batch: number; members: GateCandidate[] } | null } {
  if (r.status !== 'RollingForward' || r.pace !== 'batched') return { instances: [], batch: null }
  const byId = new Map(instances.map((i) => [i.instanceId, i]))
  // Healthy on the new disk and not counted yet: WaitingHealth, or about to be (the instance
  // already reports the target), so that the gates start in the pass that sees it healthy.
  const waiting = (a: Attempt): GateCandidate | null => {
    const onNew = a.method === 'surge' ? a.surgeInstanceId : a.instanceId
    const obs = onNew === null ? undefined : byId.get(onNew)
    if (!obs || verdict(obs) !== 'healthy') return null
    const applied =
      a.method === 'update'
        ? obs.modelGeneration >= r.target.modelGeneration
        : obs.osImageVersion === r.target.imageVersion
    const open =
      a.state === 'WaitingHealth' ||
      (a.method === 'surge'
        ? a.state === 'Surging'
        : a.state === 'Reimaging' || a.state === 'Updating')
    if (!open || !applied) return null
    return {
      attemptId: a.instanceId,
      instanceId: obs.instanceId,
      batch: a.batch,
      fromVersion: a.fromVersion,
    }
  }
  const out: GateCandidate[] = []
  for (const a of r.attempts) {
    const c = waiting(a)
    if (c) out.push(c)
  }
  const current = r.attempts.filter((a) => a.batch === r.batchCount && !isDone(a))
  const members = out.filter((c) => c.batch === r.batchCount)
  const batch =
    members.length > 0 && members.length === current.length
      ? { batch: r.batchCount, members }
      : null
  return { instances: out, batch }
}

/**
 * Out of the batch's cohort: ended (a skipped instance too, docs/rollouts.md § Lifecycle hooks),
 * rolling back, or past its gates and waiting for the post-healthy hook.
 */
function isDone(a: Attempt): boolean {
  return (
    TERMINAL_ATTEMPT_STATES.has(a.state) || a.state === 'RollingBack' || a.state === 'PostHealthy'
  )
}

/**
 * A prometheus gate's rule: the value against the threshold.
 * @example compare(0.02, '<=', 0.05) === true
 */
export function compare(value: number, c: Comparison, threshold: number): boolean {
  switch (c) {
    case '<':
      return value < threshold
    case '<=':
      return value <= threshold
    case '>':
      return value > threshold
    case '>=':
      return value >= threshold
    case '==':
      return value === threshold
    case '!=':
      return value !== threshold
  }
}

/**
 * The cohort rule: pass when upgraded ≤ baseline × (1 + tolerance). A baseline of 0 allows
 * exactly 0 (any error where the old version had none fails). NaN on either side (0/0, a rate
 * with no requests) is no data, judged by the caller, never a pass.
 * @example cohortPasses(0.011, 0.01, 0.2) === true; cohortPasses(0.5, 0, 0.2) === false
 */
export function cohortPasses(upgraded: number, baseline: number, tolerance: number): boolean {
  return upgraded <= baseline * (1 + tolerance)
}

export type QueryVars = Readonly<{ instance?: string; scaleSet: string; version: string }>

/**
 * Fills a query's placeholders; values are quoted for PromQL string literals by escaping.
 * @example renderQuery('up{instance_id="{{instance}}"}', { instance: '3', scaleSet: 'web', version: '1.0.0' })
 *   === 'up{instance_id="3"}'
 */
export function renderQuery(template: string, v: QueryVars): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')
  return template
    .replaceAll('{{instance}}', esc(v.instance ?? ''))
    .replaceAll('{{scaleSet}}', esc(v.scaleSet))
    .replaceAll('{{version}}', esc(v.version))
}

export const PLACEHOLDERS = ['{{instance}}', '{{scaleSet}}', '{{version}}'] as const

/**
 * The message a failed attempt records for its gate: gate, kind, reason and the values.
 * @example gateFailureMessage('3', { gate: 'errors', reason: 'GateCohortRegressed', message: 'upgraded 0.5 > …' })
 */
export function gateFailureMessage(
  instanceId: string,
  f: Readonly<{ gate: string; reason: GateReason; message: string }>,
): string {
  return `Instance ${instanceId} failed health gate '${f.gate}': ${f.reason}: ${f.message}`
}
