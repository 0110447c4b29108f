/**
 * The composition root (STYLE R17): config → store → fabric → catalog → runtime → API. The only
 * place that knows every concrete class; everything else takes its dependencies as values.
 */
import { chmodSync, existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { hostname, tmpdir } from 'node:os'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import type { Config } from './config/config.js'
import { openSqliteStore } from './store/sqlite/open-sqlite.js'
import { openPostgresStore } from './store/postgres/open-postgres.js'
import type { SqlStore } from './store/sql/sql-store.js'
import { SimFabric } from './fabrics/sim/sim-fabric.js'
import { LocalFabric } from './fabrics/local/local-fabric.js'
import { QemuFabric } from './fabrics/qemu/qemu-fabric.js'
import { FileQemuState } from './fabrics/qemu/qemu-state.js'
import { chooseAccel } from './fabrics/qemu/accel.js'
import type { GuestMetadata } from './fabrics/types/metadata.js'
import { createInstanceMetadata } from './services/instance-metadata.js'
import type { AccelDecision } from './fabrics/qemu/accel.js'
import { confineImageSource, importArtifact } from './fabrics/host/artifacts.js'
import { SqlLocalState } from './store/sql/sql-local-state.js'
import { Prober } from './health/prober.js'
import { createMetrics } from './runtime/metrics.js'
import { GateEvaluator } from './runtime/gates.js'
import { httpHookCaller } from './runtime/hook-caller.js'
import type { Metrics } from './runtime/metrics.js'
import { parseSimUri } from './fabrics/sim/sim-behaviour.js'
import { StoreCatalog } from './services/catalog.js'
import { Galleries } from './services/galleries.js'
import { SystemClock } from './runtime/clock.js'
import type { Clock } from './runtime/clock.js'
import type { Logger } from './runtime/logger.js'
import { EffectRunner } from './runtime/effect-runner.js'
import { SubnetAddresses } from './runtime/subnet-addresses.js'
import { Orchestrator } from './runtime/orchestrator.js'
import { LeaseManager } from './runtime/leases.js'
import { isPlanKey, planGateFor, reconcilePlan } from './runtime/wave-reconciler.js'
import type { WaveReconcilerDeps } from './runtime/wave-reconciler.js'
import { createWaveMetrics } from './runtime/wave-metrics.js'
import { reconcile } from './runtime/reconciler.js'
import { SqlPlans } from './store/sql/sql-plans.js'
import { RetentionSweeper } from './runtime/retention.js'
import { refreshOperation } from './services/operations.js'
import { WakeChannel } from './store/postgres/wake-channel.js'
import { AZURE_TIMING, PROMPT_TIMING } from './core/rollout/start.js'
import type { TimingProfile } from './core/rollout/start.js'
import { DEFAULTS } from './config/defaults.js'
import { adoptResourceGroups } from './services/resource-groups.js'
import type { ServiceDeps } from './services/deps.js'
import { buildApp } from './api/app.js'
import { OPERATOR, createToken, hashToken } from './services/tokens.js'
import { ensureDefaultSubscription } from './services/subscriptions.js'
import { Errors } from './errors.js'
import { ensureSelfSignedTls } from './tls/self-signed.js'
import { assertPrivateFile, secureDataDir } from './config/data-dir.js'
import { loadSecretsKey } from './store/secrets.js'
import { nodeTypeDurability } from './core/scale-set/service-fabric.js'

export type Server = Readonly<{
  url: string
  adminToken: string
  subscriptionId: string
  /** The qemu fabric's accelerator and why it was chosen; null on other fabrics. */
  accel: AccelDecision | null
  app: FastifyInstance
  store: SqlStore
  close: () => Promise<void>
}>

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

/**
 * Wires one osroll process around an open store, without listening: `startServer` listens on
 * it; in-process tests call `app.inject`.
 */
export async function buildSystem(o: {
  config: Config
  store: SqlStore
  clock?: Clock
  log: Logger & pino.Logger
  appLogger?: boolean | object
  activePollMs?: number
  metrics?: Metrics
}): Promise<System> {
  const { config, store } = o
  const clock = o.clock ?? new SystemClock()
  const adminToken = await ensureAdminToken(store, config.dataDir, clock.nowMs())
  let orchestrator: Orchestrator | null = null
  // A health change of an instance wakes its scale set at once (probe keys are `set|instance|disk`).
  const metrics = o.metrics ?? createMetrics()
  const onHealthChange = (key: string): void => orchestrator?.enqueue(key.split('|')[0] as string)
  // The guests' metadata service needs the services, which need the fabric: bound once deps
  // exist, before any VM starts (start() adopts them).
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
  const { fabric, prepareSource, prober, accel } = await makeFabric(
    config,
    store,
    clock,
    onHealthChange,
    metrics,
    metadata,
  )
  const galleries = new Galleries(
    store,
    () => clock.nowMs(),
    config.replicationDelayMs,
    prepareSource,
    randomUUID,
  )
  const catalog = new StoreCatalog(store, prepareSource, galleries)
  const effects = new EffectRunner({
    fabric,
    store,
    catalog,
    clock,
    log: o.log,
    onSettled: (key) => orchestrator?.enqueue(key),
    addresses: new SubnetAddresses(store),
    hooks: httpHookCaller,
    onHookResult: (hook, result) => metrics.hookCall(hook, result),
  })
  // Several replicas share a PostgreSQL store: each set is driven under a lease
  // (docs/architecture.md § Several replicas), and
  // a change made through any replica wakes the one that drives the set.
  const replicated = config.store === 'postgres'
  // Rollout plans are keys of the same queue and leases as sets: a plan's pass runs under its
  // own lease, on one replica (docs/rollouts.md § Waves across scale sets).
  const plans = new SqlPlans(store)
  const listKeys = async (): Promise<readonly string[]> => [
    ...(await store.listScaleSetKeys()),
    ...(await plans.listPlanKeys()),
  ]
  const leases = replicated
    ? new LeaseManager({
        store,
        replicaId: config.replicaId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
        clock,
        log: o.log,
        ttlMs: config.leaseTtlMs,
        listKeys,
        onAcquired: (key) => {
          effects.takeFailures(key) // failures seen under an older lease are stale
          orchestrator?.enqueue(key)
        },
        canRelease: (key) => effects.busy(key) === 0,
        metrics,
      })
    : null
  const wake =
    replicated && config.databaseUrl
      ? new WakeChannel({
          url: config.databaseUrl,
          schema: config.databaseSchema,
          db: store.db,
          log: o.log,
          onKey: (key) => orchestrator?.enqueue(key),
        })
      : null
  // Health gates (docs/controls.md § Health gates): a verdict wakes its set at once.
  const bakeGates = new GateEvaluator({
    nowMs: () => clock.nowMs(),
    onChange: () => undefined,
    metrics,
    log: o.log,
  })
  const gates = new GateEvaluator({
    nowMs: () => clock.nowMs(),
    onChange: (key) => orchestrator?.enqueue(key),
    metrics,
    log: o.log,
  })
  orchestrator = new Orchestrator(
    {
      store,
      fabric,
      gates,
      catalog,
      clock,
      effects,
      log: o.log,
      ids: randomUUID,
      timing: timingOf(config),
      healthDeadlineMs: config.healthDeadlineMs,
      history: { retentionMs: config.historyRetentionMs, keepLast: 100 },
      metrics,
      clusters: {
        durability: async (clusterId, nodeTypeRef) =>
          nodeTypeDurability((await store.getResource(clusterId))?.body, nodeTypeRef),
      },
      plans: { gateFor: (key) => planGateFor(plans, key) },
    },
    {
      listKeys,
      pass: (key, d) => (isPlanKey(key) ? reconcilePlan(key, waveDeps) : reconcile(key, d)),
      ...(o.activePollMs ? { activePollMs: o.activePollMs } : {}),
      ...(leases ? { lease: leases } : {}),
    },
  )
  const waveDeps: WaveReconcilerDeps = {
    plans,
    store,
    fabric,
    catalog,
    clock,
    log: o.log,
    notify: (key) => deps.notify(key),
    ...(o.activePollMs ? { pollMs: o.activePollMs } : {}),
    metrics: createWaveMetrics(metrics.registry),
    // The gates asked after a stage's bake (W4): the plan's pass polls for their verdict.
    gates: bakeGates,
  }
  const deps: ServiceDeps = {
    store,
    plans,
    fabric,
    catalog,
    clock,
    ids: randomUUID,
    config,
    notify: (key) => {
      orchestrator?.enqueue(key)
      wake?.notify(key).catch((err: unknown) => o.log.warn({ err }, 'Wake notification failed'))
    },
  }
  guestMetadata = createInstanceMetadata(deps)
  const retention = new RetentionSweeper({
    store,
    clock,
    log: o.log,
    operationRetentionMs: config.operationRetentionMs,
    refreshOperation: (id) => refreshOperation(deps, id),
  })
  const subscriptionId = await ensureDefaultSubscription(deps)
  // Resources written before groups existed keep their groups (docs/operations.md § Resource groups).
  const adoptedGroups = await adoptResourceGroups(deps)
  if (adoptedGroups > 0)
    o.log.info({ groups: adoptedGroups }, 'Made the resource groups existing resources are in')
  const https = tlsMaterial(config)
  const app = await buildApp({
    deps,
    logger: o.appLogger ?? false,
    accessLog: o.log,
    https,
    metrics,
  })
  const start = async (): Promise<void> => {
    if (fabric instanceof LocalFabric) {
      const { adopted, restarted } = await fabric.adopt()
      if (adopted + restarted > 0) o.log.info({ adopted, restarted }, 'Re-adopted instances')
      const orphans = (await fabric.ready()).map((p) => ({ pid: p.pid, spawn: p.spawnId }))
      if (orphans.length > 0) o.log.warn({ orphans }, 'Stopped instance processes no record named')
    }
    if (fabric instanceof QemuFabric) {
      const { adopted, restarted } = await fabric.adopt()
      if (adopted + restarted > 0) o.log.info({ adopted, restarted }, 'Re-adopted VMs')
      const orphans = await fabric.ready()
      if (orphans > 0) o.log.warn({ orphans }, 'Stopped VMs no record named')
    }
    if (leases) {
      await wake?.start()
      await leases.tick().catch((err: unknown) => o.log.error({ err }, 'Lease round failed'))
      leases.start()
      o.log.info({ replica: leases.replicaId, held: leases.heldKeys().length }, 'Replica joined')
    }
    orchestrator?.start()
    retention.start()
  }
  const stop = async (): Promise<void> => {
    await retention.stop()
    await orchestrator?.stop()
    gates.close()
    bakeGates.close()
    await leases?.stop()
    await wake?.close()
    if (fabric instanceof QemuFabric) await fabric.close()
    prober?.close()
  }
  return { deps, orchestrator, retention, app, adminToken, subscriptionId, accel, start, stop }
}

export async function startServer(config: Config, o: { quiet?: boolean } = {}): Promise<Server> {
  const log = pino({
    level: o.quiet ? 'silent' : config.logLevel,
    redact: ['req.headers.authorization'],
  })
  for (const warning of secureDataDir(config.dataDir)) log.warn(warning)
  if (config.tls.kind === 'none' && !isLoopbackHost(config.host))
    log.warn(
      `Serving plain HTTP on ${config.host}: tokens and secrets cross the network in clear text; use --tls-cert/--tls-key or --tls self-signed`,
    )
  const metrics = createMetrics()
  const onQuery = (seconds: number, ok: boolean): void => metrics.storeQuery(seconds, ok)
  const store =
    config.store === 'postgres'
      ? await openPostgresStore({
          url: config.databaseUrl as string,
          schema: config.databaseSchema,
          onQuery,
          // Under the lease time, so a paused replica's open transaction cannot block a takeover.
          idleInTransactionTimeoutMs: Math.max(500, Math.floor(config.leaseTtlMs / 2)),
        })
      : await openSqliteStore(join(config.dataDir, 'osroll.db'), { onQuery })
  try {
    const keyFile = config.secretsKeyFile ?? join(config.dataDir, 'secrets.key')
    await store.useSecrets(loadSecretsKey(keyFile, config.secretsKeyFile === null))
  } catch (err) {
    await store.close()
    throw err
  }
  const system = await buildSystem({
    config,
    store,
    log,
    metrics,
    appLogger: o.quiet ? false : { level: 'warn' },
  })
  const { app, adminToken, subscriptionId, accel } = system
  await app.listen({ host: config.host, port: config.port })
  await system.start()
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const scheme = config.tls.kind === 'none' ? 'http' : 'https'
  const url = `${scheme}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  log.info(
    { url, dataDir: config.dataDir, fabric: config.fabric, accel: accel?.accel, subscriptionId },
    'osroll serving',
  )
  let closing: Promise<void> | null = null
  const close = () =>
    (closing ??= (async () => {
      await app.close()
      await system.stop()
      await store.close()
    })())
  return { url, adminToken, subscriptionId, accel, app, store, close }
}

/**
 * The fabric of `--fabric`: `local` (real processes, artifacts imported into
 * `{data-dir}/images`), `qemu` (real VMs, records in `{data-dir}/vms`, the accelerator chosen by
 * `--qemu-accel`) or `sim` (virtual instances kept in the store), with what publishing a source
 * means for it.
 */
async function makeFabric(
  config: Config,
  store: SqlStore,
  clock: Clock,
  onHealthChange: (probeKey: string) => void,
  metrics: Metrics,
  metadata: GuestMetadata,
): Promise<{
  fabric: SimFabric | LocalFabric | QemuFabric
  prepareSource: (uri: string) => Promise<string>
  prober: Prober | null
  accel: AccelDecision | null
}> {
  if (config.fabric === 'sim') {
    const prepareSource = async (uri: string): Promise<string> => {
      if (!uri.startsWith('sim:'))
        throw Errors.InvalidParameter(
          `This server runs the 'sim' fabric: an image source must be a sim: URI such as 'sim:?boot=2&health=healthy', not '${uri}'.`,
          'properties.source.uri',
        )
      parseSimUri(uri)
      return uri
    }
    return {
      fabric: new SimFabric({ nowMs: () => clock.nowMs(), state: store }),
      prepareSource,
      prober: null,
      accel: null,
    }
  }
  const casDir = join(config.dataDir, 'images')
  const prober = new Prober({
    onChange: onHealthChange,
    onResult: (p, r, s) => metrics.probe(p, r, s),
  })
  const confine = (uri: string): string =>
    confineImageSource(uri, { roots: imageSourceRoots(config), dataDir: config.dataDir })
  if (config.fabric === 'qemu') {
    const accel = await chooseAccel(config.qemuAccel)
    const fabric = new QemuFabric({
      rootDir: join(config.dataDir, 'vms'),
      casDir,
      state: new FileQemuState(join(config.dataDir, 'vms')),
      prober,
      addressPrefix: config.addressPrefix,
      accel: accel.accel,
      metadata,
      onChange: (scaleSetKey) => onHealthChange(scaleSetKey),
      nowMs: () => clock.nowMs(),
    })
    return { fabric, prepareSource: (uri) => fabric.prepareSource(confine(uri)), prober, accel }
  }
  const fabric = new LocalFabric({
    rootDir: join(config.dataDir, 'instances'),
    casDir,
    state: new SqlLocalState(store),
    addressPrefix: config.addressPrefix,
    osDiskMode: config.osDiskMode,
    sandbox: config.instanceSandbox,
    instanceUidBase: config.instanceUidBase,
    downloads: config.fileUris,
    prober,
    nowMs: () => clock.nowMs(),
  })
  return {
    fabric,
    prepareSource: async (uri) => `cas:${await importArtifact(confine(uri), casDir)}`,
    prober,
    accel: null,
  }
}

/** Where file:// image sources may come from: `--image-source-roots`, else the temp dir and `{data-dir}/sources`. */
function imageSourceRoots(config: Config): readonly string[] {
  // The temp dir and /tmp (the README's quick start writes there even when TMPDIR points elsewhere).
  const temp = [...new Set([realpathOr(tmpdir()), realpathOr('/tmp')])]
  return config.imageSourceRoots ?? [...temp, join(config.dataDir, 'sources')]
}

function realpathOr(d: string): string {
  try {
    return realpathSync(d)
  } catch {
    return d
  }
}

/** The HTTPS key and certificate, or null for plain HTTP; a group/other-readable key is refused. */
function tlsMaterial(config: Config): { cert: Buffer; key: Buffer } | null {
  if (config.tls.kind === 'self-signed') return selfSigned(config)
  if (config.tls.kind === 'none') return null
  assertPrivateFile(config.tls.keyFile, '--tls-key')
  return { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }
}

/** Whether `host` is a loopback address or name (plain HTTP there stays on this machine). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1'
}

function selfSigned(config: Config): { cert: Buffer; key: Buffer } {
  const extra = ['127.0.0.1', '0.0.0.0', 'localhost'].includes(config.host) ? [] : [config.host]
  const { cert, key } = ensureSelfSignedTls(config.dataDir, ['localhost', '127.0.0.1', ...extra])
  return { cert, key }
}

function timingOf(config: Config): TimingProfile {
  if (config.timing === 'azure') return AZURE_TIMING
  return {
    ...PROMPT_TIMING,
    firstDelayMaxMs: config.promptJitterMs,
    laterDelayMaxMs: config.promptJitterMs,
    retryDelayMs: DEFAULTS.promptRetryDelayMs,
  }
}

/** The data dir's admin token (mode 0600), created on first start; an Operator (above subscriptions). */
async function ensureAdminToken(store: SqlStore, dataDir: string, nowMs: number): Promise<string> {
  const file = join(dataDir, 'token')
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim()
    // A data dir from before the Operator role holds an Owner admin token: it becomes one.
    if ((await store.getToken(hashToken(token)))?.role !== OPERATOR) {
      await store.putToken({
        hash: hashToken(token),
        role: OPERATOR,
        subscriptions: [],
        label: 'admin',
        createdAtMs: nowMs,
      })
    }
    return token
  }
  const token = await createToken(store, {
    role: OPERATOR,
    subscriptions: [],
    label: 'admin',
    nowMs,
  })
  writeFileSync(file, token + '\n', { mode: 0o600 })
  chmodSync(file, 0o600)
  return token
}
