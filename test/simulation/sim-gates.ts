/**
 * Health gates in the simulator (docs/controls.md § Health gates): a deterministic gate source on
 * the virtual clock in place of Prometheus and webhooks, giving the core the same kind of inputs
 * the runtime's evaluator does. Per target version, a gate passes (after one evaluation interval),
 * fails at once, times out, or loses its server (inconclusive until its timeout, then fails
 * closed). It remembers every verdict it handed out, for the invariant of gate-invariant.ts.
 */
import type { GateInputs, GateReason, GateVerdict } from '../../src/core/gates/gates.js'
import { gateCandidates } from '../../src/core/gates/gates.js'
import type { InstanceObservation, Rollout } from '../../src/core/rollout/types.js'
import type { GateSource } from '../../src/runtime/gates.js'
import type { ScaleSetState } from '../../src/store/store.js'

export type SimGateOutcome = 'pass' | 'fail' | 'timeout' | 'down'

export type SimGatePlan = Readonly<{
  /** Per-instance gates (prometheus, webhook). */
  instance: boolean
  /** Per-batch cohort gates. */
  cohort: boolean
  intervalMs: number
  timeoutMs: number
  /** By target version; a version not named passes. */
  outcomes: Readonly<Record<string, SimGateOutcome>>
}>

export class SimGates implements GateSource {
  private readonly firstAsked = new Map<string, number>()
  /** Every verdict handed out, by `rollout|i|attempt` or `rollout|b|batch`: the last one. */
  readonly handed = new Map<string, GateVerdict['status']>()

  constructor(
    private readonly plan: SimGatePlan,
    private readonly nowMs: () => number,
  ) {}

  inputs(
    _state: ScaleSetState,
    rollout: Rollout,
    instances: readonly InstanceObservation[],
  ): GateInputs {
    const c = gateCandidates(rollout, instances)
    const outcome = this.plan.outcomes[rollout.target.imageVersion ?? ''] ?? 'pass'
    const insts: Record<string, GateVerdict> = {}
    const batches: Record<string, GateVerdict> = {}
    if (this.plan.instance)
      for (const cand of c.instances) {
        const key = `${rollout.id}|i|${cand.attemptId}`
        insts[cand.attemptId] = this.verdict(key, outcome, 'instance', cand.instanceId)
      }
    if (this.plan.cohort && c.batch) {
      const key = `${rollout.id}|b|${c.batch.batch}`
      batches[String(c.batch.batch)] = this.verdict(key, outcome, 'cohort', null)
    }
    return {
      instanceGates: this.plan.instance,
      cohortGates: this.plan.cohort,
      instances: insts,
      batches,
    }
  }

  /** The next instant a pending verdict changes, for the harness's clock. */
  nextAtMs(now: number): number | null {
    let next: number | null = null
    for (const [key, at] of this.firstAsked) {
      if (this.handed.get(key) !== 'pending') continue
      for (const t of [at + this.plan.intervalMs, at + this.plan.timeoutMs])
        if (t > now && (next === null || t < next)) next = t
    }
    return next
  }

  private verdict(
    key: string,
    outcome: SimGateOutcome,
    kind: 'instance' | 'cohort',
    instanceId: string | null,
  ): GateVerdict {
    const now = this.nowMs()
    const first = this.firstAsked.get(key) ?? now
    this.firstAsked.set(key, first)
    const v = judge(this.plan, outcome, kind, instanceId, now - first)
    this.handed.set(key, v.status)
    return v
  }
}

/**
 * W4 of docs/rollouts.md § Waves across scale sets, gates included: the simulator's stand-in for
 * the runtime evaluator's `bakeVerdict`, the per-instance gates asked again after a stage's bake.
 * By the rollout's target version, as SimGates (the interval counts from the first ask after the
 * bake); a set without a per-instance gate stored has none (null), as in the runtime.
 */
export class SimBakeGates {
  private readonly firstAsked = new Map<string, number>()

  constructor(
    private readonly plan: Omit<SimGatePlan, 'instance' | 'cohort'>,
    private readonly nowMs: () => number,
  ) {}

  bakeVerdict(
    state: ScaleSetState,
    rollout: Rollout,
    instances: readonly InstanceObservation[],
    round: number,
  ): GateVerdict | null {
    if (!(state.healthGates ?? []).some((g) => g.kind !== 'cohort')) return null
    const outcome = this.plan.outcomes[rollout.target.imageVersion ?? ''] ?? 'pass'
    const now = this.nowMs()
    const vs = instances.map((i) => {
      const key = `${state.key}|${rollout.id}|bake|${round}|${i.instanceId}`
      const first = this.firstAsked.get(key) ?? now
      this.firstAsked.set(key, first)
      return judge(this.plan, outcome, 'instance', i.instanceId, now - first)
    })
    return (
      vs.find((v) => v.status === 'fail') ??
      vs.find((v) => v.status === 'pending') ?? { status: 'pass' }
    )
  }

  forget(setKey: string): void {
    for (const key of [...this.firstAsked.keys()])
      if (key.startsWith(`${setKey}|`)) this.firstAsked.delete(key)
  }
}

function judge(
  plan: Pick<SimGatePlan, 'intervalMs' | 'timeoutMs'>,
  outcome: SimGateOutcome,
  kind: 'instance' | 'cohort',
  instanceId: string | null,
  elapsedMs: number,
): GateVerdict {
  const gate = kind === 'cohort' ? 'errors' : 'latency'
  const failed = (reason: GateReason, message: string): GateVerdict => ({
    status: 'fail',
    gate,
    reason,
    message,
  })
  switch (outcome) {
    case 'pass':
      return elapsedMs >= plan.intervalMs ? { status: 'pass' } : { status: 'pending' }
    case 'fail':
      return kind === 'cohort'
        ? failed('GateCohortRegressed', 'upgraded cohort 0.5 > baseline 0.01 × (1 + 0.2) = 0.012')
        : failed('GateThresholdNotMet', `latency of instance ${instanceId} = 0.9, not <= 0.25`)
    case 'timeout':
      return elapsedMs >= plan.timeoutMs
        ? failed('GateTimeout', 'Prometheus did not answer within the gate timeout')
        : { status: 'pending' }
    case 'down':
      return elapsedMs >= plan.timeoutMs
        ? failed('GateUnreachable', 'Prometheus is unreachable: ECONNREFUSED (fail closed)')
        : { status: 'pending' }
  }
}
