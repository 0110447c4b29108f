/**
 * Rollout plans (docs/rollouts.md § Waves across scale sets, docs/api.md § Rollout plans): the
 * subscription-level resource `/subscriptions/{sub}/providers/Osroll.Upgrades/rolloutPlans/{name}`
 * (PUT, PATCH, GET, list, DELETE; actions pause, resume, cancel). The API writes the spec and the
 * controls; the plan's reconciler alone writes its status (runtime/wave-reconciler.ts).
 */
import { AppError, Errors } from '../errors.js'
import { problemsError } from '../arm/arm.js'
import { formatDurationMs } from '../core/duration.js'
import { imageLineKey, isLatest, toArmImageReference } from '../core/image/image-ref.js'
import { problem } from '../core/problem.js'
import type { Problem } from '../core/problem.js'
import { parsePlanBody } from '../core/waves/validate.js'
import { EMPTY_WAVE_STATE } from '../core/waves/wave.js'
import { setsLeaving } from '../core/waves/membership.js'
import type { StageStatus, Wave, WavePlanSpec, WaveReason } from '../core/waves/wave.js'
import type { StoredPlan } from '../store/plan-store.js'
import type { ServiceDeps } from './deps.js'
import type { Caller } from './guards.js'
import { requireNames } from './guards.js'

export const ROLLOUT_PLAN_TYPE = 'Osroll.Upgrades/rolloutPlans'

export type PlanRef = Readonly<{ sub: string; name: string }>
export type PlanDeps = ServiceDeps
type Preconditions = Readonly<{ ifMatch?: string; ifNoneMatch?: string }>

export function planId(ref: PlanRef): string {
  return `/subscriptions/${ref.sub}/providers/${ROLLOUT_PLAN_TYPE}/${ref.name}`
}

/**
 * PUT replaces the spec (201 when created), PATCH merges `properties` members onto it (a stage
 * list is replaced whole). Every refusal changes nothing.
 * @example putPlan(deps, { sub, name: 'web' }, { properties: { imageReference, stages } }, caller, false)
 *   → { created: true, view: { id, name: 'web', type: 'Osroll.Upgrades/rolloutPlans', etag, properties } }
 */
export async function putPlan(
  deps: PlanDeps,
  ref: PlanRef,
  body: unknown,
  caller: Caller | undefined,
  merge: boolean,
  pre: Preconditions = {},
): Promise<{ created: boolean; view: Record<string, unknown> }> {
  requireNames([['rolloutPlan', ref.name, 'name']])
  const id = planId(ref)
  const existing = await deps.plans.getPlan(id.toLowerCase())
  checkPreconditions(existing, pre)
  if (merge && !existing) throw notFound(ref)
  const parsed = parsePlanBody(merge && existing ? mergedBody(existing, body) : body)
  if (!parsed.ok) throw problemsError(parsed.problems)
  const problems = await memberProblems(deps, ref, parsed.spec, parsed.setIds, caller)
  if (problems.length > 0) throw problemsError(problems)
  if (existing?.state.wave?.phase === 'Rolling' && !sameOrder(existing.spec, parsed.spec))
    throw Errors.OperationNotAllowed(
      `The wave of ${existing.state.wave.version} is in flight: the image and the stages' scale sets may change only between waves. Cancel the wave first, or change bake times alone.`,
    )
  const nowMs = deps.clock.nowMs()
  const members = new Set(parsed.spec.stages.flatMap((s) => s.scaleSets))
  const state = existing?.state ?? EMPTY_WAVE_STATE
  const plan: StoredPlan = {
    key: id.toLowerCase(),
    id: existing?.id ?? id,
    name: existing?.name ?? ref.name,
    subscriptionId: ref.sub.toLowerCase(),
    spec: parsed.spec,
    controls: existing?.controls ?? { paused: false, cancelRequested: null },
    // Sets that left the plan are no longer gated by it.
    state: {
      ...state,
      released: Object.fromEntries(Object.entries(state.released).filter(([k]) => members.has(k))),
    },
    createdAtMs: existing?.createdAtMs ?? nowMs,
    updatedAtMs: nowMs,
    revision: existing?.revision ?? 0,
  }
  const saved = await write(() => deps.plans.putPlan(plan, existing ? existing.revision : null))
  deps.notify(saved.key)
  // W3: a set the plan no longer holds rolls on its own again, now (it may have no pass due).
  for (const key of setsLeaving(existing?.spec ?? null, saved.spec)) deps.notify(key)
  return { created: !existing, view: planView(saved) }
}

export async function getPlan(deps: PlanDeps, ref: PlanRef): Promise<Record<string, unknown>> {
  return planView(await requirePlan(deps, ref))
}

export async function listPlans(deps: PlanDeps, sub: string): Promise<Record<string, unknown>> {
  return { value: (await deps.plans.listPlans(sub)).map(planView) }
}

