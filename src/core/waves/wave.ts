/**
 * Waves across scale sets (docs/rollouts.md § Waves across scale sets, W1–W9): a rollout plan
 * orders sets into stages, and one *wave* moves one image version through them. `decideWave` is
 * the one decision, read top to bottom like the rules; the runtime feeds it each set's facts
 * (set-facts.ts) and persists what it returns before it wakes the sets it released. The plan
 * only orders: the sets' own automatic triggers roll them, once the plan's gate lets them (W3).
 */
import { compareVersions } from '../image/version.js'
import type { ImageReference } from '../image/image-ref.js'
import { assertNever, invariant } from '../problem.js'

/** One stage: the sets it releases together, and how long they must stay healthy after. */
export type StageSpec = Readonly<{ name: string; scaleSets: readonly string[]; bakeMs: number }>

/** What the API writes: the image line the plan follows and its stages, in order. */
export type WavePlanSpec = Readonly<{ image: ImageReference; stages: readonly StageSpec[] }>

/** What the API writes besides the spec: the pause and cancel requests of W7. */
export type WaveControls = Readonly<{
  paused: boolean
  /** The version whose wave a cancel asked to stop (null: none asked). */
  cancelRequested: string | null
}>

export type SetProgress = 'Pending' | 'Rolling' | 'Upgraded' | 'Failed'
export type StagePhase = 'Pending' | 'Rolling' | 'Baking' | 'Completed' | 'Failed'
export type WavePhase = 'Rolling' | 'Succeeded' | 'Failed' | 'Cancelled'

/** Typed reasons a wave stops (W5), and the cancel of W7. */
export type WaveReasonCode =
  | 'ScaleSetNotFound'
  | 'ScaleSetLeftPlanImage'
  | 'ScaleSetRolloutFaulted'
  | 'ScaleSetUnhealthy'
  | 'ScaleSetInstancesSkipped'
  | 'ScaleSetGateFailed'
  | 'CancelledByUser'

export type WaveReason = Readonly<{
  code: WaveReasonCode
  message: string
  /** Index of the stage that failed (null for a cancel between stages). */
  stage: number | null
  scaleSet: string | null
}>

export type SetStatus = Readonly<{
  key: string
  state: SetProgress
  /** The rollout that moves it now, if any. */
  rolloutId: string | null
  reason: WaveReason | null
}>

export type StageStatus = Readonly<{
  phase: StagePhase
  startedAtMs: number | null
  /** When every set of the stage was upgraded and healthy: the bake runs from here. */
  bakeStartedAtMs: number | null
  endedAtMs: number | null
  sets: readonly SetStatus[]
}>

export type Wave = Readonly<{
  version: string
  phase: WavePhase
  startedAtMs: number
  endedAtMs: number | null
  /** Index of the stage in flight (or the last one reached). */
  stage: number
  stages: readonly StageStatus[]
  reason: WaveReason | null
}>

export type WaveSummary = Readonly<{
  version: string
  phase: WavePhase
  startedAtMs: number
  endedAtMs: number | null
  reason: WaveReason | null
}>

/** What a set's trigger may roll to (W3): the newest version the plan released to its stage. */
export type Release = Readonly<{ version: string; atMs: number }>

/** The status the reconciler writes. */
export type WavePlanState = Readonly<{
  /** The running wave, else the last one; null before the first. */
  wave: Wave | null
  /** Earlier waves, newest first, at most `HISTORY_KEPT`. */
  history: readonly WaveSummary[]
  released: Readonly<Record<string, Release>>
}>

export const HISTORY_KEPT = 10

