/**
 * The health gates' I/O (docs/controls.md § Health gates): evaluates each gate of a set for the
 * instances (and batches) of its running rollout that wait to count, with the gate's interval
 * and timeout, and hands the verdicts to the pure core as inputs (core/gates/gates.ts), as the
 * prober does with probe results. Fail closed: an unreachable or silent server, no data, or a
 * timeout is a failure with a typed reason once the gate's timeout passes, never a pass.
 */
import type {
  CohortGate,
  GateCandidate,
  GateInputs,
  GateReason,
  GateVerdict,
  HealthGate,
  PrometheusGate,
  WebhookGate,
} from '../core/gates/gates.js'
import { cohortPasses, compare, gateCandidates, renderQuery } from '../core/gates/gates.js'
import type { InstanceObservation, Rollout } from '../core/rollout/types.js'
import type { ScaleSetState } from '../store/store.js'
import type { Logger } from './logger.js'

/** Where the reconciler gets gate verdicts from (this evaluator, or the simulator's). */
export interface GateSource {
  inputs(
    state: ScaleSetState,
    rollout: Rollout,
    instances: readonly InstanceObservation[],
  ): GateInputs | null
  /** Drops what is kept for a set with no rollout running, or gone: its evaluations, baselines. */
  forget?(setKey: string): void
}

export type GateMetrics = Readonly<{
  gateEvaluation: (kind: string, result: 'pass' | 'fail' | 'inconclusive', reason: string) => void
  gateFailure: (kind: string, reason: string) => void
}>

/** One check's outcome: a verdict, or inconclusive (asked again at the interval until timeout). */
export type CheckResult =
  | { kind: 'pass'; message: string }
  | { kind: 'fail'; reason: GateReason; message: string }
  | { kind: 'inconclusive'; reason: GateReason; message: string }

type Job = {
  key: string
  setKey: string
  gate: HealthGate
  startedAtMs: number
  verdict: GateVerdict
  timer: NodeJS.Timeout | null
  abort: AbortController
  closed: boolean
  /** The last inconclusive check: what a timeout reports (unreachable, no data). */
  last: CheckResult | null
}

export type GateEvaluatorOptions = Readonly<{
  nowMs?: () => number
  /** Called when a verdict is reached, so that the set's next pass sees it at once. */
  onChange: (setKey: string) => void
  metrics?: GateMetrics
  log?: Logger
}>

export class GateEvaluator implements GateSource {
  private readonly jobs = new Map<string, Job>()
  /** The cohort gates' last baseline, by set, rollout and gate (for a last batch with none left). */
  private readonly baselines = new Map<string, number>()

  constructor(private readonly o: GateEvaluatorOptions) {}

  inputs(
    state: ScaleSetState,
    rollout: Rollout,
    instances: readonly InstanceObservation[],
  ): GateInputs | null {
    const gates = state.healthGates ?? []
    if (gates.length === 0) {
      this.dropExcept(state.key, new Set())
      return null
    }
    const perInstance = gates.filter((g) => g.kind !== 'cohort')
    const cohort = gates.filter((g): g is CohortGate => g.kind === 'cohort')
    const c = gateCandidates(rollout, instances)
    const live = new Set<string>()
    const ctx = (cand: GateCandidate | null, batch: number) => ({
      state,
      rollout,
      candidate: cand,
      batch,
    })
    const instanceVerdicts: Record<string, GateVerdict> = {}
    for (const cand of c.instances) {
      const vs = perInstance.map((g) =>
        this.verdictOf(
          `${state.key}|${rollout.id}|i|${cand.attemptId}|${g.name}`,
          g,
          ctx(cand, cand.batch),
          live,
        ),
      )
      instanceVerdicts[cand.attemptId] = combine(vs)
    }
    const batchVerdicts: Record<string, GateVerdict> = {}
    if (c.batch) {
      const first = c.batch.members[0] as GateCandidate
      const vs = cohort.map((g) =>
        this.verdictOf(
          `${state.key}|${rollout.id}|b|${c.batch?.batch}|${g.name}`,
          g,
          ctx(first, first.batch),
          live,
        ),
      )
      batchVerdicts[String(c.batch.batch)] = combine(vs)
    }
    this.dropExcept(state.key, live)
    for (const memo of this.baselines.keys())
      if (memo.startsWith(`${state.key}|`) && !memo.startsWith(`${state.key}|${rollout.id}|`))
        this.baselines.delete(memo) // an earlier rollout's
    return {
      instanceGates: perInstance.length > 0,
      cohortGates: cohort.length > 0,
      instances: instanceVerdicts,
      batches: batchVerdicts,
    }
  }

