/**
 * The types of waves across scale sets (docs/rollouts.md § Waves across scale sets): a plan's
 * spec and controls, a wave's status, a set's facts, and what one decision returns. The decision
 * itself is wave.ts, which re-exports these.
 */
import type { ImageReference } from '../image/image-ref.js'

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
