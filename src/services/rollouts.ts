/**
 * Rollout use cases (docs/rollouts.md R1, R9): start an OS rollout by hand (`osRollingUpgrade`),
 * cancel the running one, manual and extension upgrades, approvals of deferred ones. The latest
 * rollout's status and the OS upgrade history are rollout-history.ts.
 */
import { Errors } from '../errors.js'
import { isLatest } from '../core/image/image-ref.js'
import { modelTarget, startRollout } from '../core/rollout/start.js'
import type { StartRequest } from '../core/rollout/start.js'
import type { InstanceRecord, ScaleSetState } from '../store/store.js'
import type { OperationRecord } from '../store/control-store.js'
import type { ServiceDeps } from './deps.js'
import type { ScaleSetRef } from './scale-sets.js'
import { requireScaleSet } from './scale-sets.js'
import { createOperation } from './operations.js'
import { updateState } from './set-state.js'
import { noteApprovals } from './approval-notes.js'
import type { ApprovalReason } from './approval-notes.js'
import { frozenTiming } from '../core/rollout/timing.js'

const PINNED_MESSAGE =
  'The OS Rolling Upgrade API cannot be used on a Virtual Machine Scale Set unless the Virtual Machine Scale Set has some unprotected instances which have imageReference.version set to latest.'

/** What osroll's own start may ask beyond Azure's (docs/rollouts.md § Rollback on every path). */
export type StartOptions = Readonly<{ version?: string; rollback?: boolean; operation?: string }>

/**
 * POST osRollingUpgrade: a User rollout to the latest version, no automatic rollback. osroll's
 * `rollouts/start` passes a version (already validated as one) and its own rollback choice.
 */
export async function startOsRollout(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  o: StartOptions = {},
): Promise<OperationRecord> {
  const { state } = await requireScaleSet(deps, ref)
  if (!isLatest(state.spec.image)) throw Errors.OperationNotAllowed(PINNED_MESSAGE)
  const records = await deps.store.listInstanceRecords(state.key)
  const views = await deps.fabric.listInstances(state.key)
  const unprotected = views.filter(
    (v) => !records.find((r) => r.instanceId === v.instanceId)?.protectFromScaleSetActions,
  )
  if (views.length > 0 && unprotected.length === 0) throw Errors.OperationNotAllowed(PINNED_MESSAGE)
  if (await deps.store.getActiveRollout(state.key)) {
    throw Errors.OperationNotAllowed(
      'There is already a rolling upgrade in progress on this Virtual Machine Scale Set; wait for it to finish or cancel it.',
    )
  }
  const latest =
    o.version === undefined
      ? await deps.catalog.latestEligible(state.spec.image, state.spec.location)
      : await namedVersion(deps, state, o.version)
  if (!latest)
    throw Errors.OperationNotAllowed(
      'No image version is available for this scale set in its location.',
    )
  return startUserRollout(deps, ref.sub, state, o.operation ?? 'osRollingUpgrade', {
    kind: 'OSImage',
    startedBy: 'User',
    target: { imageVersion: latest.version, modelGeneration: state.spec.modelGeneration },
    pace: 'batched',
    scope: null,
    ...(o.rollback !== undefined ? { rollback: o.rollback } : {}),
  })
}

/**
 * A version asked for by name (osroll's rollouts/start), as published or replicated in the set's
 * location: 404 when the image has no such version, 409 when it is not in that region yet.
 */
export async function namedVersion(
  deps: ServiceDeps,
  state: Pick<ScaleSetState, 'spec'>,
  version: string,
): Promise<{ version: string }> {
  const found = await deps.catalog.artifactIn(state.spec.image, version, state.spec.location)
  if ('artifact' in found) return found.artifact
  if ('problem' in found) throw Errors.OperationNotAllowed(found.problem)
  throw Errors.NotFound(
    `The image version '${version}' is not published for this scale set's image.`,
  )
}

/** POST rollingUpgrades/cancel: the running batch finishes, then Cancelled. */
export async function cancelRollout(deps: ServiceDeps, ref: ScaleSetRef): Promise<OperationRecord> {
  const { state } = await requireScaleSet(deps, ref)
  const active = await deps.store.getActiveRollout(state.key)
  if (!active) throw Errors.OperationNotAllowed('There is no ongoing Rolling Upgrade to cancel.')
  await updateState(deps, state.key, (s) => ({
    ...s,
    cancelRequestedAtMs: s.cancelRequestedAtMs ?? deps.clock.nowMs(),
  }))
  deps.notify(state.key)
  return createOperation(deps, ref.sub, 'cancelRollingUpgrade', {
    kind: 'rolloutEnd',
    rolloutId: active.id,
  })
}

/**
 * POST manualupgrade (docs/rollouts.md R7): applies the latest model to the named instances at once
 * (upgrade mode Manual), as a User model rollout scoped to them.
 */
export async function manualUpgrade(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  body: unknown,
): Promise<OperationRecord> {
  const { state } = await requireScaleSet(deps, ref)
  const ids = instanceIdsOf(body, true) as string[]
  const views = await deps.fabric.listInstances(state.key)
  const unknown = ids.filter((id) => !views.some((v) => v.instanceId === id))
  if (unknown.length > 0)
    throw Errors.InvalidParameter(
      `Instance ids ${unknown.join(', ')} are not instances of scale set '${ref.name}'.`,
      'instanceIds',
    )
  if (await deps.store.getActiveRollout(state.key))
    throw Errors.OperationNotAllowed(
      'A rolling upgrade is in progress on this Virtual Machine Scale Set; wait for it to finish or cancel it.',
    )
  return startUserRollout(deps, ref.sub, state, 'manualUpgrade', {
    kind: 'Model',
    startedBy: 'User',
    target: modelTarget(state.spec),
    pace: 'allAtOnce',
    scope: ids,
  })
}

