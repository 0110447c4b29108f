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
  GateVerdict,
  HealthGate,
  PrometheusGate,
} from '../core/gates/gates.js'
import { cohortPasses, compare, gateCandidates, renderQuery } from '../core/gates/gates.js'
import type { InstanceObservation, Rollout } from '../core/rollout/types.js'
import type { ScaleSetState } from '../store/store.js'
import type { Logger } from './logger.js'
import { checkWebhook, combine, queryValue, setName } from './gate-queries.js'
import type { CheckResult, EvalContext } from './gate-queries.js'

export { queryValue } from './gate-queries.js'
export type { CheckResult } from './gate-queries.js'

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