  /**
   * Stops a set's evaluations and drops its baselines: its rollout ended, or the set is gone.
   * Evaluations are only for a running rollout, so nothing of a set outlives its rollout.
   */
  forget(setKey: string): void {
    this.dropExcept(setKey, new Set())
    for (const memo of this.baselines.keys())
      if (memo.startsWith(`${setKey}|`)) this.baselines.delete(memo)
  }

  /**
   * W4 of docs/rollouts.md § Waves across scale sets, gates included: the set's per-instance
   * gates (Prometheus and webhook; a cohort gate has no baseline once every instance is upgraded)
   * asked again for each of `instances` after its stage's bake time, in the context of the
   * `rollout` that moved them; `round` (the bake's start) starts them again for a restarted bake.
   * Null when the set has no such gate. Keep one evaluator for this apart from the sets' own,
   * whose idle passes forget every evaluation of a set.
   */
  bakeVerdict(
    state: ScaleSetState,
    rollout: Rollout,
    instances: readonly InstanceObservation[],
    round: number,
  ): GateVerdict | null {
    const gates = (state.healthGates ?? []).filter((g) => g.kind !== 'cohort')
    if (gates.length === 0) return null
    const live = new Set<string>()
    const vs = instances.flatMap((i) => {
      const a = rollout.attempts.find((x) => x.instanceId === i.instanceId)
      const candidate = {
        attemptId: i.instanceId,
        instanceId: i.instanceId,
        batch: a?.batch ?? 0,
        fromVersion: a?.fromVersion ?? '',
      }
      const ctx = { state, rollout, candidate, batch: candidate.batch }
      return gates.map((g) =>
        this.verdictOf(
          `${state.key}|${rollout.id}|bake|${round}|${i.instanceId}|${g.name}`,
          g,
          ctx,
          live,
        ),
      )
    })
    this.dropExcept(state.key, live)
    return combine(vs)
  }

  /** How many evaluations and baselines are kept for a set (tests of forget). */
  keptFor(setKey: string): number {
    let n = 0
    for (const job of this.jobs.values()) if (job.setKey === setKey) n++
    for (const memo of this.baselines.keys()) if (memo.startsWith(`${setKey}|`)) n++
    return n
  }

  /** Stops every evaluation (server shutdown). */
  close(): void {
    for (const job of this.jobs.values()) this.stop(job)
    this.jobs.clear()
  }

  private verdictOf(
    key: string,
    gate: HealthGate,
    ctx: EvalContext,
    live: Set<string>,
  ): GateVerdict {
    // A changed gate (a PUT while it runs) starts again under its new definition.
    const jobKey = `${key}|${JSON.stringify(gate)}`
    live.add(jobKey)
    let job = this.jobs.get(jobKey)
    if (!job) {
      job = {
        key: jobKey,
        setKey: ctx.state.key,
        gate,
        startedAtMs: this.now(),
        verdict: { status: 'pending' },
        timer: null,
        abort: new AbortController(),
        closed: false,
        last: null,
      }
      this.jobs.set(jobKey, job)
      void this.run(job, ctx)
    }
    return job.verdict
  }

  private async run(job: Job, ctx: EvalContext): Promise<void> {
    if (job.closed) return
    const remaining = job.startedAtMs + job.gate.timeoutMs - this.now()
    let result: CheckResult
    try {
      result =
        remaining <= 0
          ? (job.last ?? {
              kind: 'fail',
              reason: 'GateTimeout',
              message: 'no verdict within the timeout',
            })
          : await this.check(
              job.gate,
              ctx,
              AbortSignal.any([job.abort.signal, AbortSignal.timeout(remaining)]),
            )
    } catch (err) {
      result = {
        kind: 'inconclusive',
        reason: 'GateUnreachable',
        message: (err as Error).message,
      }
    }
    if (job.closed) return
    // At the timeout itself nothing new was asked: the last check stands (not counted again).
    if (remaining > 0)
      this.o.metrics?.gateEvaluation(
        job.gate.kind,
        result.kind,
        result.kind === 'pass' ? '' : result.reason,
      )
    const timedOut = this.now() >= job.startedAtMs + job.gate.timeoutMs
    if (result.kind === 'inconclusive') job.last = result
    if (result.kind === 'inconclusive' && !timedOut) {
      const wait = Math.min(job.gate.intervalMs, job.startedAtMs + job.gate.timeoutMs - this.now())
      job.timer = setTimeout(() => void this.run(job, ctx), Math.max(wait, 10))
      job.timer.unref?.()
      return
    }
    if (result.kind === 'pass') job.verdict = { status: 'pass' }
    else {
      const reason = result.reason
      const message =
        result.kind === 'inconclusive'
          ? `${result.message}; no verdict within the gate's timeout ${job.gate.timeoutMs / 1000}s (fail closed)`
          : result.message
      job.verdict = { status: 'fail', gate: job.gate.name, reason, message }
      this.o.metrics?.gateFailure(job.gate.kind, reason)
      this.o.log?.info(
        { scaleSet: job.setKey, gate: job.gate.name, reason, message },
        'Health gate failed',
      )
    }
    this.o.onChange(job.setKey)
  }