/** DELETE: the plan and its gates go; its sets roll automatically on their own again. */
export async function deletePlan(
  deps: PlanDeps,
  ref: PlanRef,
  pre: Preconditions = {},
): Promise<boolean> {
  const existing = await deps.plans.getPlan(planId(ref).toLowerCase())
  checkPreconditions(existing, pre)
  if (!existing) return false
  await deps.plans.deletePlan(existing.key)
  for (const key of existing.spec.stages.flatMap((s) => s.scaleSets)) deps.notify(key)
  return true
}

export type PlanAction = 'pause' | 'resume' | 'cancel'

/**
 * W7: pause holds the next stage and a new wave; resume lifts it; cancel ends the wave in
 * flight. Each answers the plan (200); resuming a plan not paused, or cancelling with no wave
 * in flight, is 409 `OperationNotAllowed` and changes nothing.
 */
export async function planAction(
  deps: PlanDeps,
  ref: PlanRef,
  action: PlanAction,
): Promise<Record<string, unknown>> {
  for (let i = 0; i < 10; i++) {
    const plan = await requirePlan(deps, ref)
    const wave = plan.state.wave
    const c = plan.controls
    if (action === 'resume' && !c.paused)
      throw Errors.OperationNotAllowed(`The rollout plan '${ref.name}' is not paused.`)
    if (action === 'cancel' && (wave?.phase !== 'Rolling' || c.cancelRequested === wave.version))
      throw Errors.OperationNotAllowed(
        `The rollout plan '${ref.name}' has no wave in flight to cancel.`,
      )
    const controls =
      action === 'cancel'
        ? { ...c, cancelRequested: (wave as Wave).version }
        : { ...c, paused: action === 'pause' }
    try {
      const saved = await deps.plans.putPlan(
        { ...plan, controls, updatedAtMs: deps.clock.nowMs() },
        plan.revision,
      )
      deps.notify(saved.key)
      return planView(saved)
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'RevisionConflict')) throw err
    }
  }
  throw Errors.Conflict(`The rollout plan '${ref.name}' is being changed; try again.`)
}

/** The plan as the API shows it (docs/api.md § Rollout plans). */
export function planView(p: StoredPlan): Record<string, unknown> {
  const wave = p.state.wave
  return {
    id: p.id,
    name: p.name,
    type: ROLLOUT_PLAN_TYPE,
    etag: etagOf(p),
    properties: {
      provisioningState: 'Succeeded',
      imageReference: toArmImageReference(p.spec.image),
      stages: p.spec.stages.map((s) => ({
        name: s.name,
        scaleSets: s.scaleSets,
        bakeTime: formatDurationMs(s.bakeMs),
      })),
      paused: p.controls.paused,
      status: {
        phase: phaseOf(p),
        version: wave?.version ?? null,
        startTime: iso(wave?.startedAtMs ?? null),
        endTime: iso(wave?.endedAtMs ?? null),
        currentStage: wave ? (p.spec.stages[wave.stage]?.name ?? null) : null,
        reason: reasonView(p, wave?.reason ?? null),
        stages: p.spec.stages.map((s, i) => stageView(s, wave?.stages[i] ?? null)),
        history: p.state.history.map((h) => ({
          version: h.version,
          phase: h.phase,
          startTime: iso(h.startedAtMs),
          endTime: iso(h.endedAtMs),
          reason: reasonView(p, h.reason),
        })),
      },
      released: Object.entries(p.state.released).map(([scaleSet, r]) => ({
        scaleSet,
        version: r.version,
        time: iso(r.atMs),
      })),
    },
  }
}

/** `Paused` while paused (even with a stage in flight: it finishes, the next waits). */
function phaseOf(p: StoredPlan): string {
  if (p.controls.paused) return 'Paused'
  const wave = p.state.wave
  if (!wave) return 'Idle'
  if (wave.phase === 'Rolling' && p.controls.cancelRequested === wave.version) return 'Cancelling'
  return wave.phase
}

function stageView(
  s: WavePlanSpec['stages'][number],
  st: StageStatus | null,
): Record<string, unknown> {
  const bakeStart = st?.bakeStartedAtMs ?? null
  return {
    name: s.name,
    phase: st?.phase ?? 'Pending',
    startTime: iso(st?.startedAtMs ?? null),
    bakeStartTime: iso(bakeStart),
    bakeEndTime: iso(bakeStart === null ? null : bakeStart + s.bakeMs),
    endTime: iso(st?.endedAtMs ?? null),
    scaleSets: s.scaleSets.map((key, j) => {
      const set = st?.sets[j]
      return {
        id: key,
        state: set?.state ?? 'Pending',
        rolloutId: set?.rolloutId ?? null,
        reason: set?.reason ? { code: set.reason.code, message: set.reason.message } : null,
      }
    }),
  }
}

