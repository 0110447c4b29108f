/**
 * Invariants of a rollout that hold after every decision, whatever the input (STYLE R11): the
 * engine checks its own output and a violation throws `InvariantError`, which stops the pass
 * loudly with the state. The simulator checks the same and more from the outside.
 */
import { invariant } from '../problem.js'
import { isTerminal } from './progress.js'
import type { Rollout } from './types.js'

/**
 * @example assertRolloutInvariants({ ...rollout, attempts: [a, a] }) throws "instance 3 tried twice"
 */
export function assertRolloutInvariants(r: Rollout): void {
  const seen = new Set<string>()
  for (const a of r.attempts) {
    invariant(!seen.has(a.instanceId), `rollout ${r.id}: instance ${a.instanceId} tried twice`)
    seen.add(a.instanceId)
    invariant(
      a.batch >= 1 && a.batch <= r.batchCount,
      `rollout ${r.id}: attempt of ${a.instanceId} in batch ${a.batch} of ${r.batchCount}`,
    )
    const breachRestore = r.ending !== null && a.state === 'RollingBack'
    invariant(
      isTerminal(a) || a.batch === r.batchCount || breachRestore,
      `rollout ${r.id}: instance ${a.instanceId} of batch ${a.batch} still open in batch ${r.batchCount}`,
    )
  }
  for (const id of r.pendingIds)
    invariant(!seen.has(id), `rollout ${r.id}: pending instance ${id} was already tried`)
  invariant(
    r.batchesChecked <= r.batchCount,
    `rollout ${r.id}: checked ${r.batchesChecked} of ${r.batchCount} batches`,
  )
  if (r.status !== 'RollingForward') {
    invariant(r.attempts.every(isTerminal), `rollout ${r.id}: ${r.status} with open attempts`)
    invariant(r.endedAtMs !== null, `rollout ${r.id}: ${r.status} without an end time`)
    invariant(
      (r.status === 'Faulted') === (r.error !== null),
      `rollout ${r.id}: ${r.status} with error ${JSON.stringify(r.error)}`,
    )
  }
  if (r.status === 'Completed')
    invariant(r.pendingIds.length === 0, `rollout ${r.id}: Completed with pending instances`)
}
