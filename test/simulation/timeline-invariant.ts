/**
 * The simulator's check of the per-instance timeline (docs/rollouts.md § Per-instance timeline),
 * after every step: every ended attempt's timeline is in time order, starts with its request at
 * the attempt's start (only deferral steps before it) and ends with its outcome when it ended.
 * Every reason recorded (events, the rollout's error, instances' failures) is in the reason
 * catalogue. Only rollouts whose revision moved since the last check are rebuilt, so it stays cheap.
 */
import { lastOutcomeStep, OUTCOME_STEPS, rolloutTimeline } from '../../src/core/rollout/timeline.js'
import type { Attempt, Rollout, RolloutEvent } from '../../src/core/rollout/types.js'
import { TERMINAL_ATTEMPT_STATES } from '../../src/core/rollout/types.js'
import { reasonCode } from '../../src/core/rollout/reasons.js'

const BEFORE_REQUEST = new Set(['upgradePending', 'approved'])

export class TimelineInvariant {
  private readonly checked = new Map<string, number>()

  constructor(private readonly violations: string[]) {}

  async check(
    nowMs: number,
    rollouts: readonly Rollout[],
    listEvents: (rolloutId: string) => Promise<readonly RolloutEvent[]>,
  ): Promise<void> {
    for (const r of rollouts) {
      if (this.checked.get(r.id) === r.revision) continue
      this.checked.set(r.id, r.revision)
      const events = await listEvents(r.id)
      // Typed reasons everywhere (docs/rollouts.md § Reason catalogue).
      const recorded = [
        ...events.map((e) => e.reason),
        ...(r.error ? [r.error.code] : []),
        ...r.attempts.flatMap((a) => (a.failure ? [a.failure.reason] : [])),
      ]
      for (const reason of new Set(recorded))
        if (reasonCode(reason) === null)
          this.violations.push(
            `t=${nowMs}ms: rollout ${r.id}: reason '${reason}' is not catalogued`,
          )
      const t = rolloutTimeline(r, events)
      for (const [i, a] of r.attempts.entries()) {
        if (!TERMINAL_ATTEMPT_STATES.has(a.state)) continue
        const problem = problemOf(a, t.instances[i]!.steps)
        if (problem)
          this.violations.push(`t=${nowMs}ms: rollout ${r.id} ${a.instanceId}: ${problem}`)
      }
    }
  }
}

function problemOf(
  a: Attempt,
  steps: ReturnType<typeof rolloutTimeline>['instances'][number]['steps'],
): string | null {
  for (let i = 1; i < steps.length; i++)
    if (steps[i]!.atMs < steps[i - 1]!.atMs)
      return `timeline out of time order at ${steps[i]!.step}`
  const first = steps.find((s) => !BEFORE_REQUEST.has(s.step))
  if (first?.step !== 'requested' || first.atMs !== a.startedAtMs)
    return `timeline starts with ${first?.step ?? 'nothing'}, not the request at ${a.startedAtMs}`
  const last = lastOutcomeStep(steps)
  if (!last || last.step !== OUTCOME_STEPS[a.state] || last.atMs !== a.endedAtMs)
    return `timeline ends with ${last?.step ?? 'nothing'} at ${last?.atMs}, not ${a.state} at ${a.endedAtMs}`
  return null
}
