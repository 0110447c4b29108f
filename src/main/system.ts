/**
 * One osroll process wired around an open store, without listening (main.ts's `startServer`
 * listens; in-process tests call `app.inject`): the fabric, catalog and effect runner, the
 * leases and wake channel of several replicas, health gates, the orchestrator, the services
 * and the API, in the order each needs the one before.
 */
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type pino from 'pino'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/config.js'
import type { SqlStore } from '../store/sql/sql-store.js'
import type { GuestMetadata } from '../fabrics/types/metadata.js'
import { createInstanceMetadata } from '../services/instance-metadata.js'
import type { AccelDecision } from '../fabrics/qemu/accel.js'
import { createMetrics } from '../runtime/metrics.js'
import { GateEvaluator } from '../runtime/gates.js'
import { httpHookCaller } from '../runtime/hook-caller.js'
import type { Metrics } from '../runtime/metrics.js'
import { StoreCatalog } from '../services/catalog.js'
import { Galleries } from '../services/galleries.js'
import { SystemClock } from '../runtime/clock.js'
import type { Clock } from '../runtime/clock.js'
import type { Logger } from '../runtime/logger.js'
import { EffectRunner } from '../runtime/effect-runner.js'
import { SubnetAddresses } from '../runtime/subnet-addresses.js'
import { Orchestrator } from '../runtime/orchestrator.js'
import { LeaseManager } from '../runtime/leases.js'
import { isPlanKey, planGateFor, reconcilePlan } from '../runtime/wave-reconciler.js'
import type { WaveReconcilerDeps } from '../runtime/wave-reconciler.js'
import { createWaveMetrics } from '../runtime/wave-metrics.js'
import { reconcile } from '../runtime/reconciler.js'
import { SqlPlans } from '../store/sql/sql-plans.js'
import { RetentionSweeper } from '../runtime/retention.js'
import { refreshOperation } from '../services/operations.js'
import { WakeChannel } from '../store/postgres/wake-channel.js'
import { adoptResourceGroups } from '../services/resource-groups.js'
import type { ServiceDeps } from '../services/deps.js'
import { buildApp } from '../api/app.js'
import { ensureDefaultSubscription } from '../services/subscriptions.js'
import { nodeTypeDurability } from '../core/scale-set/service-fabric.js'
import { makeFabric } from './fabric.js'
import { DEFAULTS } from '../config/defaults.js'
import { SqlHosts } from '../store/sql/sql-hosts.js'
import { SshClient } from '../fabrics/host/ssh.js'
import { SshHostProber } from '../fabrics/host/host-check.js'
import { HostMonitor } from '../runtime/host-monitor.js'
import type { HostDeps } from '../services/hosts.js'
import { ensureAdminToken, timingOf, tlsMaterial } from './boot.js'
import type { FabricParts } from './fabric.js'

export type System = Readonly<{
  deps: ServiceDeps
  orchestrator: Orchestrator
  retention: RetentionSweeper
  app: FastifyInstance
  adminToken: string
  subscriptionId: string
  /** The qemu fabric's accelerator and why it was chosen; null on other fabrics. */
  accel: AccelDecision | null
  /** Re-adopts instances (local fabric), then runs the orchestrator. */
  start: () => Promise<void>
  /** Stops the orchestrator and the prober; instances keep running. */
  stop: () => Promise<void>
}>

export type SystemOptions = Readonly<{
  config: Config
  store: SqlStore
  clock?: Clock
  log: Logger & pino.Logger
  appLogger?: boolean | object
  activePollMs?: number
  metrics?: Metrics
}>

/**
 * Wires one osroll process around an open store, without listening: `startServer` listens on
 * it; in-process tests call `app.inject`.
 */