/** A set as the wave sees it for its version (set-facts.ts builds it). */
export type SetFacts = Readonly<
  | { exists: false }
  | {
      exists: true
      /** Still follows the plan's image line with `latest` and automatic OS upgrades on. */
      followsImage: boolean
      /** A rollout running on it now. */
      rolloutId: string | null
      /** The wave's version faulted a rollout of this set (it is quarantined there). */
      faulted: Readonly<{ rolloutId: string | null; message: string }> | null
      /** Instances an OS rollout would still move to the version. */
      behind: number
      /**
       * The set's last rollout, to the wave's version, ended with instances its pre-reimage hook
       * skipped that are still behind (null: none). Its next rollout would ask the same hook.
       */
      skipped: Readonly<{ rolloutId: string; instanceIds: readonly string[] }> | null
      /** Null when healthy; else why not, in words (W4: the seam health gates plug into). */
      unhealthy: string | null
      /**
       * W4, gates included: the verdict of the set's health gates asked again once its stage's
       * bake time passed (pending until the runtime has asked and heard); absent or null: the set
       * has no gate to ask.
       */
      bakeGates?: BakeGates | null
    }
>

export type BakeGates = Readonly<
  { status: 'pending' } | { status: 'pass' } | { status: 'fail'; message: string }
>

export type WaveInput = Readonly<{
  spec: WavePlanSpec
  state: WavePlanState
  controls: WaveControls
  /** The newest version of the plan's image eligible for at least one of its sets. */
  latest: string | null
  /** Facts of the sets of the stage in flight (others are not read). */
  sets: Readonly<Record<string, SetFacts>>
}>

/** What happened, for `/events`, metrics and logs. */
export type WaveNote = Readonly<{
  kind:
    | 'WaveStarted'
    | 'StageStarted'
    | 'StageBaking'
    | 'BakeRestarted'
    | 'StageCompleted'
    | 'WaveSucceeded'
    | 'WaveFailed'
    | 'WaveCancelled'
  version: string
  stage: number | null
  message: string
}>

export type WaveDecision = Readonly<{
  state: WavePlanState
  notes: readonly WaveNote[]
  /** Sets released by this decision: the runtime wakes them so their trigger runs now. */
  released: readonly string[]
  /** When to decide again even if nothing changes (a bake's end); null: poll or a change. */
  wakeAtMs: number | null
}>

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
): { wave: Wave; wakeAtMs: number | null | 'completed' } {
  const stage = wave0.stages[i] as StageStatus
  const spec = input.spec.stages[i] as StageSpec
  const sets = stage.sets.map((s) => setStatus(s, input.sets[s.key], i))
  const failed = sets.find((s) => s.state === 'Failed')
  if (failed) {
    const reason = failed.reason as WaveReason
    const wave = withStage(wave0, i, { ...stage, sets, phase: 'Failed', endedAtMs: nowMs })
    notes.push(note('WaveFailed', wave, i, reason.message))
    return { wave: { ...wave, phase: 'Failed', endedAtMs: nowMs, reason }, wakeAtMs: null }
  }
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
  if (nowMs < bakedAtMs) {
    const next = { ...stage, sets, phase: 'Baking' as const, bakeStartedAtMs }
    return { wave: withStage(wave0, i, next), wakeAtMs: bakedAtMs }
  }
  // W4, gates included: once baked, the stage completes only when every set's gates pass.
  const gated = bakeGateCheck(sets, input, i)
  if (gated.failed) {
    const failedSets = sets.map((s) => (s.key === gated.failed?.key ? gated.failed : s))
    const reason = gated.failed.reason as WaveReason
    const wave = withStage(wave0, i, {
      ...stage,
      sets: failedSets,
      phase: 'Failed',
      endedAtMs: nowMs,
    })
    notes.push(note('WaveFailed', wave, i, reason.message))
    return { wave: { ...wave, phase: 'Failed', endedAtMs: nowMs, reason }, wakeAtMs: null }
  }
  if (gated.pending) {
    const next = { ...stage, sets, phase: 'Baking' as const, bakeStartedAtMs }
    return { wave: withStage(wave0, i, next), wakeAtMs: null }
  }
  let wave = withStage(wave0, i, {
    ...stage,
    sets,
    phase: 'Completed',
    bakeStartedAtMs,
    endedAtMs: nowMs,
  })
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
