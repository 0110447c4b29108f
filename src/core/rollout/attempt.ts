/**
 * One instance's way through a batch (docs/rollouts.md R4): reimage (or in-place update, or surge)
 * →
 * wait for healthy until the deadline → succeeded, or failed and restored. `advanceAttempt`
 * moves one attempt as far as the observation allows and says which idempotent action keeps it
 * converging; it is called on every pass, so a crash between "decide" and "act" only repeats an
 * idempotent action.
 */
import { formatDurationMs } from '../duration.js'
import { verdict } from '../health/verdict.js'
import { failureMessage } from './messages.js'
import { gateFailureMessage, gateVerdictOf } from '../gates/gates.js'
import type { GateInputs } from '../gates/gates.js'
import { answerFor, decideHook, hookProgress } from './hooks.js'
import type { HookAnswer } from './hooks.js'
import type {
  Action,
  Attempt,
  EffectFailure,
  FailureReason,
  HookRecord,
  InstanceObservation,
  Rollout,
  RolloutEvent,
} from './types.js'
import { TERMINAL_ATTEMPT_STATES } from './types.js'
import { applyAction, hookCall, hookReason, reasonOf } from './attempt-actions.js'

export type AttemptContext = Readonly<{
  rollout: Rollout
  nowMs: number
  observe: (instanceId: string) => InstanceObservation | undefined
  failuresOf: (instanceId: string) => readonly EffectFailure[]
  /** The health gates' verdicts (docs/controls.md § Health gates); absent or null: no gates. */
  gates?: GateInputs | null
  /** Lifecycle hooks' answers since the last pass (docs/rollouts.md § Lifecycle hooks). */
  answers?: readonly HookAnswer[]
}>

/** The hook answer a hop decided on, for its event. */
type Noted = { record: HookRecord | null }

export type Advanced = { attempt: Attempt; actions: Action[]; events: RolloutEvent[] }

/**
 * Advances one attempt; at most a few hops per pass (e.g. Reimaging → WaitingHealth → Succeeded).
 * @example an attempt `Reimaging` whose instance now reports the target version, running and
 *   healthy, comes back `Succeeded` with a `release` action for the previous disk.
 */
export function advanceAttempt(a: Attempt, ctx: AttemptContext): Advanced {
  const out: Advanced = { attempt: a, actions: [], events: [] }
  for (let hop = 0; hop < 4; hop++) {
    const noted: Noted = { record: null }
    const next = step(out.attempt, ctx, out.actions, noted)
    if (next === out.attempt) break
    const booted = next.state === 'WaitingHealth' ? bootedAtOf(next, ctx) : null
    const failed = next.failure && next.state !== out.attempt.state && isFailure(next.state)
    out.events.push({
      atMs: ctx.nowMs,
      rolloutId: ctx.rollout.id,
      scaleSetKey: ctx.rollout.scaleSetKey,
      instanceId: a.instanceId,
      from: out.attempt.state,
      to: next.state,
      reason: failed
        ? (next.failure?.reason ?? 'Failed')
        : noted.record
          ? hookReason(noted.record)
          : next.state === 'Succeeded' && gateVerdictOf(next, ctx.gates) !== null
            ? 'HealthyAndGatesPassed'
            : reasonOf(next),
      ...(booted !== null ? { bootedAtMs: booted } : {}),
      ...(noted.record ? { hook: noted.record } : {}),
    })
    out.attempt = next
  }
  const noted = noteHealthySince(out.attempt, ctx)
  if (noted !== out.attempt) out.events.push(firstHealthy(noted, ctx))
  out.attempt = noted
  if (TERMINAL_ATTEMPT_STATES.has(out.attempt.state)) converge(out.attempt, ctx, out.actions)
  return out
}

function step(a: Attempt, ctx: AttemptContext, actions: Action[], noted: Noted): Attempt {
  if (TERMINAL_ATTEMPT_STATES.has(a.state)) return a
  const obs = ctx.observe(a.instanceId)
  // Deleted (scale-in) while in the batch: not counted, so no failure either — even one seen
  // before, while it was being rolled back (seed 11245).
  if (!obs) return { ...a, state: 'Removed', endedAtMs: ctx.nowMs, failure: null }
  switch (a.state) {
    case 'Reimaging':
    case 'Updating':
      return onApplying(a, obs, ctx, actions)
    case 'Surging':
      return onSurging(a, ctx, actions)
    case 'PreReimage':
      return onPreReimage(a, ctx, actions, noted)
    case 'PostHealthy':
      return onPostHealthy(a, ctx, actions, noted)
    case 'WaitingHealth':
      return onWaitingHealth(a, obs, ctx)
    case 'RollingBack':
      return onRollingBack(a, obs, ctx, actions)
    default:
      return a
  }
}