export async function buildSystem(o: SystemOptions): Promise<System> {
  const { config, store } = o
  const clock = o.clock ?? new SystemClock()
  const adminToken = await ensureAdminToken(store, config.dataDir, clock.nowMs())
  // Made last, but woken by what is made before it (health changes, effects, leases, gates).
  let orchestrator: Orchestrator | null = null
  const enqueue = (key: string): void => orchestrator?.enqueue(key)
  // A health change of an instance wakes its scale set at once (probe keys are `set|instance|disk`).
  const metrics = o.metrics ?? createMetrics()
  const onHealthChange = (key: string): void => orchestrator?.enqueue(key.split('|')[0] as string)
  const guests = guestMetadataSlot()
  const parts = await makeFabric({
    config,
    store,
    clock,
    onHealthChange,
    metrics,
    metadata: guests.metadata,
  })
  const { catalog, effects } = makeEffects(o, clock, parts, metrics, enqueue)
  // Rollout plans are keys of the same queue and leases as sets: a plan's pass runs under its
  // own lease, on one replica (docs/rollouts.md § Waves across scale sets).
  const plans = new SqlPlans(store)
  const listKeys = keysOf(store, plans)
  const { leases, wake } = makeReplication(o, clock, { listKeys, effects, metrics, enqueue })
  const { gates, bakeGates } = makeGates(o, clock, metrics, enqueue)
  const { hosts, hostMonitor } = makeHosts(o, clock)
  const deps: ServiceDeps = {
    store,
    plans,
    hosts,
    fabric: parts.fabric,
    catalog,
    clock,
    ids: randomUUID,
    config,
    notify: (key) => {
      orchestrator?.enqueue(key)
      wake?.notify(key).catch((err: unknown) => o.log.warn({ err }, 'Wake notification failed'))
    },
  }
  orchestrator = makeOrchestrator(o, deps, { gates, bakeGates, effects, metrics, listKeys, leases })
  guests.bind(createInstanceMetadata(deps))
  const retention = new RetentionSweeper({
    store,
    clock,
    log: o.log,
    operationRetentionMs: config.operationRetentionMs,
    refreshOperation: (id) => refreshOperation(deps, id),
  })
  const { app, subscriptionId } = await serveApi(o, deps, metrics)
  const run = { parts, leases, wake, orchestrator, retention, gates, bakeGates, hostMonitor }
  return {
    deps,
    orchestrator,
    retention,
    app,
    adminToken,
    subscriptionId,
    accel: parts.accel,
    start: () => startSystem(o.log, run),
    stop: () => stopSystem(run),
  }
}

/**
 * The hosts registry (docs/api.md § Hosts): osroll's own key and known_hosts files per host
 * under the data dir, and the monitor that re-checks every host.
 */
function makeHosts(o: SystemOptions, clock: Clock): { hosts: HostDeps; hostMonitor: HostMonitor } {
  const hosts = {
    store: new SqlHosts(o.store),
    prober: new SshHostProber(new SshClient({ dir: join(o.config.dataDir, 'hosts') })),
    clock,
  }
  const hostMonitor = new HostMonitor({
    prober: hosts.prober,
    clock,
    hosts: hosts.store,
    log: o.log,
    intervalMs: DEFAULTS.hostCheckIntervalMs,
  })
  return { hosts, hostMonitor }
}

/**
 * Health gates (docs/controls.md § Health gates): the rollouts' (a verdict wakes its set at
 * once) and the waves' after a stage's bake (the plan's pass polls for their verdict).
 */
function makeGates(
  o: SystemOptions,
  clock: Clock,
  metrics: Metrics,
  enqueue: (key: string) => void,
): { gates: GateEvaluator; bakeGates: GateEvaluator } {
  const nowMs = () => clock.nowMs()
  return {
    gates: new GateEvaluator({ nowMs, onChange: enqueue, metrics, log: o.log }),
    bakeGates: new GateEvaluator({ nowMs, onChange: () => undefined, metrics, log: o.log }),
  }
}

/** The orchestrator's keys: every scale set's, then every rollout plan's. */
function keysOf(store: SqlStore, plans: SqlPlans): () => Promise<readonly string[]> {
  return async () => [...(await store.listScaleSetKeys()), ...(await plans.listPlanKeys())]
}

/**
 * The guests' metadata service needs the services, which need the fabric: bound once deps
 * exist, before any VM starts (start() adopts them); until then it answers 503.
 */
function guestMetadataSlot(): { metadata: GuestMetadata; bind: (m: GuestMetadata) => void } {
  let guestMetadata: GuestMetadata | null = null
  const metadata: GuestMetadata = {
    answer: (guest, req) =>
      guestMetadata
        ? guestMetadata.answer(guest, req)
        : Promise.resolve({
            status: 503,
            contentType: 'application/json; charset=utf-8',
            body: '{"error":"Service unavailable"}',
          }),
  }
  return { metadata, bind: (m) => (guestMetadata = m) }
}

/** The galleries and catalog over the fabric's image sources, and the effect runner. */
function makeEffects(
  o: SystemOptions,
  clock: Clock,
  parts: FabricParts,
  metrics: Metrics,
  enqueue: (key: string) => void,
): { catalog: StoreCatalog; effects: EffectRunner } {
  const { config, store } = o
  const galleries = new Galleries(
    store,
    () => clock.nowMs(),
    config.replicationDelayMs,
    parts.prepareSource,
    randomUUID,
  )
  const catalog = new StoreCatalog(store, parts.prepareSource, galleries)
  const effects = new EffectRunner({
    fabric: parts.fabric,
    store,
    catalog,
    clock,
    log: o.log,
    onSettled: enqueue,
    addresses: new SubnetAddresses(store),
    hooks: httpHookCaller,
    onHookResult: (hook, result) => metrics.hookCall(hook, result),
  })
  return { catalog, effects }
}

/**
 * Several replicas share a PostgreSQL store: each set is driven under a lease
 * (docs/architecture.md § Several replicas), and a change made through any replica wakes the one
 * that drives the set. One replica (SQLite): neither.
 */
