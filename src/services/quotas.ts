/**
 * Resource quotas (docs/operations.md § Quotas and retention). Instances per subscription: a
 * write that raises a set's capacity is refused, with Azure's quota wording, when the capacity
 * of all the subscription's sets would go over `--max-instances-per-subscription`.
 */
import { Errors } from '../errors.js'
import { SCALE_SET_TYPE } from '../arm/arm.js'
import type { StoredResource } from '../store/control-store.js'
import type { ServiceDeps } from './deps.js'

/** The capacity a stored scale set resource asks for. */
export function capacityOf(body: StoredResource['body'] | undefined): number {
  const sku = body?.['sku'] as { capacity?: unknown } | undefined
  return typeof sku?.capacity === 'number' ? sku.capacity : 0
}

/**
 * Throws 409 `OperationNotAllowed` if setting the set `id` of subscription `sub` to `capacity`
 * (from `previous`) takes the subscription over its quota. Only a write that raises a set's
 * capacity pays for the count (a read of the subscription's sets), and lowering one always works.
 * Two writes racing to raise capacity may both pass: the quota bounds a tenant's size, it is not
 * a reservation.
 */
export async function checkInstanceQuota(
  deps: ServiceDeps,
  o: Readonly<{ sub: string; id: string; capacity: number; previous: number }>,
): Promise<void> {
  const limit = deps.config.maxInstancesPerSubscription
  if (limit === 0 || o.capacity <= o.previous) return
  const sets = await deps.store.listResources({ type: SCALE_SET_TYPE, subscriptionId: o.sub })
  const others = sets
    .filter((r) => r.id !== o.id.toLowerCase())
    .reduce((n, r) => n + capacityOf(r.body), 0)
  const usage = others + o.previous
  const required = o.capacity - o.previous
  if (others + o.capacity <= limit) return
  throw Errors.OperationNotAllowed(
    `Operation could not be completed as it results in exceeding approved Total Instances quota ` +
      `of subscription ${o.sub}. Additional details - Current Limit: ${limit}, Current Usage: ${usage}, ` +
      `Additional Required: ${required}, (Minimum) New Limit Required: ${usage + required}. ` +
      `Lower sku.capacity, delete scale sets of this subscription, or raise the server's --max-instances-per-subscription.`,
    'sku.capacity',
  )
}