function onApplying(
  a: Attempt,
  obs: InstanceObservation,
  ctx: AttemptContext,
  actions: Action[],
): Attempt {
  const { rollout: r, nowMs } = ctx
  const failed = ctx
    .failuresOf(a.instanceId)
    .find((f) => f.action === (a.state === 'Reimaging' ? 'reimage' : 'update'))
  if (failed) return fail(a, ctx, 'ReimageFailed', failed.message)
  const applied =
    a.state === 'Reimaging'
      ? obs.osImageVersion === r.target.imageVersion
      : obs.modelGeneration >= r.target.modelGeneration
  if (applied && obs.provisioning !== 'creating' && obs.provisioning !== 'updating') {
    const bootedAtMs = obs.bootedAtMs >= a.startedAtMs ? obs.bootedAtMs : a.startedAtMs
    if (r.pace === 'allAtOnce') {
      return obs.provisioning === 'failed'
        ? fail(a, ctx, 'ProvisioningFailed', obs.provisioningError)
        : { ...a, state: 'Succeeded', endedAtMs: nowMs }
    }
    return { ...a, state: 'WaitingHealth', deadlineAtMs: bootedAtMs + r.healthDeadlineMs }
  }
  if (!applied && nowMs >= a.deadlineAtMs) return fail(a, ctx, 'HealthDeadlineExceeded', null)
  if (!applied) actions.push(applyAction(a, r))
  return a
}

function onSurging(a: Attempt, ctx: AttemptContext, actions: Action[]): Attempt {
  const { rollout: r, nowMs } = ctx
  const surgeId = a.surgeInstanceId as string
  const created = ctx.observe(surgeId)
  const failed = ctx.failuresOf(surgeId).find((f) => f.action === 'create')
  if (failed) return fail(a, ctx, 'ReimageFailed', failed.message)
  if (!created) {
    if (nowMs >= a.deadlineAtMs) return fail(a, ctx, 'HealthDeadlineExceeded', null)
    const old = ctx.observe(a.instanceId) as InstanceObservation
    actions.push({
      type: 'create',
      instances: [
        {
          instanceId: surgeId,
          zone: old.zone,
          updateDomain: old.updateDomain,
          faultDomain: old.faultDomain,
          imageVersion: r.target.imageVersion as string,
          modelGeneration: r.target.modelGeneration,
        },
      ],
    })
    return a
  }
  if (created.provisioning === 'failed')
    return fail(a, ctx, 'ProvisioningFailed', created.provisioningError)
  if (verdict(created) === 'healthy') {
    const gate = gateVerdictOf(a, ctx.gates)
    if (gate?.status === 'fail')
      return fail(a, ctx, 'GateFailed', gateFailureMessage(surgeId, gate))
    if (gate === null || gate.status === 'pass') return healthyOnNew(a, ctx)
    return a // healthy, its gates not answered yet: their timeout bounds the wait, as for a reimage
  }
  const deadline = Math.max(created.bootedAtMs, a.startedAtMs) + r.healthDeadlineMs
  if (nowMs >= deadline) return fail(a, ctx, 'HealthDeadlineExceeded', null)
  return a.deadlineAtMs === deadline ? a : { ...a, deadlineAtMs: deadline }
}

