/**
 * One level-triggered pass over one rollout plan (docs/rollouts.md § Waves across scale sets):
 * read the plan, the newest version of its image and the facts of its sets, let the pure
 * `decideWave` decide, persist the new status (and its events) under the plan's revision, then
 * wake the sets it released so their own triggers run now. The orchestrator runs it under the
 * plan's lease like a set's pass (the plan's key is a key of the same queue), so only one replica
 * writes a plan's status; a crash between the save and the wake only delays the sets until their
 * next pass, which reads the gate from the saved status.
 */
import { compareVersions } from '../core/image/version.js'
import { decideWave } from '../core/waves/wave.js'
import type { SetFacts, WaveNote, WavePlanState } from '../core/waves/wave.js'
import { setFacts } from '../core/waves/set-facts.js'
import type { InstanceObservation, Rollout, RolloutEvent } from '../core/rollout/types.js'
import type { Fabric } from '../fabrics/types/fabric.js'
import type { Store } from '../store/store.js'
import type { PlanStore, StoredPlan } from '../store/plan-store.js'
import { planMembers } from '../store/plan-store.js'
import type { ImageCatalog } from './catalog.js'
import type { Clock } from './clock.js'
import type { Logger } from './logger.js'
import { observe } from './reconciler.js'
import type { GateEvaluator } from './gates.js'
import type { BakeGates, StageSpec, Wave } from '../core/waves/wave.js'
import type { PassResult } from './reconciler.js'

export type WaveReconcilerDeps = Readonly<{
  plans: PlanStore
  store: Store
  fabric: Fabric
  catalog: ImageCatalog
  clock: Clock
  log: Logger
  /** Wakes a scale set's pass (on this replica or the one that drives it). */
  notify: (scaleSetKey: string) => void
  /** How often a plan with a wave in flight looks at its sets again (default 1 s). */
  pollMs?: number
  /**
   * The sets' health gates asked after a stage's bake time (W4, gates included): an evaluator of
   * its own (gates.ts `bakeVerdict`). Without it, no gate is asked after the bake.
   */
  gates?: Pick<GateEvaluator, 'bakeVerdict' | 'forget'>
  metrics?: Readonly<{
    waveStep: (
      planKey: string,
      before: WavePlanState,
      after: WavePlanState,
      notes: readonly WaveNote[],
    ) => void
  }>
}>

const PLAN_KEY = /\/providers\/osroll\.upgrades\/rolloutplans\/[^/]+$/

/** Whether a queue key is a rollout plan's (else it is a scale set's). */
export function isPlanKey(key: string): boolean {
  return PLAN_KEY.test(key)
}

/**
 * Reconciles one plan once.
 * @example await reconcilePlan('/subscriptions/s/providers/osroll.upgrades/rolloutplans/web', deps)
 *   → { wakeAtMs: now + 1000, rollout: null } while a wave is in flight
 */
export async function reconcilePlan(key: string, deps: WaveReconcilerDeps): Promise<PassResult> {
  const plan = await deps.plans.getPlan(key)
  if (!plan) return { wakeAtMs: null, rollout: null }
  const nowMs = deps.clock.nowMs()
  const members = planMembers(plan)
  const states = new Map(
    await Promise.all(members.map(async (k) => [k, await deps.store.getScaleSet(k)] as const)),
  )
  const latest = await latestForPlan(plan, [...states.values()], deps)
  const wave = plan.state.wave
  const version = wave?.phase === 'Rolling' ? wave.version : latest
  const sets: Record<string, SetFacts> = {}
  if (version !== null)
    await Promise.all(
      members.map(async (k) => (sets[k] = await factsOf(plan, k, states, version, deps))),
    )
  const decision = decideWave(
    { spec: plan.spec, state: plan.state, controls: plan.controls, latest, sets },
    nowMs,
  )
  // In flight: poll the sets. Between waves: wake when a version replicates to a set's region
  // (a platform image's publish wakes every plan itself).
  const pollAtMs =
    decision.state.wave?.phase === 'Rolling'
      ? nowMs + (deps.pollMs ?? 1000)
      : await nextEligibility(plan, [...states.values()], deps)
  const wakeAtMs = earliest(decision.wakeAtMs, pollAtMs)
  if (JSON.stringify(decision.state) === JSON.stringify(plan.state))
    return { wakeAtMs, rollout: null }
  // The status first, then its events: an event never tells of a decision that was not saved.
  await deps.plans.putPlan({ ...plan, state: decision.state }, plan.revision)
  await deps.store.appendEvents(decision.notes.map((n) => eventOf(plan, n, nowMs)))
  deps.metrics?.waveStep(plan.key, plan.state, decision.state, decision.notes)
  for (const n of decision.notes)
    deps.log.info(
      { rolloutPlan: plan.key, version: n.version, stage: n.stage, reason: n.kind },
      n.message,
    )
  for (const setKey of decision.released) deps.notify(setKey)
  return { wakeAtMs, rollout: null }
}

/** The gate a set's trigger reads (W3): the version its plan released to it, if it is in one. */
export async function planGateFor(
  plans: PlanStore,
  scaleSetKey: string,
): Promise<{ release: { version: string; atMs: number } | null } | null> {
  const plan = await plans.planOfScaleSet(scaleSetKey)
  if (!plan) return null
  return { release: plan.state.released[scaleSetKey] ?? null }
}