  private async check(
    gate: HealthGate,
    ctx: EvalContext,
    signal: AbortSignal,
  ): Promise<CheckResult> {
    switch (gate.kind) {
      case 'prometheus':
        return this.checkPrometheus(gate, ctx, signal)
      case 'cohort':
        return this.checkCohort(gate, ctx, signal)
      case 'webhook':
        return checkWebhook(gate, ctx, signal)
    }
  }

  private async checkPrometheus(
    gate: PrometheusGate,
    ctx: EvalContext,
    signal: AbortSignal,
  ): Promise<CheckResult> {
    const query = renderQuery(gate.query, {
      instance: ctx.candidate?.instanceId ?? '',
      scaleSet: setName(ctx.state),
      version: ctx.rollout.target.imageVersion ?? '',
    })
    const v = await queryValue(gate.serverUrl, query, signal)
    if (v.kind !== 'value') return v
    const ok = compare(v.value, gate.comparison, gate.threshold)
    const message = `${query} = ${v.value}, ${ok ? '' : 'not '}${gate.comparison} ${gate.threshold}`
    return ok ? { kind: 'pass', message } : { kind: 'fail', reason: 'GateThresholdNotMet', message }
  }

  private async checkCohort(
    gate: CohortGate,
    ctx: EvalContext,
    signal: AbortSignal,
  ): Promise<CheckResult> {
    const target = ctx.rollout.target.imageVersion ?? ''
    const from = ctx.candidate?.fromVersion ?? ''
    const vars = (version: string) => ({ scaleSet: setName(ctx.state), version })
    const up = renderQuery(gate.query, vars(target))
    const base = renderQuery(gate.query, vars(from))
    const [u, b] = await Promise.all([
      queryValue(gate.serverUrl, up, signal),
      queryValue(gate.serverUrl, base, signal),
    ])
    if (u.kind !== 'value') return u
    const memo = `${ctx.state.key}|${ctx.rollout.id}|${gate.name}`
    let baseline: number
    let baseNote = ''
    if (b.kind === 'value') {
      baseline = b.value
      this.baselines.set(memo, baseline)
    } else if (b.kind === 'inconclusive' && b.reason === 'GateNoData' && this.baselines.has(memo)) {
      baseline = this.baselines.get(memo) as number
      baseNote = ' (last measured in this rollout)'
    } else if (b.kind === 'inconclusive' && b.reason === 'GateNoData') {
      return {
        kind: 'inconclusive',
        reason: 'GateNoData',
        message: `the baseline cohort (version ${from}) has no data: ${base}`,
      }
    } else return b
    const limit = baseline * (1 + gate.tolerance)
    const ok = cohortPasses(u.value, baseline, gate.tolerance)
    const message = `upgraded cohort (version ${target}) ${u.value} ${ok ? '≤' : '>'} baseline (version ${from}) ${baseline}${baseNote} × (1 + ${gate.tolerance}) = ${limit}; query ${gate.query}`
    return ok ? { kind: 'pass', message } : { kind: 'fail', reason: 'GateCohortRegressed', message }
  }

  private dropExcept(setKey: string, live: ReadonlySet<string>): void {
    for (const [key, job] of this.jobs) {
      if (job.setKey !== setKey || live.has(key)) continue
      this.stop(job)
      this.jobs.delete(key)
    }
  }

  private stop(job: Job): void {
    job.closed = true
    if (job.timer) clearTimeout(job.timer)
    job.abort.abort(new Error('gate evaluation no longer needed'))
  }

  private now(): number {
    return this.o.nowMs ? this.o.nowMs() : Date.now()
  }
}

type EvalContext = Readonly<{
  state: ScaleSetState
  rollout: Rollout
  candidate: GateCandidate | null
  batch: number
}>

function setName(state: ScaleSetState): string {
  return state.spec.name
}

/** Fail wins; all pass passes; else pending. */
function combine(vs: readonly GateVerdict[]): GateVerdict {
  const failed = vs.find((v) => v.status === 'fail')
  if (failed) return failed
  return vs.every((v) => v.status === 'pass') ? { status: 'pass' } : { status: 'pending' }
}

