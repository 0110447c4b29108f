/**
 * Waves across scale sets (docs/rollouts.md § Waves across scale sets, W1–W9): a rollout plan
 * orders sets into stages, and one *wave* moves one image version through them. `decideWave` is
 * the one decision, read top to bottom like the rules; the runtime feeds it each set's facts
 * (set-facts.ts) and persists what it returns before it wakes the sets it released. The plan
 * only orders: the sets' own automatic triggers roll them, once the plan's gate lets them (W3).
 */
import { compareVersions } from '../image/version.js'
import { HISTORY_KEPT } from './types.js'
import type {
  StageSpec,
  WaveReasonCode,
  WaveReason,
  SetStatus,
  StageStatus,
  Wave,
  WaveSummary,
  Release,
  WavePlanState,
  SetFacts,
  WaveInput,
  WaveNote,
  WaveDecision,
} from './types.js'

import { assertNever, invariant } from '../problem.js'
import { checkWaveInvariants } from './invariants.js'

export type * from './types.js'
export { HISTORY_KEPT } from './types.js'
export { checkWaveInvariants } from './invariants.js'

/**
 * One decision of a plan (W1–W9).
 * @example no wave yet, latest 1.1.0, three stages → wave 1.1.0 Rolling, stage 0 Rolling, its
 *   sets released at `nowMs`: { released: ['…/web-canary'], notes: [WaveStarted, StageStarted] }
 */
export function decideWave(input: WaveInput, nowMs: number): WaveDecision {
  const notes: WaveNote[] = []
  const released: string[] = []
  let state = input.state
  const wave0 = state.wave
  // W7: a cancel ends the wave it names; the stages not reached never start.
  if (wave0?.phase === 'Rolling' && input.controls.cancelRequested === wave0.version) {
    const reason: WaveReason = {
      code: 'CancelledByUser',
      message: `The wave of ${wave0.version} was cancelled; stages not reached will not start.`,
      stage: null,
      scaleSet: null,
    }
    state = { ...state, wave: { ...wave0, phase: 'Cancelled', endedAtMs: nowMs, reason } }
    notes.push({
      kind: 'WaveCancelled',
      version: wave0.version,
      stage: wave0.stage,
      message: reason.message,
    })
    // A newer version waits for the next decision, which reads the sets' facts for it.
    return done(input, state, notes, released, null)
  }
  state = maybeStartWave(state, input, nowMs, notes)
  const wave1 = state.wave
  if (wave1 === null || wave1.phase !== 'Rolling') return done(input, state, notes, released, null)
  const advanced = advance(wave1, input, state.released, nowMs, notes, released)
  state = { ...state, wave: advanced.wave, released: advanced.released }
  return done(input, state, notes, released, advanced.wakeAtMs)
}

/** The version a set's trigger may roll to (W3), or null: none released to it yet. */
export function releaseFor(state: WavePlanState, setKey: string): Release | null {
  return state.released[setKey] ?? null
}

/** An empty status, for a plan just created. */
export const EMPTY_WAVE_STATE: WavePlanState = { wave: null, history: [], released: {} }

/**
 * W2, W8: a new wave starts for the newest version when no wave runs, the last one was for an
 * older version, and the plan is not paused. A version goes through a plan once: a failed or
 * cancelled wave is not started again for the same version.
 */
function maybeStartWave(
  state: WavePlanState,
  input: WaveInput,
  nowMs: number,
  notes: WaveNote[],
): WavePlanState {
  const last = state.wave
  const latest = input.latest
  if (latest === null || input.controls.paused || input.spec.stages.length === 0) return state
  if (last !== null && (last.phase === 'Rolling' || compareVersions(latest, last.version) <= 0))
    return state
  const wave: Wave = {
    version: latest,
    phase: 'Rolling',
    startedAtMs: nowMs,
    endedAtMs: null,
    stage: 0,
    stages: input.spec.stages.map((s) => ({
      phase: 'Pending',
      startedAtMs: null,
      bakeStartedAtMs: null,
      endedAtMs: null,
      sets: s.scaleSets.map((key) => ({ key, state: 'Pending', rolloutId: null, reason: null })),
    })),
    reason: null,
  }
  notes.push({
    kind: 'WaveStarted',
    version: latest,
    stage: null,
    message: `Version ${latest} starts through ${input.spec.stages.length} stage(s).`,
  })
  const history = last === null ? state.history : [summary(last), ...state.history]
  return { ...state, wave, history: history.slice(0, HISTORY_KEPT) }
}

type Advanced = Readonly<{
  wave: Wave
  released: Readonly<Record<string, Release>>
  wakeAtMs: number | null
}>

