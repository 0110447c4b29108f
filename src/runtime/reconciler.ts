/**
 * One level-triggered pass over one scale set (STYLE R1, R2): read the stored state and observe
 * the fabric, let the pure core decide, persist the decision, then start its effects. Safe to run
 * at any time and after any crash: nothing here relies on having seen an event.
 */
import type { PlanGate, TimingProfile, TriggerInput } from '../core/rollout/start.js'
import { decideTrigger, gatedLatest, startRollout } from '../core/rollout/start.js'
import { planStep } from '../core/rollout/plan.js'
import { stuckOrFailing, supersedes } from '../core/rollout/roll-forward.js'
import {
  clusterDurabilityOf,
  isConflict,
  noteOpen,
  recordOpenEnd,
  writeEnd,
} from './rollout-end.js'
import type { ClusterDurabilities } from './rollout-end.js'
import type { InstanceObservation, Rollout, RolloutEvent } from '../core/rollout/types.js'
import type { Fabric, InstanceView } from '../fabrics/types/fabric.js'
import type { InstanceRecord, ScaleSetState, Store } from '../store/store.js'
import type { ImageCatalog } from './catalog.js'
import type { Clock } from './clock.js'
import type { EffectRunner } from './effect-runner.js'
import type { GateSource } from './gates.js'
import type { Logger } from './logger.js'
import { frozenTiming } from '../core/rollout/timing.js'
import { windowStateAt } from './maintenance-window.js'
import { reconcileCapacity, releaseKeptDisks } from './capacity-pass.js'

export type ReconcilerDeps = Readonly<{
  store: Store
  fabric: Fabric
  catalog: ImageCatalog
  clock: Clock
  effects: EffectRunner
  log: Logger
  ids: () => string
  timing: TimingProfile
  healthDeadlineMs: number
  /**
   * History kept per set (docs/rollouts.md R9): rollouts newer than this, and at least the last N.
   */
  history?: Readonly<{ retentionMs: number; keepLast: number }>
  /**
   * The durability a Service Fabric cluster gives a node type now (null: unknown), read before
   * each decision of a rollout on a set that names a cluster (docs/rollouts.md R3.4). Without
   * it, no cluster is consulted.
   */
  clusters?: ClusterDurabilities
  /**
   * The health gates' verdicts (docs/controls.md § Health gates): the runtime's evaluator, or the
   * simulator's. Without it, no gates are judged.
   */
  gates?: GateSource
  /**
   * The rollout plan a set is in, if any (docs/rollouts.md § Waves across scale sets, W3): its
   * automatic OS rollouts go no further than the plan released. Without it, no plan is read.
   */
  plans?: Readonly<{ gateFor: (scaleSetKey: string) => Promise<PlanGate | null> }>
  /** Told of every saved decision (metrics.ts); optional. */
  metrics?: Readonly<{
    rolloutStep: (before: Rollout | null, after: Rollout, events: readonly RolloutEvent[]) => void
  }>
}>

export type PassResult = Readonly<{
  /** Run again at this time even if nothing changes; null when only a change matters. */
  wakeAtMs: number | null
  /** The rollout as saved by this pass, if one ran. */
  rollout: Rollout | null
}>

/**
 * Reconciles one scale set once.
 * @example await reconcile('/subscriptions/s/…/web', deps) → { wakeAtMs: 1_700_000_300_000, rollout }
 */
export async function reconcile(key: string, deps: ReconcilerDeps): Promise<PassResult> {
  // All reads at once (one round trip each, overlapped; wasted only if the set is gone).
  const [stored, views, records, active] = await Promise.all([
    deps.store.getScaleSet(key),
    deps.fabric.listInstances(key),
    deps.store.listInstanceRecords(key),
    deps.store.getActiveRollout(key),
  ])
  if (!stored) {
    // Gone: nothing kept for it in memory (gate evaluations, hook answers, failures).
    deps.gates?.forget?.(key)
    deps.effects.forget(key)
    return { wakeAtMs: null, rollout: null }
  }
  const instances = observe(views, records)
  const rollout = active ?? null
  let state = await reconcileCapacity(stored, instances, rollout, deps)
  if (state.openRollout && state.openRollout !== rollout?.id)
    state = await recordOpenEnd(state, deps, rollout === null)
  if (rollout !== null) {
    // A rollout the API started (osRollingUpgrade, rollouts/start, manualupgrade) is noted as
    // open by its first pass, so that its end, too, survives a crash.
    if (state.openRollout !== rollout.id) state = await noteOpen(state, rollout.id, deps)
    return step(state, instances, rollout, deps, null)
  }
  deps.gates?.forget?.(key) // no rollout runs: no gate evaluation is needed
  const started = await maybeStart(state, instances, deps)
  if (started.type === 'started') return step(state, instances, started.rollout, deps, started)
  let triggerWake = started.type === 'wait' ? started.wakeAtMs : null
  const eligibleAt = await deps.catalog.nextEligibilityAtMs?.(state.spec.image, state.spec.location)
  if (eligibleAt !== undefined && eligibleAt !== null)
    triggerWake = Math.min(triggerWake ?? eligibleAt, eligibleAt)
  releaseKeptDisks(state, instances, deps)
  return { wakeAtMs: triggerWake, rollout: null }
}