function makeReplication(
  o: SystemOptions,
  clock: Clock,
  w: Readonly<{
    listKeys: () => Promise<readonly string[]>
    effects: EffectRunner
    metrics: Metrics
    enqueue: (key: string) => void
  }>,
): { leases: LeaseManager | null; wake: WakeChannel | null } {
  const { config, store } = o
  const replicated = config.store === 'postgres'
  const leases = replicated
    ? new LeaseManager({
        store,
        replicaId: config.replicaId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
        clock,
        log: o.log,
        ttlMs: config.leaseTtlMs,
        listKeys: w.listKeys,
        onAcquired: (key) => {
          w.effects.takeFailures(key) // failures seen under an older lease are stale
          w.enqueue(key)
        },
        canRelease: (key) => w.effects.busy(key) === 0,
        metrics: w.metrics,
      })
    : null
  const wake =
    replicated && config.databaseUrl
      ? new WakeChannel({
          url: config.databaseUrl,
          schema: config.databaseSchema,
          db: store.db,
          log: o.log,
          onKey: w.enqueue,
        })
      : null
  return { leases, wake }
}

/** The orchestrator: a set's pass is the reconciler's, a plan's the wave reconciler's. */
function makeOrchestrator(
  o: SystemOptions,
  deps: ServiceDeps,
  w: Readonly<{
    gates: GateEvaluator
    bakeGates: GateEvaluator
    effects: EffectRunner
    metrics: Metrics
    listKeys: () => Promise<readonly string[]>
    leases: LeaseManager | null
  }>,
): Orchestrator {
  const { config } = o
  const { store, plans, fabric, catalog, clock } = deps
  const waveDeps: WaveReconcilerDeps = {
    plans,
    store,
    fabric,
    catalog,
    clock,
    log: o.log,
    notify: (key) => deps.notify(key),
    ...(o.activePollMs ? { pollMs: o.activePollMs } : {}),
    metrics: createWaveMetrics(w.metrics.registry),
    // The gates asked after a stage's bake (W4): the plan's pass polls for their verdict.
    gates: w.bakeGates,
  }
  return new Orchestrator(
    {
      store,
      fabric,
      gates: w.gates,
      catalog,
      clock,
      effects: w.effects,
      log: o.log,
      ids: randomUUID,
      timing: timingOf(config),
      healthDeadlineMs: config.healthDeadlineMs,
      history: { retentionMs: config.historyRetentionMs, keepLast: 100 },
      metrics: w.metrics,
      clusters: {
        durability: async (clusterId, nodeTypeRef) =>
          nodeTypeDurability((await store.getResource(clusterId))?.body, nodeTypeRef),
      },
      plans: { gateFor: (key) => planGateFor(plans, key) },
    },
    {
      listKeys: w.listKeys,
      pass: (key, d) => (isPlanKey(key) ? reconcilePlan(key, waveDeps) : reconcile(key, d)),
      ...(o.activePollMs ? { activePollMs: o.activePollMs } : {}),
      ...(w.leases ? { lease: w.leases } : {}),
    },
  )
}

/** The default subscription, the groups of resources older than groups, and the API app. */
async function serveApi(
  o: SystemOptions,
  deps: ServiceDeps,
  metrics: Metrics,
): Promise<{ app: FastifyInstance; subscriptionId: string }> {
  const subscriptionId = await ensureDefaultSubscription(deps)
  // Resources written before groups existed keep their groups (docs/operations.md § Resource groups).
  const adoptedGroups = await adoptResourceGroups(deps)
  if (adoptedGroups > 0)
    o.log.info({ groups: adoptedGroups }, 'Made the resource groups existing resources are in')
  const https = tlsMaterial(o.config)
  const app = await buildApp({
    deps,
    logger: o.appLogger ?? false,
    accessLog: o.log,
    https,
    metrics,
  })
  return { app, subscriptionId }
}

/** What runs once the system is started, in the order it starts. */
type Running = Readonly<{
  parts: FabricParts
  leases: LeaseManager | null
  wake: WakeChannel | null
  orchestrator: Orchestrator
  retention: RetentionSweeper
  gates: GateEvaluator
  bakeGates: GateEvaluator
  hostMonitor: HostMonitor
}>

async function startSystem(log: Logger, r: Running): Promise<void> {
  await r.parts.adopt(log)
  if (r.leases) {
    await r.wake?.start()
    await r.leases.tick().catch((err: unknown) => log.error({ err }, 'Lease round failed'))
    r.leases.start()
    log.info({ replica: r.leases.replicaId, held: r.leases.heldKeys().length }, 'Replica joined')
  }
  r.orchestrator.start()
  r.retention.start()
  r.hostMonitor.start()
}

async function stopSystem(r: Running): Promise<void> {
  await r.retention.stop()
  await r.hostMonitor.stop()
  await r.orchestrator.stop()
  r.gates.close()
  r.bakeGates.close()
  await r.leases?.stop()
  await r.wake?.close()
  await r.parts.close()
}
