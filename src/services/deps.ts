/**
 * What the services need, wired once in main.ts (STYLE R17): the store, the fabric, the image
 * catalog, the clock, id generation, configuration, and a way to wake the orchestrator.
 */
import type { Clock } from '../runtime/clock.js'
import type { Fabric } from '../fabrics/types/fabric.js'
import type { Store } from '../store/store.js'
import type { ControlStore } from '../store/control-store.js'
import type { PlanStore } from '../store/plan-store.js'
import type { StoreCatalog } from './catalog.js'
import type { Config } from '../config/config.js'
import type { HostDeps } from './hosts.js'

export type ServiceDeps = Readonly<{
  store: Store & ControlStore
  /** Rollout plans (docs/rollouts.md § Waves across scale sets). */
  plans: PlanStore
  /** The hosts registry (docs/api.md § Hosts). */
  hosts: HostDeps
  fabric: Fabric
  catalog: StoreCatalog
  clock: Clock
  ids: () => string
  config: Pick<
    Config,
    | 'healthDeadlineMs'
    | 'retryAfterSeconds'
    | 'rateLimitPerMinute'
    | 'maxInstancesPerSubscription'
    | 'maxEventStreamsPerToken'
    | 'implicitResourceGroups'
  > &
    Partial<Pick<Config, 'outboundHosts'>>
  /** Wakes the orchestrator for a scale set (after a write that may need action). */
  notify: (scaleSetKey: string) => void
}>