/**
 * Plans and saves one decision of `rollout`, then starts its effects. A rollout this pass just
 * started (`started`) is not stored yet: it is created with its first decision in one write.
 */
async function step(
  stateBefore: ScaleSetState,
  instances: readonly InstanceObservation[],
  rollout: Rollout,
  deps: ReconcilerDeps,
  started: Started | null,
): Promise<PassResult> {
  let state = stateBefore
  const nowMs = deps.clock.nowMs()
  const plan = planStep(
    {
      spec: state.spec,
      instances,
      rollout,
      cancelRequestedAtMs: state.cancelRequestedAtMs,
      pauseRequestedAtMs:
        state.pauseRequest?.rolloutId === rollout.id ? state.pauseRequest.atMs : null,
      failures: deps.effects.takeFailures(state.key),
      hookAnswers: deps.effects.takeHookAnswers(state.key),
      nextInstanceId: state.nextInstanceId,
      clusterDurability: await clusterDurabilityOf(state, deps),
      supersededBy: started ? null : await supersedingVersion(state, instances, rollout, deps),
      gates: deps.gates?.inputs(state, rollout, instances) ?? null,
      // docs/rollouts.md § Maintenance windows: read at every pass, so a change applies at once.
      window: state.maintenanceWindows ? windowStateAt(state.maintenanceWindows, nowMs) : null,
    },
    nowMs,
  )
  const next = plan.rollout
  const ctx = {
    scaleSetKey: state.key,
    model: state.fabricModel,
    image: state.spec.image,
    location: state.spec.location,
    rolloutId: next.id,
  }
  const artifacts = deps.effects.prefetch(ctx, plan.actions)
  if (started) {
    state = await createStarted(state, next, plan.events, started, deps)
  } else if (next.revision !== rollout.revision) {
    await deps.store.saveRollout(next, rollout.revision, plan.events)
  }
  if (started || next.revision !== rollout.revision) {
    const before = started || rollout.revision === 0 ? null : rollout
    deps.metrics?.rolloutStep(before, next, plan.events)
    logDecisions(next, plan.events, deps.log)
  }
  if (next.status !== 'RollingForward') {
    await writeEnd(state, next, plan.nextInstanceId, nowMs, deps)
  } else if (plan.nextInstanceId !== state.nextInstanceId) {
    await deps.store.putScaleSet({ ...state, nextInstanceId: plan.nextInstanceId }, state.revision)
  }
  deps.effects.run(ctx, plan.actions, artifacts)
  if (next.status !== 'RollingForward') await pruneHistory(state.key, nowMs, deps)
  // Superseded (roll forward): the next pass starts the newer version's rollout, at once.
  const rollForward = next.status !== 'RollingForward' && next.supersededBy != null
  return { wakeAtMs: rollForward ? nowMs : plan.wakeAtMs, rollout: next }
}

/**
 * Saves a rollout this pass started with its first decision: one transaction for the rollout,
 * its decision and events, and (only if the rollout was created) the set's first-since-enable
 * flag cleared. Returns the set as saved.
 */
async function createStarted(
  state: ScaleSetState,
  next: Rollout,
  events: readonly RolloutEvent[],
  started: Started,
  deps: ReconcilerDeps,
): Promise<ScaleSetState> {
  // The set notes the rollout as open, so that its end is recorded even across a crash. A set
  // write racing this one (a set PUT) costs only that note, unless the flag must be cleared.
  const [, flagged] = await Promise.all([
    deps.store.createRollout(next, events),
    deps.store
      .putScaleSet(
        {
          ...state,
          openRollout: next.id,
          ...(started.clearFirstSinceEnable ? { firstSinceEnable: false } : {}),
        },
        state.revision,
        { onlyWithRollout: next.id },
      )
      .catch((err: unknown) => {
        if (started.clearFirstSinceEnable || !isConflict(err)) throw err
        return null
      }),
  ])
  deps.log.info(
    { scaleSet: state.key, rollout: next.id, kind: next.kind, target: next.target },
    'Starting rollout',
  )
  return flagged ?? state
}

/** A rollout decided by this pass, not stored yet. */
type Started = Readonly<{ type: 'started'; rollout: Rollout; clearFirstSinceEnable: boolean }>

type StartResult = Started | { type: 'wait'; wakeAtMs: number } | { type: 'none' }

/** What decideTrigger sees of the set now, for a start and for a roll forward alike. */
async function triggerInput(
  state: ScaleSetState,
  instances: readonly InstanceObservation[],
  latest: TriggerInput['latest'],
  deps: ReconcilerDeps,
): Promise<TriggerInput> {
  return {
    spec: state.spec,
    instances,
    latest,
    autoEnabledAtMs: state.autoEnabledAtMs,
    firstSinceEnable: state.firstSinceEnable,
    faultedVersions: new Set(state.faultedVersions),
    lastPlatformRollout: state.lastPlatformRollout,
    clusterDurability: await clusterDurabilityOf(state, deps),
    timing: deps.timing,
    planGate: (await deps.plans?.gateFor(state.key)) ?? null,
  }
}