function reasonView(p: StoredPlan, r: WaveReason | null): Record<string, unknown> | null {
  if (r === null) return null
  return {
    code: r.code,
    message: r.message,
    stage: r.stage === null ? null : (p.spec.stages[r.stage]?.name ?? null),
    scaleSet: r.scaleSet,
  }
}

/**
 * W1: every member exists, may be used by the caller, follows the plan's image with `latest`
 * and has automatic OS upgrades on, and is in no other plan.
 */
async function memberProblems(
  deps: PlanDeps,
  ref: PlanRef,
  spec: WavePlanSpec,
  ids: readonly string[],
  caller: Caller | undefined,
): Promise<Problem[]> {
  const self = planId(ref).toLowerCase()
  const problems: Problem[] = []
  let n = 0
  for (const [i, stage] of spec.stages.entries())
    for (const [j, key] of stage.scaleSets.entries()) {
      const id = ids[n++] as string
      const at = `properties.stages[${i}].scaleSets[${j}]`
      const sub = (/^\/subscriptions\/([^/]+)/i.exec(id)?.[1] ?? '').toLowerCase()
      if (sub !== ref.sub.toLowerCase() && !(caller?.canRead(sub) ?? false))
        throw Errors.LinkedAuthorizationFailed(
          `The token may write rollout plans in subscription '${ref.sub}'; however, it does not have permission to read the linked scope ${id} (at ${at}), or the linked scope is invalid.`,
          at,
        )
      const state = await deps.store.getScaleSet(key)
      if (!state) {
        problems.push(problem(at, `The scale set ${id} does not exist.`))
        continue
      }
      if (
        imageLineKey(state.spec.image) !== imageLineKey(spec.image) ||
        !isLatest(state.spec.image)
      )
        problems.push(
          problem(
            at,
            `The scale set ${id} does not follow the plan's image with version 'latest'.`,
          ),
        )
      else if (!state.spec.automaticOS.enabled)
        problems.push(
          problem(
            at,
            `The scale set ${id} does not have automatic OS upgrades on: a plan orders the automatic rollouts of its sets.`,
          ),
        )
      const other = await deps.plans.planOfScaleSet(key)
      if (other && other.key !== self)
        problems.push(
          problem(at, `The scale set ${id} is already in the rollout plan ${other.id}.`),
        )
    }
  return problems
}

/** A PATCH: the stored body with the given `properties` members replacing its own. */
function mergedBody(existing: StoredPlan, body: unknown): unknown {
  const stored = planView(existing)['properties'] as Record<string, unknown>
  const given =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)['properties']
      : undefined
  if (typeof given !== 'object' || given === null || Array.isArray(given)) return body
  for (const k of Object.keys(given)) if (k !== 'imageReference' && k !== 'stages') return body // parse refuses it by name
  return {
    properties: {
      imageReference: stored['imageReference'],
      stages: stored['stages'],
      ...(given as Record<string, unknown>),
    },
  }
}

/** Same image and the same sets in the same stages (bake times and names may differ). */
function sameOrder(a: WavePlanSpec, b: WavePlanSpec): boolean {
  return (
    imageLineKey(a.image) === imageLineKey(b.image) &&
    JSON.stringify(a.stages.map((s) => s.scaleSets)) ===
      JSON.stringify(b.stages.map((s) => s.scaleSets))
  )
}

async function requirePlan(deps: PlanDeps, ref: PlanRef): Promise<StoredPlan> {
  const plan = await deps.plans.getPlan(planId(ref).toLowerCase())
  if (!plan) throw notFound(ref)
  return plan
}

function notFound(ref: PlanRef): AppError {
  return Errors.ResourceNotFound(
    `The Resource '${ROLLOUT_PLAN_TYPE}/${ref.name}' under subscription '${ref.sub}' was not found.`,
  )
}

function checkPreconditions(existing: StoredPlan | undefined, pre: Preconditions): void {
  if (pre.ifNoneMatch === '*' && existing)
    throw Errors.PreconditionFailed('The resource exists and If-None-Match is *.')
  if (pre.ifMatch === '*' && !existing)
    throw Errors.PreconditionFailed('The resource does not exist and If-Match is *.')
  if (pre.ifMatch !== undefined && pre.ifMatch !== '*' && etagOf(existing) !== pre.ifMatch)
    throw Errors.PreconditionFailed(
      `The ETag '${pre.ifMatch}' does not match the resource's current ETag.`,
    )
}

/** The etag follows the revision: any write, the reconciler's status included, changes it. */
function etagOf(p: StoredPlan | undefined): string | undefined {
  return p ? `W/"${p.revision}"` : undefined
}

/** A store refusal of a member already in another plan (a race with another PUT) is a 400. */
async function write(fn: () => Promise<StoredPlan>): Promise<StoredPlan> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof AppError && err.code === 'Conflict')
      throw Errors.InvalidParameter(err.message, 'properties.stages')
    throw err
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}