/**
 * Moves the wave as far as the facts allow now: a stage starts (W2), its sets are checked (W4,
 * W5), it bakes and completes (W4), and the next one starts in the same decision.
 */
function advance(
  start: Wave,
  input: WaveInput,
  releasedBefore: Readonly<Record<string, Release>>,
  nowMs: number,
  notes: WaveNote[],
  releasedNow: string[],
): Advanced {
  let wave = start
  let released = releasedBefore
  // A stage takes two rounds (its start, then its check); each round returns or moves on.
  for (let round = 0; round <= 2 * wave.stages.length; round++) {
    const i = wave.stage
    const stage = wave.stages[i] as StageStatus
    const spec = input.spec.stages[i] as StageSpec
    switch (stage.phase) {
      case 'Pending': {
        if (input.controls.paused) return { wave, released, wakeAtMs: null } // W7
        const next: Record<string, Release> = { ...released }
        for (const key of spec.scaleSets) {
          next[key] = { version: wave.version, atMs: nowMs }
          releasedNow.push(key)
        }
        released = next
        wave = withStage(wave, i, { ...stage, phase: 'Rolling', startedAtMs: nowMs })
        notes.push(
          note(
            'StageStarted',
            wave,
            i,
            `Stage '${spec.name}' starts: ${spec.scaleSets.length} set(s).`,
          ),
        )
        continue
      }
      case 'Rolling':
      case 'Baking': {
        const checked = checkStage(wave, i, input, nowMs, notes)
        wave = checked.wave
        if (checked.wakeAtMs !== 'completed') return { wave, released, wakeAtMs: checked.wakeAtMs }
        if (wave.phase !== 'Rolling') return { wave, released, wakeAtMs: null }
        continue
      }
      case 'Completed':
      case 'Failed':
        invariant(false, `wave ${wave.version}: stage ${i} is ${stage.phase} but still current`)
        break
      default:
        return assertNever(stage.phase)
    }
  }
  invariant(false, `wave ${wave.version}: did not settle in ${2 * wave.stages.length + 1} rounds`)
}

/**
 * One stage in flight: each set's progress, then the stage's. Returns 'completed' when the
 * stage completed (and the wave moved on or succeeded), else when to wake for the bake's end.
 */
function checkStage(
  wave0: Wave,
  i: number,
  input: WaveInput,
  nowMs: number,
  notes: WaveNote[],
): StageCheck {
  const stage = wave0.stages[i] as StageStatus
  const spec = input.spec.stages[i] as StageSpec
  const sets = stage.sets.map((s) => setStatus(s, input.sets[s.key], i))
  const failed = sets.find((s) => s.state === 'Failed')
  if (failed) return failStage(wave0, i, sets, failed.reason as WaveReason, nowMs, notes)
  const allUpgraded = sets.every((s) => s.state === 'Upgraded')
  if (!allUpgraded) {
    // W4: the bake counts only while every set stays upgraded; a set moving again restarts it.
    if (stage.phase === 'Baking')
      notes.push(
        note(
          'BakeRestarted',
          wave0,
          i,
          `Stage '${spec.name}': a set is moving again; the bake restarts once it is done.`,
        ),
      )
    const next = { ...stage, sets, phase: 'Rolling' as const, bakeStartedAtMs: null }
    return { wave: withStage(wave0, i, next), wakeAtMs: null }
  }
  const bakeStartedAtMs = stage.bakeStartedAtMs ?? nowMs
  if (stage.phase !== 'Baking')
    notes.push(
      note('StageBaking', wave0, i, `Stage '${spec.name}' upgraded; baking for ${spec.bakeMs} ms.`),
    )
  const bakedAtMs = bakeStartedAtMs + spec.bakeMs
  const baking = { ...stage, sets, phase: 'Baking' as const, bakeStartedAtMs }
  if (nowMs < bakedAtMs) return { wave: withStage(wave0, i, baking), wakeAtMs: bakedAtMs }
  // W4, gates included: once baked, the stage completes only when every set's gates pass.
  const gated = bakeGateCheck(sets, input, i)
  if (gated.failed) {
    const failedSets = sets.map((s) => (s.key === gated.failed?.key ? gated.failed : s))
    return failStage(wave0, i, failedSets, gated.failed.reason as WaveReason, nowMs, notes)
  }
  if (gated.pending) return { wave: withStage(wave0, i, baking), wakeAtMs: null }
  return completeStage(withStage(wave0, i, baking), i, spec, nowMs, notes)
}

type StageCheck = { wave: Wave; wakeAtMs: number | null | 'completed' }

