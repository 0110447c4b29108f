/**
 * What an attempt's hops ask for and how its events say why: the fabric action of an attempt's
 * method, a lifecycle hook's call (docs/rollouts.md § Lifecycle hooks) and the event reasons.
 */
import type { HookName } from './hooks.js'
import type { Action, Attempt, HookRecord, Rollout } from './types.js'

export function applyAction(a: Attempt, r: Rollout): Action {
  if (a.state === 'Reimaging') {
    return {
      type: 'reimage',
      instanceIds: [a.instanceId],
      imageVersion: r.target.imageVersion as string,
      modelGeneration: r.target.modelGeneration,
    }
  }
  return { type: 'update', instanceIds: [a.instanceId], modelGeneration: r.target.modelGeneration }
}

export function hookCall(a: Attempt, hook: HookName, r: Rollout): Action {
  const spec = r.hooks?.[hook]
  return {
    type: 'callHook',
    hook,
    instanceId: a.instanceId,
    call: a.hook?.call ?? 0,
    url: spec?.url ?? '',
    timeoutMs: spec?.timeoutMs ?? 0,
    batch: a.batch,
    fromVersion: a.fromVersion,
    targetVersion: r.target.imageVersion,
    deferrals: a.hook?.deferrals ?? 0,
  }
}

/** An answer's event reason, e.g. `PreReimageDefer`, `PostHealthyContinue`. */
export function hookReason(r: HookRecord): string {
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)
  return `${cap(r.hook)}${cap(r.answer)}`
}

export function reasonOf(a: Attempt): string {
  switch (a.state) {
    case 'WaitingHealth':
      return 'StartedOnNewDisk'
    case 'Succeeded':
      return 'Healthy'
    case 'RolledBack':
      return 'PreviousDiskRestored'
    case 'RollbackFailed':
      return 'RestoreFailed'
    case 'Removed':
      return 'InstanceDeleted'
    case 'PostHealthy':
      return 'Healthy'
    default:
      return a.state
  }
}
