/**
 * Prometheus metrics (issue 5, `GET /metrics`): what rollouts do (by status, kind and trigger),
 * how instances fare (upgraded, failed, rolled back), how long instance upgrades and batches
 * take, what the prober sees, and how the API answers. One registry per process; one function
 * per concern (rollouts, hooks, probes, the API, leases, the store, gates) defines its metrics
 * and what records them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Rollout, RolloutEvent } from '../core/rollout/types.js'
import { REASONS, reasonCode } from '../core/rollout/reasons.js'
import { WINDOW_OPENED } from '../core/rollout/window.js'

export type Metrics = ReturnType<typeof createMetrics>

const SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]

export function createMetrics(o: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry()
  if (o.defaultMetrics !== false)
    collectDefaultMetrics({ register: registry, prefix: 'osroll_process_' })
  return {
    registry,
    ...rolloutMetrics(registry),
    ...hookMetrics(registry),
    ...probeMetrics(registry),
    ...apiMetrics(registry),
    ...leaseMetrics(registry),
    ...storeMetrics(registry),
    ...gateMetrics(registry),
  }
}

/** Rollouts started and ended, instance outcomes and durations, batches, maintenance windows. */
function rolloutMetrics(registry: Registry) {
  const rollouts = new Counter({
    name: 'osroll_rollouts_total',
    help: 'Rollouts started and ended, by status (Started, Completed, Faulted, Cancelled), kind and trigger',
    labelNames: ['status', 'kind', 'started_by'],
    registers: [registry],
  })
  const instances = new Counter({
    name: 'osroll_instance_upgrades_total',
    help: 'Instance upgrades by outcome (succeeded, failed, rolled_back, rollback_failed, skipped)',
    labelNames: ['outcome', 'kind'],
    registers: [registry],
  })
  const reasons = new Counter({
    name: 'osroll_rollout_reasons_total',
    help: 'Reasons rollouts recorded, by catalogue code and what it says happened (docs/rollouts.md § Reason catalogue)',
    labelNames: ['reason', 'kind'],
    registers: [registry],
  })
  const hookAnswers = new Counter({
    name: 'osroll_hook_answers_total',
    help: 'Lifecycle hook answers acted on, by hook, action and source (webhook, default, guest, request)',
    labelNames: ['hook', 'answer', 'source'],
    registers: [registry],
  })
  const instanceSeconds = new Histogram({
    name: 'osroll_instance_upgrade_duration_seconds',
    help: 'From the reimage decision to healthy (or failed), per instance',
    labelNames: ['outcome'],
    buckets: SECONDS,
    registers: [registry],
  })
  const batchSeconds = new Histogram({
    name: 'osroll_batch_duration_seconds',
    help: 'From the first reimage of a batch to its last instance settled',
    buckets: SECONDS,
    registers: [registry],
  })
  // docs/rollouts.md § Maintenance windows: 1 while the set's rollout waits for its window.
  const windowWaiting = new Gauge({
    name: 'osroll_rollout_waiting_for_window',
    help: 'Whether the scale set rollout waits for a maintenance window (1) or not (0)',
    labelNames: ['scale_set'],
    registers: [registry],
  })
  const windowWaits = new Counter({
    name: 'osroll_maintenance_window_waits_total',
    help: 'Times a rollout began waiting for a maintenance window (a batch could not start)',
    registers: [registry],
  })
  const windowWaitSeconds = new Histogram({
    name: 'osroll_maintenance_window_wait_seconds',
    help: 'How long a rollout waited for its maintenance window, per wait',
    buckets: [1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86_400, 7 * 86_400],
    registers: [registry],
  })
  const m = { rollouts, instances, reasons, hookAnswers, instanceSeconds, batchSeconds }
  const windows = { windowWaiting, windowWaits, windowWaitSeconds }
  return {
    /** Records what a saved decision says: a rollout start or end, instance outcomes, batches. */
    rolloutStep(before: Rollout | null, after: Rollout, events: readonly RolloutEvent[]): void {
      recordWindowWait(windows, before, after, events)
      recordRollout(m, before, after, events)
    },
  }
}

type RolloutCounters = Readonly<{
  rollouts: Counter
  instances: Counter
  reasons: Counter
  hookAnswers: Counter
  instanceSeconds: Histogram
  batchSeconds: Histogram
}>

/** The rollout's status, the reasons and outcomes of its events, and a batch just checked. */
function recordRollout(
  m: RolloutCounters,
  before: Rollout | null,
  after: Rollout,
  events: readonly RolloutEvent[],
): void {
  const labels = { kind: after.kind, started_by: after.startedBy }
  if (before === null) m.rollouts.inc({ status: 'Started', ...labels })
  if (after.status !== 'RollingForward' && before?.status !== after.status)
    m.rollouts.inc({ status: after.status, ...labels })
  for (const e of events) {
    const code = reasonCode(e.reason)
    m.reasons.inc({ reason: code ?? 'Uncatalogued', kind: code ? REASONS[code].kind : 'unknown' })
    if (e.hook)
      m.hookAnswers.inc({ hook: e.hook.hook, answer: e.hook.answer, source: e.hook.source })
    if (e.instanceId === null || e.from === e.to) continue // a step, not an outcome
    const outcome = OUTCOMES[e.to]
    if (!outcome) continue
    m.instances.inc({ outcome, kind: after.kind })
    const a = after.attempts.find((x) => x.instanceId === e.instanceId)
    if (a) m.instanceSeconds.observe({ outcome }, (e.atMs - a.startedAtMs) / 1000)
  }
  if (before && after.batchesChecked > before.batchesChecked) {
    const batch = after.attempts.filter((a) => a.batch === after.batchesChecked)
    const start = Math.min(...batch.map((a) => a.startedAtMs))
    const end = Math.max(...batch.map((a) => a.endedAtMs ?? a.startedAtMs))
    if (batch.length > 0) m.batchSeconds.observe((end - start) / 1000)
  }
}