async function maybeStart(
  state: ScaleSetState,
  instances: readonly InstanceObservation[],
  deps: ReconcilerDeps,
): Promise<StartResult> {
  const nowMs = deps.clock.nowMs()
  const latest = await deps.catalog.latestEligible(state.spec.image, state.spec.location)
  const decision = decideTrigger(await triggerInput(state, instances, latest, deps), nowMs)
  if (decision.type !== 'start') return decision
  const target = decision.request.target.imageVersion
  const rollout = startRollout({
    id: deps.ids(),
    spec: state.spec,
    request: decision.request,
    ...frozenTiming(state.upgradeSettings, deps.healthDeadlineMs),
    hooks: state.lifecycleHooks ?? null,
    rollForwardFrom:
      decision.request.kind === 'OSImage' && target !== null
        ? [...state.faultedVersions, ...(await supersededVersion(state.key, deps))]
        : [],
    nowMs,
  })
  return {
    type: 'started',
    rollout,
    clearFirstSinceEnable: rollout.kind === 'OSImage' && state.firstSinceEnable,
  }
}

/**
 * Roll forward (docs/rollouts.md § Quarantine and roll forward): the newer version that
 * supersedes a stuck or failing OS rollout, when the platform would start a rollout to it now.
 */
async function supersedingVersion(
  state: ScaleSetState,
  instances: readonly InstanceObservation[],
  rollout: Rollout,
  deps: ReconcilerDeps,
): Promise<string | null> {
  const pauseRequested = state.pauseRequest?.rolloutId === rollout.id
  if (!stuckOrFailing(rollout, instances, pauseRequested)) return null
  const input = await triggerInput(
    state,
    instances,
    await deps.catalog.latestEligible(state.spec.image, state.spec.location),
    deps,
  )
  // W3: a plan's gate caps the version that may supersede, as it caps a start.
  const latest = gatedLatest(input.latest, input.planGate)
  if (latest === null || !supersedes(rollout, latest.version, instances, pauseRequested))
    return null
  const decision = decideTrigger(input, deps.clock.nowMs())
  return decision.type === 'start' && decision.request.kind === 'OSImage' ? latest.version : null
}

/** The target of the set's last rollout when a newer version superseded it, else nothing. */
async function supersededVersion(key: string, deps: ReconcilerDeps): Promise<string[]> {
  const [last] = await deps.store.listRollouts(key, { limit: 1 })
  const version = last?.target.imageVersion ?? null
  return last?.supersededBy != null && version !== null ? [version] : []
}

/** Merges the fabric's view with the control plane's records (protection, deferral). */
export function observe(
  views: readonly InstanceView[],
  records: readonly InstanceRecord[],
): InstanceObservation[] {
  const byId = new Map(records.map((r) => [r.instanceId, r]))
  return views.map((v) => {
    const r = byId.get(v.instanceId)
    return {
      instanceId: v.instanceId,
      zone: v.zone,
      updateDomain: v.updateDomain,
      faultDomain: v.faultDomain,
      protectFromScaleIn: r?.protectFromScaleIn ?? false,
      protectFromScaleSetActions: r?.protectFromScaleSetActions ?? false,
      osImageVersion: v.osImageVersion,
      previousOsImageVersion: v.previousOsImageVersion,
      modelGeneration: v.modelGeneration,
      power: v.power,
      provisioning: v.provisioning,
      provisioningError: v.provisioningError,
      health: v.health,
      bootedAtMs: v.bootedAtMs,
      osUpgradePending: r?.osUpgradePending ?? false,
      osUpgradeApproved: r?.osUpgradeApproved ?? false,
    }
  })
}

/** When a rollout ends, its set's history beyond the retention goes (default 90 days, last 100 kept). */
async function pruneHistory(key: string, nowMs: number, deps: ReconcilerDeps): Promise<void> {
  const h = deps.history ?? { retentionMs: 90 * 86_400_000, keepLast: 100 }
  const pruned = await deps.store.pruneRollouts(key, {
    beforeMs: nowMs - h.retentionMs,
    keepLast: h.keepLast,
  })
  if (pruned > 0) deps.log.info({ scaleSet: key, pruned }, 'Pruned rollout history')
}

/** Every state change in the structured log with stable keys, as `/events` streams them. */
function logDecisions(r: Rollout, events: readonly RolloutEvent[], log: Logger): void {
  for (const e of events) {
    log.info(
      {
        scaleSet: r.scaleSetKey,
        rollout: r.id,
        batch: r.batchCount,
        instance: e.instanceId,
        from: e.from,
        to: e.to,
        reason: e.reason,
      },
      e.instanceId === null ? `Rollout ${e.to}` : `Instance ${e.instanceId} ${e.to}`,
    )
  }
}