function onWaitingHealth(a: Attempt, obs: InstanceObservation, ctx: AttemptContext): Attempt {
  if (obs.provisioning === 'failed')
    return fail(a, ctx, 'ProvisioningFailed', obs.provisioningError)
  const minHealthyMs = ctx.rollout.minHealthyTimeMs ?? 0
  const healthy = verdict(obs) === 'healthy'
  // Health gates (docs/controls.md § Health gates): healthy counts only with every gate passed;
  // a failed gate fails the instance, a gate not answered yet keeps it waiting (never a pass).
  const gate = healthy ? gateVerdictOf(a, ctx.gates) : null
  if (gate?.status === 'fail')
    return fail(a, ctx, 'GateFailed', gateFailureMessage(a.instanceId, gate))
  const gated = gate !== null && gate.status !== 'pass'
  if (healthy && minHealthyMs === 0) return gated ? a : healthyOnNew(a, ctx)
  const since = a.healthySinceMs ?? null
  if (healthy && since !== null && ctx.nowMs - since >= minHealthyMs)
    return gated ? a : healthyOnNew(a, ctx)
  if (healthy) return a // healthy, not long enough yet: `healthySinceMs` is noted below
  if (since !== null) return fail(a, ctx, 'UnstableHealth', formatDurationMs(minHealthyMs))
  if (ctx.nowMs >= a.deadlineAtMs) return fail(a, ctx, 'HealthDeadlineExceeded', null)
  return a
}

/**
 * Healthy on the new version (after minHealthyTime, if any): counted upgraded, or first asked
 * of the post-healthy hook when the rollout has one.
 */
function healthyOnNew(a: Attempt, ctx: AttemptContext): Attempt {
  if (ctx.rollout.hooks?.postHealthy)
    return { ...a, state: 'PostHealthy', hook: hookProgress('postHealthy', ctx.nowMs) }
  return { ...a, state: 'Succeeded', endedAtMs: ctx.nowMs }
}

/**
 * The pre-reimage hook: asked (again after a deferral's end) until it answers; continue moves on
 * to the reimage (or surge) with a health deadline from now, skip leaves the instance alone.
 */
function onPreReimage(a: Attempt, ctx: AttemptContext, actions: Action[], noted: Noted): Attempt {
  const spec = ctx.rollout.hooks?.preReimage
  const p = a.hook ?? hookProgress('preReimage', a.startedAtMs)
  if (!spec) return proceed(a, ctx)
  const answer = answerFor({ ...a, hook: p }, ctx.answers ?? [])
  if (!answer) {
    if (p.notBeforeMs === null || ctx.nowMs >= p.notBeforeMs)
      actions.push(hookCall(a, 'preReimage', ctx.rollout))
    return a
  }
  const d = decideHook('preReimage', spec, p, answer.result, ctx.nowMs)
  noted.record = d.record
  if (d.action === 'skip') return { ...a, state: 'Skipped', endedAtMs: ctx.nowMs, hook: null }
  if (d.action === 'defer') return { ...a, hook: d.progress }
  return proceed(a, ctx)
}

/** After the pre-reimage hook's continue: the attempt's method, deadline counted from now. */
function proceed(a: Attempt, ctx: AttemptContext): Attempt {
  const state = a.method === 'surge' ? 'Surging' : a.method === 'reimage' ? 'Reimaging' : 'Updating'
  return { ...a, state, hook: null, deadlineAtMs: ctx.nowMs + ctx.rollout.healthDeadlineMs }
}

/** The post-healthy hook: continue counts the instance upgraded; fail fails it as R4 says. */
function onPostHealthy(a: Attempt, ctx: AttemptContext, actions: Action[], noted: Noted): Attempt {
  const spec = ctx.rollout.hooks?.postHealthy
  if (!spec) return { ...a, state: 'Succeeded', endedAtMs: ctx.nowMs, hook: null }
  const p = a.hook ?? hookProgress('postHealthy', ctx.nowMs)
  const answer = answerFor({ ...a, hook: p }, ctx.answers ?? [])
  if (!answer) {
    actions.push(hookCall(a, 'postHealthy', ctx.rollout))
    return a
  }
  const d = decideHook('postHealthy', spec, p, answer.result, ctx.nowMs)
  noted.record = d.record
  if (d.action === 'fail') {
    const detail = d.record.quote ?? d.record.cause ?? null
    return { ...fail(a, ctx, 'PostHealthyHookFailed', detail), hook: null }
  }
  return { ...a, state: 'Succeeded', endedAtMs: ctx.nowMs, hook: null }
}

/**
 * minHealthyTime: notes when an instance waiting for health first answered healthy (not a state
 * change: no event), so that it counts only after staying healthy that long.
 */