/** W5: the stage in flight failed, with the reason of one of its sets: so does the wave. */
function failStage(
  wave0: Wave,
  i: number,
  sets: readonly SetStatus[],
  reason: WaveReason,
  nowMs: number,
  notes: WaveNote[],
): StageCheck {
  const stage = wave0.stages[i] as StageStatus
  const wave = withStage(wave0, i, { ...stage, sets, phase: 'Failed', endedAtMs: nowMs })
  notes.push(note('WaveFailed', wave, i, reason.message))
  return { wave: { ...wave, phase: 'Failed', endedAtMs: nowMs, reason }, wakeAtMs: null }
}

/** W2: a stage baked (gates included) completes; the next one starts, or the wave succeeded. */
function completeStage(
  wave0: Wave,
  i: number,
  spec: StageSpec,
  nowMs: number,
  notes: WaveNote[],
): StageCheck {
  const stage = wave0.stages[i] as StageStatus
  let wave = withStage(wave0, i, { ...stage, phase: 'Completed', endedAtMs: nowMs })
  notes.push(note('StageCompleted', wave, i, `Stage '${spec.name}' completed and baked.`))
  if (i + 1 < wave.stages.length) return { wave: { ...wave, stage: i + 1 }, wakeAtMs: 'completed' }
  wave = { ...wave, phase: 'Succeeded', endedAtMs: nowMs }
  notes.push(note('WaveSucceeded', wave, null, `Version ${wave.version} went through every stage.`))
  return { wave, wakeAtMs: 'completed' }
}

/** W4, W5: one set of the stage in flight, from its facts (absent facts: not found). */
function setStatus(s: SetStatus, facts: SetFacts | undefined, stage: number): SetStatus {
  const fail = (code: WaveReasonCode, message: string): SetStatus => ({
    ...s,
    state: 'Failed',
    rolloutId: null,
    reason: { code, message, stage, scaleSet: s.key },
  })
  if (facts === undefined || !facts.exists)
    return fail('ScaleSetNotFound', `The scale set ${s.key} no longer exists.`)
  if (!facts.followsImage)
    return fail(
      'ScaleSetLeftPlanImage',
      `The scale set ${s.key} no longer follows the plan's image with 'latest' and automatic OS upgrades on.`,
    )
  if (facts.faulted !== null) return fail('ScaleSetRolloutFaulted', facts.faulted.message)
  if (facts.rolloutId !== null)
    return { ...s, state: 'Rolling', rolloutId: facts.rolloutId, reason: null }
  // W5: instances a hook skipped stay behind; retries ask the same hook, so the wave would wait
  // forever: it ends, naming them.
  if (facts.skipped !== null && facts.behind > 0)
    return fail(
      'ScaleSetInstancesSkipped',
      `The rollout ${facts.skipped.rolloutId} of ${s.key} ended with instance(s) ${facts.skipped.instanceIds.join(', ')} skipped by its pre-reimage hook: they stay on their version, so the set is not upgraded.`,
    )
  if (facts.behind > 0) return { ...s, state: 'Rolling', rolloutId: null, reason: null }
  if (facts.unhealthy !== null) return fail('ScaleSetUnhealthy', facts.unhealthy)
  return { ...s, state: 'Upgraded', rolloutId: null, reason: null }
}

/** W4: the sets' gates asked after the bake: the first that failed, or whether any is pending. */
function bakeGateCheck(
  sets: readonly SetStatus[],
  input: WaveInput,
  stage: number,
): { failed: SetStatus | null; pending: boolean } {
  let pending = false
  for (const s of sets) {
    const f = input.sets[s.key]
    const g = f?.exists ? (f.bakeGates ?? null) : null
    if (g?.status === 'pending') pending = true
    if (g?.status === 'fail')
      return {
        failed: {
          ...s,
          state: 'Failed',
          rolloutId: null,
          reason: {
            code: 'ScaleSetGateFailed',
            message: `The scale set ${s.key} failed its health gates after the bake: ${g.message}`,
            stage,
            scaleSet: s.key,
          },
        },
        pending: false,
      }
  }
  return { failed: null, pending }
}

function done(
  input: WaveInput,
  state: WavePlanState,
  notes: readonly WaveNote[],
  released: readonly string[],
  wakeAtMs: number | null,
): WaveDecision {
  checkWaveInvariants(input.spec, state)
  return { state, notes, released, wakeAtMs }
}

function withStage(w: Wave, i: number, stage: StageStatus): Wave {
  return { ...w, stages: w.stages.map((s, j) => (j === i ? stage : s)) }
}

function note(kind: WaveNote['kind'], w: Wave, stage: number | null, message: string): WaveNote {
  return { kind, version: w.version, stage, message }
}

function summary(w: Wave): WaveSummary {
  return {
    version: w.version,
    phase: w.phase,
    startedAtMs: w.startedAtMs,
    endedAtMs: w.endedAtMs,
    reason: w.reason,
  }
}