type QueryOutcome =
  | { kind: 'value'; value: number }
  | { kind: 'fail'; reason: GateReason; message: string }
  | { kind: 'inconclusive'; reason: GateReason; message: string }

/**
 * One instant query through Prometheus's HTTP API (`/api/v1/query`): one sample or a scalar is a
 * value; no sample (or NaN) is no data; a 5xx (unavailable, its own query timeout) is asked again;
 * several series, or a refusal (400 bad_data, 422 execution), fail the gate.
 */
export async function queryValue(
  serverUrl: string,
  query: string,
  signal: AbortSignal,
): Promise<QueryOutcome> {
  const url = `${serverUrl.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`
  let res: Response
  try {
    res = await fetch(url, { signal, redirect: 'error' })
  } catch (err) {
    if (signal.aborted)
      return {
        kind: 'fail',
        reason: 'GateTimeout',
        message: `Prometheus at ${serverUrl} did not answer within the gate's timeout`,
      }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    return {
      kind: 'inconclusive',
      reason: 'GateUnreachable',
      message: `Prometheus at ${serverUrl} is unreachable: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
    }
  }
  const text = await res.text().catch(() => '')
  let body: PromAnswer | null = null
  try {
    body = JSON.parse(text) as PromAnswer
  } catch {
    body = null
  }
  if (!body || body.status !== 'success') {
    if (res.status >= 500)
      return {
        kind: 'inconclusive',
        reason: 'GateUnreachable',
        message: `Prometheus at ${serverUrl} answered ${res.status}: ${body?.error ?? text.slice(0, 300)}`,
      }
    return {
      kind: 'fail',
      reason: 'GateQueryFailed',
      message: `Prometheus refused ${query}: ${body?.error ?? `HTTP ${res.status} ${text.slice(0, 300)}`}`,
    }
  }
  const data = body.data
  let raw: string | undefined
  if (data?.resultType === 'scalar') raw = (data.result as [number, string])[1]
  else if (data?.resultType === 'vector') {
    const rows = data.result as { value: [number, string] }[]
    if (rows.length > 1)
      return {
        kind: 'fail',
        reason: 'GateQueryFailed',
        message: `${query} returned ${rows.length} series; a gate needs one value (aggregate it, e.g. with sum or max)`,
      }
    raw = rows[0]?.value[1]
  } else
    return {
      kind: 'fail',
      reason: 'GateQueryFailed',
      message: `${query} returned a ${data?.resultType ?? 'missing'} result; a gate needs a scalar or an instant vector`,
    }
  const value = raw === undefined ? NaN : Number(raw)
  if (Number.isNaN(value))
    return { kind: 'inconclusive', reason: 'GateNoData', message: `${query} returned no data` }
  return { kind: 'value', value }
}

type PromAnswer = {
  status: 'success' | 'error'
  error?: string
  errorType?: string
  data?: { resultType: string; result: unknown }
}

/** A webhook gate: POST of the instance and rollout as JSON; 2xx passes, else fails quoted. */
async function checkWebhook(
  gate: WebhookGate,
  ctx: EvalContext,
  signal: AbortSignal,
): Promise<CheckResult> {
  const body = {
    gate: gate.name,
    scaleSet: { id: ctx.state.key, name: setName(ctx.state) },
    instance: {
      instanceId: ctx.candidate?.instanceId ?? null,
      fromVersion: ctx.candidate?.fromVersion ?? null,
      version: ctx.rollout.target.imageVersion,
    },
    rollout: {
      id: ctx.rollout.id,
      kind: ctx.rollout.kind,
      startedBy: ctx.rollout.startedBy,
      targetVersion: ctx.rollout.target.imageVersion,
      modelGeneration: ctx.rollout.target.modelGeneration,
      batch: ctx.batch,
    },
  }
  let res: Response
  try {
    res = await fetch(gate.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
      redirect: 'manual',
    })
  } catch (err) {
    if (signal.aborted)
      return {
        kind: 'fail',
        reason: 'GateTimeout',
        message: `${gate.url} did not answer within the gate's timeout`,
      }
    const cause = (err as { cause?: { code?: string } }).cause
    return {
      kind: 'inconclusive',
      reason: 'GateUnreachable',
      message: `${gate.url} is unreachable: ${cause?.code ?? (err as Error).message}`,
    }
  }
  const text = (await res.text().catch(() => '')).slice(0, 500)
  if (res.status >= 200 && res.status < 300) return { kind: 'pass', message: `HTTP ${res.status}` }
  return {
    kind: 'fail',
    reason: 'GateWebhookRefused',
    message: `${gate.url} answered HTTP ${res.status}: ${JSON.stringify(text)}`,
  }
}
