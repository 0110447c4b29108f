/**
 * The invariants of a wave (docs/rollouts.md § Waves across scale sets, W2, W5, W6), asserted by
 * every decision (wave.ts) and by the tests after every step.
 */
import { invariant } from '../problem.js'
import type { StageSpec, StageStatus, WavePlanSpec, WavePlanState } from './types.js'

/**
 * The invariants of W2, W5 and W6, asserted on every decision (and by the tests after every
 * step): stages before the one in flight completed and baked, in order; no stage after it
 * started; a failed stage is the last one reached; a released set is in the plan.
 * @example a wave with stage 1 Rolling and stage 0 Baking → InvariantError
 */
export function checkWaveInvariants(spec: WavePlanSpec, state: WavePlanState): void {
  const w = state.wave
  if (w === null) return
  invariant(
    w.stages.length === spec.stages.length,
    `wave ${w.version}: stages differ from the plan`,
  )
  for (let i = 0; i < w.stages.length; i++) {
    const st = w.stages[i] as StageStatus
    const sp = spec.stages[i] as StageSpec
    if (i < w.stage) {
      invariant(
        st.phase === 'Completed',
        `wave ${w.version}: stage ${i} before ${w.stage} is ${st.phase}`,
      )
      const next = w.stages[i + 1] as StageStatus
      invariant(
        next.startedAtMs === null || (st.endedAtMs !== null && next.startedAtMs >= st.endedAtMs),
        `wave ${w.version}: stage ${i + 1} started before stage ${i} ended`,
      )
    }
    if (st.phase === 'Completed') {
      invariant(
        st.bakeStartedAtMs !== null &&
          st.endedAtMs !== null &&
          st.endedAtMs >= st.bakeStartedAtMs + sp.bakeMs,
        `wave ${w.version}: stage ${i} completed before it baked`,
      )
    }
    if (i > w.stage)
      invariant(
        st.phase === 'Pending' && st.startedAtMs === null,
        `wave ${w.version}: stage ${i} after ${w.stage} started`,
      )
  }
  const current = w.stages[w.stage] as StageStatus
  if (w.phase === 'Failed')
    invariant(
      current.phase === 'Failed',
      `wave ${w.version} failed with stage ${w.stage} ${current.phase}`,
    )
  if (w.phase === 'Succeeded')
    invariant(
      w.stage === w.stages.length - 1 && current.phase === 'Completed',
      `wave ${w.version} succeeded early`,
    )
  const members = new Set(spec.stages.flatMap((s) => s.scaleSets))
  for (const key of Object.keys(state.released))
    invariant(members.has(key), `released set ${key} is not in the plan`)
}