/** W8: the newest version of the plan's image eligible in the region of at least one set. */
async function latestForPlan(
  plan: StoredPlan,
  states: readonly (Awaited<ReturnType<Store['getScaleSet']>> | undefined)[],
  deps: WaveReconcilerDeps,
): Promise<string | null> {
  const locations = new Set(states.flatMap((s) => (s ? [s.spec.location] : [])))
  let best: string | null = null
  for (const location of locations) {
    const v = (await deps.catalog.latestEligible(plan.spec.image, location))?.version ?? null
    if (v !== null && (best === null || compareVersions(v, best) > 0)) best = v
  }
  return best
}

/** When a version of the plan's image not yet eligible in a set's region becomes so. */
async function nextEligibility(
  plan: StoredPlan,
  states: readonly (Awaited<ReturnType<Store['getScaleSet']>> | undefined)[],
  deps: WaveReconcilerDeps,
): Promise<number | null> {
  let next: number | null = null
  for (const location of new Set(states.flatMap((s) => (s ? [s.spec.location] : []))))
    next = earliest(
      next,
      (await deps.catalog.nextEligibilityAtMs?.(plan.spec.image, location)) ?? null,
    )
  return next
}

async function factsOf(
  plan: StoredPlan,
  key: string,
  states: ReadonlyMap<string, Awaited<ReturnType<Store['getScaleSet']>>>,
  version: string,
  deps: WaveReconcilerDeps,
): Promise<SetFacts> {
  const state = states.get(key)
  if (!state) return { exists: false }
  const [views, records, active, [last]] = await Promise.all([
    deps.fabric.listInstances(key),
    deps.store.listInstanceRecords(key),
    deps.store.getActiveRollout(key),
    deps.store.listRollouts(key, { limit: 1 }),
  ])
  const q = state.quarantine?.find((r) => r.version === version)
  const instances = observe(views, records)
  const bakeGates = askBakeGates(plan, key, state, instances, last ?? null, version, deps)
  const facts = setFacts({
    spec: state.spec,
    instances,
    image: plan.spec.image,
    version,
    activeRolloutId: active?.id ?? null,
    faultedVersions: state.faultedVersions,
    fault: q ? { rolloutId: q.rolloutId, message: q.reason?.message ?? null } : null,
    lastRollout: last ?? null,
  })
  return facts.exists && bakeGates !== null ? { ...facts, bakeGates } : facts
}

/**
 * W4, gates included: a set of the stage in flight with per-instance gates is asked again once
 * its stage's stored bake time passed (pending until then, and until they answer); a set no
 * rollout of the version moved (it was on it already) has no rollout to ask them for: null.
 */
function askBakeGates(
  plan: StoredPlan,
  key: string,
  state: NonNullable<Awaited<ReturnType<Store['getScaleSet']>>>,
  instances: readonly InstanceObservation[],
  last: Rollout | null,
  version: string,
  deps: WaveReconcilerDeps,
): BakeGates | null {
  const gates = deps.gates
  const hasGates = (state.healthGates ?? []).some((g) => g.kind !== 'cohort')
  const baked = bakedAtMs(plan.state.wave, plan.spec.stages, key, version)
  const moved =
    last !== null && last.status !== 'RollingForward' && last.target.imageVersion === version
  if (!gates || !hasGates || !moved || baked === null || deps.clock.nowMs() < baked.atMs) {
    gates?.forget(key)
    return gates && hasGates && moved ? { status: 'pending' } : null
  }
  const onVersion = instances.filter((i) => i.osImageVersion === version)
  const v = gates.bakeVerdict(state, last, onVersion, baked.round)
  if (v === null) return null
  if (v.status === 'fail')
    return { status: 'fail', message: `gate '${v.gate}': ${v.reason}: ${v.message}` }
  return { status: v.status }
}

/** When the stored bake of `key`'s stage ends (and its start, the round), while it bakes. */
function bakedAtMs(
  wave: Wave | null,
  stages: readonly StageSpec[],
  key: string,
  version: string,
): { atMs: number; round: number } | null {
  if (wave?.phase !== 'Rolling' || wave.version !== version) return null
  const i = stages.findIndex((s) => s.scaleSets.includes(key))
  const st = wave.stages[i]
  if (i !== wave.stage || st?.phase !== 'Baking' || st.bakeStartedAtMs === null) return null
  return { atMs: st.bakeStartedAtMs + (stages[i]?.bakeMs ?? 0), round: st.bakeStartedAtMs }
}

/** A note as an event of `/events` (kind `wave`): its rollout id is the wave's. */
function eventOf(plan: StoredPlan, n: WaveNote, atMs: number): RolloutEvent {
  return {
    atMs,
    rolloutId: `${plan.key}/waves/${n.version}`,
    scaleSetKey: plan.key,
    instanceId: null,
    from: n.stage === null ? 'Wave' : `Stage ${n.stage}`,
    to: n.kind,
    reason: n.message,
  }
}

function earliest(a: number | null, b: number | null): number | null {
  if (a === null) return b
  if (b === null) return a
  return Math.min(a, b)
}