/** docs/rollouts.md § Maintenance windows: whether the rollout waits, and how long it waited. */
function recordWindowWait(
  m: Readonly<{ windowWaiting: Gauge; windowWaits: Counter; windowWaitSeconds: Histogram }>,
  before: Rollout | null,
  after: Rollout,
  events: readonly RolloutEvent[],
): void {
  const wait = after.status === 'RollingForward' && after.windowWait != null
  if (wait || before?.windowWait != null || after.windowWait != null)
    m.windowWaiting.set({ scale_set: after.scaleSetKey }, wait ? 1 : 0)
  if (wait && before?.windowWait == null) m.windowWaits.inc()
  const waited = before?.windowWait ?? null
  const waitEndedAtMs =
    events.find((e) => e.reason === WINDOW_OPENED)?.atMs ?? after.endedAtMs ?? null
  if (waited !== null && !wait && waitEndedAtMs !== null)
    m.windowWaitSeconds.observe((waitEndedAtMs - waited.sinceMs) / 1000)
}

/** Lifecycle hook calls (docs/rollouts.md § Lifecycle hooks); the answers taken are rollouts'. */
function hookMetrics(registry: Registry) {
  const hookCalls = new Counter({
    name: 'osroll_hook_calls_total',
    help: 'Lifecycle hook calls by hook and result (answer, timeout, connection, status, unparseable)',
    labelNames: ['hook', 'result'],
    registers: [registry],
  })
  return {
    hookCall(hook: string, result: string): void {
      hookCalls.inc({ hook, result })
    },
  }
}

/** What the prober sees: results by protocol, and latency. */
function probeMetrics(registry: Registry) {
  const probes = new Counter({
    name: 'osroll_probe_results_total',
    help: 'Health probes by protocol and result',
    labelNames: ['protocol', 'result'],
    registers: [registry],
  })
  const probeSeconds = new Histogram({
    name: 'osroll_probe_duration_seconds',
    help: 'Health probe latency',
    labelNames: ['protocol'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  })
  return {
    probe(protocol: string, result: string, seconds: number): void {
      probes.inc({ protocol, result })
      probeSeconds.observe({ protocol }, seconds)
    },
  }
}

/** How the API answers, by route template. */
function apiMetrics(registry: Registry) {
  const api = new Histogram({
    name: 'osroll_api_request_duration_seconds',
    help: 'API requests by route template, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  })
  return {
    request(route: string, method: string, status: number, seconds: number): void {
      api.observe({ route, method, status: String(status) }, seconds)
    },
  }
}

/** Several replicas (docs/architecture.md § Several replicas): leases held, taken and lost. */
function leaseMetrics(registry: Registry) {
  const leasesHeld = new Gauge({
    name: 'osroll_leases_held',
    help: 'Scale sets this replica drives (holds the lease of)',
    registers: [registry],
  })
  const replicas = new Gauge({
    name: 'osroll_replicas_live',
    help: 'Replicas seen alive within the lease time, this one included',
    registers: [registry],
  })
  const leaseAcquired = new Counter({
    name: 'osroll_lease_acquisitions_total',
    help: 'Leases this replica took: new (free), released (handed over) or takeover (expired holder)',
    labelNames: ['kind'],
    registers: [registry],
  })
  const leaseLost = new Counter({
    name: 'osroll_lease_losses_total',
    help: 'Leases this replica found taken by another replica when it tried to renew them',
    registers: [registry],
  })
  return {
    leases(o: { held: number; replicas: number }): void {
      leasesHeld.set(o.held)
      replicas.set(o.replicas)
    },
    acquired(kind: 'new' | 'takeover' | 'released'): void {
      leaseAcquired.inc({ kind })
    },
    lost(): void {
      leaseLost.inc()
    },
  }
}

/** The store's query latency. */
function storeMetrics(registry: Registry) {
  const storeSeconds = new Histogram({
    name: 'osroll_store_query_duration_seconds',
    help: 'Store (SQLite or PostgreSQL) query latency, by outcome',
    labelNames: ['outcome'],
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  })
  return {
    storeQuery(seconds: number, ok: boolean): void {
      storeSeconds.observe({ outcome: ok ? 'ok' : 'error' }, seconds)
    },
  }
}

/** Health gates (docs/controls.md § Health gates): checks and failures. */
function gateMetrics(registry: Registry) {
  const gateEvaluations = new Counter({
    name: 'osroll_gate_evaluations_total',
    help: 'Health gate checks by gate kind, result (pass, fail, inconclusive) and reason',
    labelNames: ['kind', 'result', 'reason'],
    registers: [registry],
  })
  const gateFailures = new Counter({
    name: 'osroll_gate_failures_total',
    help: 'Health gates that failed an instance or a batch, by gate kind and typed reason',
    labelNames: ['kind', 'reason'],
    registers: [registry],
  })
  return {
    gateEvaluation(kind: string, result: 'pass' | 'fail' | 'inconclusive', reason: string): void {
      gateEvaluations.inc({ kind, result, reason })
    },
    gateFailure(kind: string, reason: string): void {
      gateFailures.inc({ kind, reason })
    },
  }
}

const OUTCOMES: Record<string, string | undefined> = {
  Succeeded: 'succeeded',
  Failed: 'failed',
  RolledBack: 'rolled_back',
  RollbackFailed: 'rollback_failed',
  Skipped: 'skipped',
}