function noteHealthySince(a: Attempt, ctx: AttemptContext): Attempt {
  if (a.state !== 'WaitingHealth' || !ctx.rollout.minHealthyTimeMs) return a
  if ((a.healthySinceMs ?? null) !== null) return a
  const obs = ctx.observe(a.instanceId)
  return obs && verdict(obs) === 'healthy' ? { ...a, healthySinceMs: ctx.nowMs } : a
}

/**
 * The timeline's step for a first healthy answer under minHealthyTime: a step inside
 * WaitingHealth (docs/rollouts.md § Per-instance timeline), not a state change.
 */
function firstHealthy(a: Attempt, ctx: AttemptContext): RolloutEvent {
  return {
    atMs: ctx.nowMs,
    rolloutId: ctx.rollout.id,
    scaleSetKey: ctx.rollout.scaleSetKey,
    instanceId: a.instanceId,
    from: 'WaitingHealth',
    to: 'WaitingHealth',
    reason: 'FirstHealthy',
  }
}

/** When an attempt that is now WaitingHealth started on its new disk: its deadline's base. */
function bootedAtOf(a: Attempt, ctx: AttemptContext): number {
  return a.deadlineAtMs - ctx.rollout.healthDeadlineMs
}

/** When a healthy instance will have stayed healthy for minHealthyTime, else null. */
export function minHealthyDueAtMs(a: Attempt, r: Pick<Rollout, 'minHealthyTimeMs'>): number | null {
  if (a.state !== 'WaitingHealth' || !r.minHealthyTimeMs) return null
  return a.healthySinceMs != null ? a.healthySinceMs + r.minHealthyTimeMs : null
}

function onRollingBack(
  a: Attempt,
  obs: InstanceObservation,
  ctx: AttemptContext,
  actions: Action[],
): Attempt {
  const failed = ctx.failuresOf(a.instanceId).find((f) => f.action === 'restore')
  if (failed)
    return { ...a, state: 'RollbackFailed', rollbackError: failed.message, endedAtMs: ctx.nowMs }
  const onPrevious = obs.osImageVersion === a.fromVersion
  const booting =
    obs.provisioning === 'creating' || obs.provisioning === 'updating' || obs.power === 'starting'
  if (onPrevious && booting) return a // restored, still starting: wait, do not restore again
  if (onPrevious && obs.power === 'running') {
    if (obs.provisioning !== 'failed') return { ...a, state: 'RolledBack', endedAtMs: ctx.nowMs }
    const error = obs.provisioningError ?? 'Provisioning on the previous OS disk failed.'
    return { ...a, state: 'RollbackFailed', rollbackError: error, endedAtMs: ctx.nowMs }
  }
  actions.push({ type: 'restore', instanceIds: [a.instanceId] })
  return a
}

/**
 * Marks an attempt failed: surge replacements are discarded (the old instance stays, which counts
 * as rolled back); reimaged instances are restored when the rollout rolls back, else left.
 */
export function fail(
  a: Attempt,
  ctx: AttemptContext,
  reason: FailureReason,
  detail: string | null,
): Attempt {
  const failure = {
    reason,
    message: failureMessage(reason, a.instanceId, ctx.rollout.healthDeadlineMs, detail),
  }
  if (a.method === 'surge') return { ...a, state: 'RolledBack', failure, endedAtMs: ctx.nowMs }
  if (ctx.rollout.rollback && a.method === 'reimage') return { ...a, state: 'RollingBack', failure }
  return { ...a, state: 'Failed', failure, endedAtMs: ctx.nowMs }
}

/** Clean-up that terminal attempts still need: release kept disks, delete surged-out instances. */
function converge(a: Attempt, ctx: AttemptContext, actions: Action[]): void {
  if (a.method === 'surge') {
    const doomed = a.state === 'Succeeded' ? a.instanceId : a.surgeInstanceId
    if (doomed !== null && a.state !== 'Removed' && ctx.observe(doomed)) {
      actions.push({ type: 'delete', instanceIds: [doomed] })
    }
    return
  }
  const obs = ctx.observe(a.instanceId)
  if (a.state === 'Succeeded' && obs && obs.previousOsImageVersion !== null) {
    actions.push({ type: 'release', instanceIds: [a.instanceId] })
  }
}

function isFailure(state: Attempt['state']): boolean {
  return state === 'RollingBack' || state === 'Failed' || state === 'RolledBack'
}