/**
 * POST approveRollingUpgrade (docs/rollouts.md R6), on the set (`instanceIds`, all pending ones
 * when
 * omitted) or on one instance: approved instances join the deferred rollout's next batches.
 */
export async function approveRollingUpgrade(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  body: unknown,
  instanceId?: string,
): Promise<OperationRecord> {
  const { state } = await requireScaleSet(deps, ref)
  const records = await deps.store.listInstanceRecords(state.key)
  const views = await deps.fabric.listInstances(state.key)
  const named = instanceId !== undefined ? [instanceId] : instanceIdsOf(body, false)
  if (named) {
    const unknown = named.filter((id) => !views.some((v) => v.instanceId === id))
    if (unknown.length > 0)
      throw Errors.InvalidParameter(
        `Instance ids ${unknown.join(', ')} are not instances of scale set '${ref.name}'.`,
        'instanceIds',
      )
  }
  const chosen = views
    .map((v) => v.instanceId)
    .filter((id) =>
      named ? named.includes(id) : records.find((r) => r.instanceId === id)?.osUpgradePending,
    )
  await approveInstances(deps, state.key, records, chosen, 'ApprovedByRequest')
  return createOperation(deps, ref.sub, 'approveRollingUpgrade', { kind: 'none' })
}

/**
 * Records the approval of these instances' deferred OS upgrades and wakes the set: what
 * approveRollingUpgrade does, and what a guest's StartRequests does
 * (`services/instance-metadata.ts`).
 */
export async function approveInstances(
  deps: ServiceDeps,
  key: string,
  records: readonly InstanceRecord[],
  ids: readonly string[],
  via: ApprovalReason,
): Promise<void> {
  await deps.store.putInstanceRecords(
    key,
    ids.map((id) => {
      const r = records.find((x) => x.instanceId === id)
      return {
        instanceId: id,
        protectFromScaleIn: r?.protectFromScaleIn ?? false,
        protectFromScaleSetActions: r?.protectFromScaleSetActions ?? false,
        osUpgradePending: r?.osUpgradePending ?? false,
        osUpgradeApproved: true,
      }
    }),
  )
  // The approval is stored: the set wakes for it even if its note in the timeline fails.
  try {
    await noteApprovals(deps, key, records, ids, via)
  } finally {
    deps.notify(key)
  }
}

/**
 * POST extensionRollingUpgrade: re-provisions every instance's extensions with the model's
 * current settings, in batches (osroll has no extension repository: "latest" is the model).
 * It bumps the model generation so that every instance is behind, then runs a User model rollout.
 */
export async function extensionRollingUpgrade(
  deps: ServiceDeps,
  ref: ScaleSetRef,
): Promise<OperationRecord> {
  const { state } = await requireScaleSet(deps, ref)
  if (state.fabricModel.extensions.length === 0)
    throw Errors.OperationNotAllowed(`Scale set '${ref.name}' has no extensions to upgrade.`)
  if (await deps.store.getActiveRollout(state.key))
    throw Errors.OperationNotAllowed(
      'A rolling upgrade is in progress on this Virtual Machine Scale Set; wait for it to finish or cancel it.',
    )
  const generation = state.spec.modelGeneration + 1
  let updated: ScaleSetState = state
  await updateState(
    deps,
    state.key,
    (s) =>
      (updated = {
        ...s,
        spec: { ...s.spec, modelGeneration: generation },
        fabricModel: { ...s.fabricModel, modelGeneration: generation },
      }),
  )
  return startUserRollout(deps, ref.sub, updated, 'extensionRollingUpgrade', {
    kind: 'Model',
    startedBy: 'User',
    target: { imageVersion: null, modelGeneration: generation },
    pace: 'batched',
    scope: null,
  })
}

/** Creates a User rollout (one per set: the store refuses a second) and its operation. */
async function startUserRollout(
  deps: ServiceDeps,
  sub: string,
  state: ScaleSetState,
  operation: string,
  request: StartRequest,
): Promise<OperationRecord> {
  const rollout = startRollout({
    id: deps.ids(),
    spec: state.spec,
    request,
    ...frozenTiming(state.upgradeSettings, deps.config.healthDeadlineMs),
    hooks: state.lifecycleHooks ?? null,
    rollForwardFrom: state.faultedVersions,
    nowMs: deps.clock.nowMs(),
  })
  await deps.store.createRollout(rollout)
  deps.notify(state.key)
  return createOperation(deps, sub, operation, { kind: 'rollout', rolloutId: rollout.id })
}

function instanceIdsOf(body: unknown, required: boolean): string[] | undefined {
  const ids =
    body && typeof body === 'object' ? (body as { instanceIds?: unknown }).instanceIds : undefined
  if (ids === undefined || ids === null) {
    if (required)
      throw Errors.InvalidParameter(
        'instanceIds is required: the instances to upgrade.',
        'instanceIds',
      )
    return undefined
  }
  if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string'))
    throw Errors.InvalidRequestContent('instanceIds must be an array of strings.', 'instanceIds')
  if (required && ids.length === 0)
    throw Errors.InvalidParameter('instanceIds must name at least one instance.', 'instanceIds')
  return ids as string[]
}
