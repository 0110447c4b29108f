/**
 * osroll's configuration: parsed and validated once (STYLE R17) from flags, then `OSROLL_*`
 * environment variables, then the defaults of `defaults.ts`. Every later module takes the
 * `Config` it needs as a value.
 */
import { parseOutboundHosts } from '../core/gates/outbound.js'
import { resolve } from 'node:path'
import { parseDurationMs } from '../core/duration.js'
import { DEFAULTS } from './defaults.js'
import { QEMU_ACCELS } from '../fabrics/types/qemu-options.js'
import type { AccelChoice } from '../fabrics/types/qemu-options.js'
import { OS_DISK_MODES, SANDBOX_MODES } from '../fabrics/types/local-options.js'
import type { DownloadPolicy, OsDiskMode, SandboxMode } from '../fabrics/types/local-options.js'

/** pino's levels, most severe first; `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export type Config = Readonly<{
  host: string
  port: number
  dataDir: string
  fabric: 'sim' | 'local' | 'qemu'
  /** The qemu fabric's accelerator: auto (KVM when measured faster than TCG), kvm, tcg. */
  qemuAccel: AccelChoice
  store: 'sqlite' | 'postgres'
  databaseUrl: string | null
  /** PostgreSQL schema of osroll's tables (default public). */
  databaseSchema: string
  /**
   * This replica's name in leases (PostgreSQL store only); default host-pid-random, so a restarted
   * process is a new replica.
   */
  replicaId: string | null
  /** How long a replica's lease on a scale set lasts without renewal. */
  leaseTtlMs: number
  tls: Readonly<
    | { kind: 'none' }
    | { kind: 'files'; certFile: string; keyFile: string }
    | { kind: 'self-signed' }
  >
  timing: 'prompt' | 'azure'
  healthDeadlineMs: number
  /** Jitter of prompt timing; 0 turns it off (benchmarks). */
  promptJitterMs: number
  retryAfterSeconds: number
  /** Level of the process log (access lines are `info`). */
  logLevel: LogLevel
  /** Delay of gallery replication to each target region. */
  replicationDelayMs: number
  /** The /16 of the local fabric's instance addresses, as its first two octets (default 127.77). */
  addressPrefix: string
  /** Rollout history kept per set: newer than this (at least the last 100 are always kept). */
  historyRetentionMs: number
  /** API requests per minute per token (per address without one); 0: no limit. */
  rateLimitPerMinute: number
  /** How the local fabric builds OS disks: auto (reflink, else hard links), reflink, link, copy. */
  osDiskMode: OsDiskMode
  /** Instances (the capacity of all scale sets) a subscription may have; 0: no limit. */
  maxInstancesPerSubscription: number
  /** Concurrent `/events` streams per token (per process); 0: no limit. */
  maxEventStreamsPerToken: number
  /** How long an ended long-running operation stays readable before the sweep deletes it. */
  operationRetentionMs: number
  /** The key secrets are sealed with in the store; null: `{data-dir}/secrets.key`, made at first start. */
  secretsKeyFile: string | null
  /** Where local instances run: auto (bubblewrap when it works, else none, loudly), bwrap, none. */
  instanceSandbox: SandboxMode
  /** First uid of local instances when osroll runs as root (sandbox.ts `instanceUid`). */
  instanceUidBase: number
  /** What Custom Script fileUris may reach: file:// roots, a size cap, loopback/link-local. */
  fileUris: DownloadPolicy
  /**
   * Directories file:// image sources (platform image publish, gallery image versions) may be
   * read from; null: the defaults, the system temp dir and `{data-dir}/sources`.
   */
  imageSourceRoots: readonly string[] | null
  /**
   * The compatibility switch (docs/operations.md § Resource groups): a resource PUT into a
   * group that does not exist creates the group, in the resource's location, instead of
   * answering `ResourceGroupNotFound` as Azure does.
   */
  implicitResourceGroups: boolean
  /**
   * The hosts health gates and lifecycle hooks may call (docs/security.md § Outbound calls):
   * patterns of core/gates/outbound.ts; null: any host.
   */
  outboundHosts: readonly string[] | null
}>

/** Raw values from flags (camelCase) or the environment (`OSROLL_HOST`, `OSROLL_PORT`, …). */
export type RawConfig = Partial<Record<keyof typeof ENV_NAMES, string>>

export const ENV_NAMES = {
  host: 'OSROLL_HOST',
  port: 'OSROLL_PORT',
  dataDir: 'OSROLL_DATA_DIR',
  fabric: 'OSROLL_FABRIC',
  qemuAccel: 'OSROLL_QEMU_ACCEL',
  store: 'OSROLL_STORE',
  databaseUrl: 'OSROLL_DATABASE_URL',
  databaseSchema: 'OSROLL_DATABASE_SCHEMA',
  replicaId: 'OSROLL_REPLICA_ID',
  leaseTtl: 'OSROLL_LEASE_TTL',
  tls: 'OSROLL_TLS',
  tlsCert: 'OSROLL_TLS_CERT',
  tlsKey: 'OSROLL_TLS_KEY',
  timing: 'OSROLL_TIMING',
  healthDeadline: 'OSROLL_HEALTH_DEADLINE',
  promptJitter: 'OSROLL_PROMPT_JITTER',
  retryAfter: 'OSROLL_RETRY_AFTER',
  logLevel: 'OSROLL_LOG_LEVEL',
  replicationDelay: 'OSROLL_REPLICATION_DELAY',
  addressRange: 'OSROLL_ADDRESS_RANGE',
  historyRetention: 'OSROLL_HISTORY_RETENTION',
  rateLimit: 'OSROLL_RATE_LIMIT',
  osDiskMode: 'OSROLL_OS_DISK_MODE',
  maxInstancesPerSubscription: 'OSROLL_MAX_INSTANCES_PER_SUBSCRIPTION',
  maxEventStreamsPerToken: 'OSROLL_MAX_EVENT_STREAMS_PER_TOKEN',
  operationRetention: 'OSROLL_OPERATION_RETENTION',
  secretsKeyFile: 'OSROLL_SECRETS_KEY_FILE',
  instanceSandbox: 'OSROLL_INSTANCE_SANDBOX',
  instanceUidBase: 'OSROLL_INSTANCE_UID_BASE',
  fileUriRoots: 'OSROLL_FILE_URI_ROOTS',
  fileUriMaxBytes: 'OSROLL_FILE_URI_MAX_BYTES',
  fileUriAllowLocal: 'OSROLL_FILE_URI_ALLOW_LOCAL',
  imageSourceRoots: 'OSROLL_IMAGE_SOURCE_ROOTS',
  implicitResourceGroups: 'OSROLL_IMPLICIT_RESOURCE_GROUPS',
  outboundHosts: 'OSROLL_OUTBOUND_HOSTS',
} as const

/** A configuration problem, reported as `--flag (OSROLL_ENV): what is wrong`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

type Key = keyof typeof ENV_NAMES
type DurationKey =
  | 'healthDeadline'
  | 'promptJitter'
  | 'replicationDelay'
  | 'historyRetention'
  | 'leaseTtl'
  | 'operationRetention'

/** How the checks read a value (flag, then variable) and say what is wrong with it. */
type Reader = Readonly<{
  get: (k: Key) => string | undefined
  fail: (k: Key, msg: string) => never
  duration: (k: DurationKey, fallback: string) => number
  count: (k: 'maxInstancesPerSubscription' | 'maxEventStreamsPerToken', d: number) => number
}>

/**
 * Checks in a fixed order (the first problem is the one reported): the server's shape, its
 * service settings, the lifetimes, then the rest as the result is built.
 * @example loadConfig({ port: '8080' }, { OSROLL_FABRIC: 'sim' }).port === 8080
 */
export function loadConfig(flags: RawConfig, env: NodeJS.ProcessEnv): Config {
  const r = readerOf(flags, env)
  const { get, duration, count } = r
  const { port, fabric, qemuAccel, store, timing } = shapeOf(r)
  const { retryAfter, logLevel, databaseSchema, replicaId, rateLimit, osDiskMode } = serviceOf(r)
  const { operationRetentionMs, leaseTtlMs, implicitGroups } = lifetimesOf(r)
  return {
    host: get('host') ?? DEFAULTS.host,
    port,
    dataDir: resolve(get('dataDir') ?? DEFAULTS.dataDir),
    fabric: fabric as Config['fabric'],
    qemuAccel: qemuAccel as AccelChoice,
    store: store as Config['store'],
    databaseUrl: get('databaseUrl') ?? null,
    databaseSchema,
    replicaId,
    leaseTtlMs,
    tls: tlsOf(get('tls'), get('tlsCert'), get('tlsKey'), r.fail),
    timing: timing as Config['timing'],
    healthDeadlineMs: duration('healthDeadline', DEFAULTS.healthDeadline),
    promptJitterMs: duration('promptJitter', DEFAULTS.promptJitter),
    retryAfterSeconds: retryAfter,
    logLevel: logLevel as LogLevel,
    replicationDelayMs: duration('replicationDelay', DEFAULTS.replicationDelay),
    addressPrefix: addressPrefixOf(get('addressRange') ?? DEFAULTS.addressRange, r.fail),
    historyRetentionMs: duration('historyRetention', DEFAULTS.historyRetention),
    rateLimitPerMinute: rateLimit,
    osDiskMode: osDiskMode as OsDiskMode,
    maxInstancesPerSubscription: count(
      'maxInstancesPerSubscription',
      DEFAULTS.maxInstancesPerSubscription,
    ),
    maxEventStreamsPerToken: count('maxEventStreamsPerToken', DEFAULTS.maxEventStreamsPerToken),
    operationRetentionMs,
    secretsKeyFile: get('secretsKeyFile') ? resolve(get('secretsKeyFile') as string) : null,
    implicitResourceGroups: implicitGroups === 'true',
    outboundHosts: outboundHostsOf(get('outboundHosts'), r.fail),
    ...instancesOf(r.get, r.fail),
  }
}

function readerOf(flags: RawConfig, env: NodeJS.ProcessEnv): Reader {
  const get = (k: Key): string | undefined => flags[k] ?? env[ENV_NAMES[k]] ?? undefined
  const fail = (k: Key, msg: string): never => {
    throw new ConfigError(`--${kebab(k)} (${ENV_NAMES[k]}): ${msg}`)
  }
  const duration = (k: DurationKey, fallback: string): number => {
    const text = get(k) ?? fallback
    const ms = parseDurationMs(text)
    return ms ?? fail(k, `'${text}' is not an ISO-8601 duration such as PT5M`)
  }
  const count = (k: 'maxInstancesPerSubscription' | 'maxEventStreamsPerToken', d: number) => {
    const n = Number(get(k) ?? d)
    return Number.isInteger(n) && n >= 0 && n <= 1e9
      ? n
      : fail(k, `'${get(k)}' must be a whole number from 0 (no limit) to 1000000000`)
  }
  return { get, fail, duration, count }
}

/** Where it listens, what runs instances, which store, which timing. */
function shapeOf({ get, fail }: Reader) {
  const port = Number(get('port') ?? DEFAULTS.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    fail('port', `'${get('port')}' is not a port number`)
  const fabric = get('fabric') ?? DEFAULTS.fabric
  if (fabric !== 'sim' && fabric !== 'local' && fabric !== 'qemu')
    fail('fabric', `'${fabric}' is not one of local, sim, qemu`)
  const qemuAccel = get('qemuAccel') ?? DEFAULTS.qemuAccel
  if (!(QEMU_ACCELS as readonly string[]).includes(qemuAccel))
    fail('qemuAccel', `'${qemuAccel}' is not one of ${QEMU_ACCELS.join(', ')}`)
  const store = get('store') ?? DEFAULTS.store
  if (store !== 'sqlite' && store !== 'postgres')
    fail('store', `'${store}' is not one of sqlite, postgres`)
  if (store === 'postgres' && !get('databaseUrl'))
    fail('databaseUrl', 'is required with --store postgres, e.g. postgres://user@host:5432/osroll')
  const timing = get('timing') ?? DEFAULTS.timing
  if (timing !== 'prompt' && timing !== 'azure')
    fail('timing', `'${timing}' is not one of prompt, azure`)
  return { port, fabric, qemuAccel, store, timing }
}

/** Retry-After, the log level, the database schema, the replica's name, the rate limit, disks. */
function serviceOf({ get, fail }: Reader) {
  const retryAfter = Number(get('retryAfter') ?? DEFAULTS.retryAfterSeconds)
  if (!Number.isInteger(retryAfter) || retryAfter < 1 || retryAfter > 60)
    fail('retryAfter', 'must be whole seconds from 1 to 60')
  const logLevel = get('logLevel') ?? DEFAULTS.logLevel
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    fail('logLevel', `'${logLevel}' is not one of ${LOG_LEVELS.join(', ')}`)
  const databaseSchema = get('databaseSchema') ?? 'public'
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(databaseSchema))
    fail('databaseSchema', `'${databaseSchema}' must be a lower-case SQL identifier`)
  const replicaId = get('replicaId') ?? null
  if (replicaId !== null && !/^[A-Za-z0-9._-]{1,100}$/.test(replicaId))
    fail('replicaId', `'${replicaId}' must be 1–100 letters, digits, '.', '_' or '-'`)
  const rateLimit = Number(get('rateLimit') ?? DEFAULTS.rateLimitPerMinute)
  if (!Number.isInteger(rateLimit) || rateLimit < 0)
    fail('rateLimit', 'must be a whole number of requests per minute per token, or 0 for no limit')
  const osDiskMode = get('osDiskMode') ?? DEFAULTS.osDiskMode
  if (!(OS_DISK_MODES as readonly string[]).includes(osDiskMode))
    fail('osDiskMode', `'${osDiskMode}' is not one of ${OS_DISK_MODES.join(', ')}`)
  return { retryAfter, logLevel, databaseSchema, replicaId, rateLimit, osDiskMode }
}

/** How long operations stay readable and leases last; the resource group compatibility switch. */
function lifetimesOf({ get, fail, duration }: Reader) {
  const operationRetentionMs = duration('operationRetention', DEFAULTS.operationRetention)
  if (operationRetentionMs < 60_000)
    fail('operationRetention', 'must be at least PT1M (clients poll operations after the call)')
  const leaseTtlMs = duration('leaseTtl', DEFAULTS.leaseTtl)
  if (leaseTtlMs < 1000 || leaseTtlMs > 60_000) fail('leaseTtl', 'must be from PT1S to PT60S')
  const implicitGroups = get('implicitResourceGroups') ?? String(DEFAULTS.implicitResourceGroups)
  if (implicitGroups !== 'true' && implicitGroups !== 'false')
    fail('implicitResourceGroups', `'${implicitGroups}' is not one of true, false`)
  return { operationRetentionMs, leaseTtlMs, implicitGroups }
}

/** `--outbound-hosts`: a comma-separated list of host patterns; unset: any host. */
function outboundHostsOf(
  text: string | undefined,
  fail: (k: keyof typeof ENV_NAMES, msg: string) => never,
): readonly string[] | null {
  if (text === undefined) return null
  const parsed = parseOutboundHosts(text)
  if (!parsed.ok)
    return fail(
      'outboundHosts',
      `'${parsed.bad}' is not a host pattern: use host, host:port, *.domain or [IPv6]:port, comma-separated`,
    )
  if (parsed.patterns.length === 0)
    return fail('outboundHosts', 'names no host: give at least one, or leave it unset for any host')
  return parsed.patterns
}

/** The local fabric's sandbox and fileUris options. */
function instancesOf(
  get: (k: Key) => string | undefined,
  fail: (k: Key, msg: string) => never,
): Pick<Config, 'instanceSandbox' | 'instanceUidBase' | 'fileUris' | 'imageSourceRoots'> {
  const sandbox = get('instanceSandbox') ?? DEFAULTS.instanceSandbox
  if (!(SANDBOX_MODES as readonly string[]).includes(sandbox))
    fail('instanceSandbox', `'${sandbox}' is not one of ${SANDBOX_MODES.join(', ')}`)
  const uidBase = Number(get('instanceUidBase') ?? DEFAULTS.instanceUidBase)
  if (!Number.isInteger(uidBase) || uidBase < 1000 || uidBase > 4_278_190_000)
    fail('instanceUidBase', 'must be a whole number from 1000 to 4278190000 (2^32 - 2^24 - 2)')
  const maxBytes = Number(get('fileUriMaxBytes') ?? DEFAULTS.fileUriMaxBytes)
  if (!Number.isInteger(maxBytes) || maxBytes < 1)
    fail('fileUriMaxBytes', 'must be a whole number of bytes, e.g. 268435456 (256 MiB)')
  const allowLocal = get('fileUriAllowLocal') ?? 'false'
  if (allowLocal !== 'true' && allowLocal !== 'false')
    fail('fileUriAllowLocal', `'${allowLocal}' is not one of true, false`)
  const roots = (get('fileUriRoots') ?? '').split(':').filter((r) => r !== '')
  for (const r of roots)
    if (!r.startsWith('/')) fail('fileUriRoots', `'${r}' must be an absolute directory`)
  const imageRoots = get('imageSourceRoots')
  const imageSourceRoots =
    imageRoots === undefined ? null : imageRoots.split(':').filter((r) => r !== '')
  for (const r of imageSourceRoots ?? [])
    if (!r.startsWith('/')) fail('imageSourceRoots', `'${r}' must be an absolute directory`)
  return {
    imageSourceRoots: imageSourceRoots?.map((r) => resolve(r)) ?? null,
    instanceSandbox: sandbox as SandboxMode,
    instanceUidBase: uidBase,
    fileUris: {
      fileRoots: roots.map((r) => resolve(r)),
      maxBytes,
      allowLocal: allowLocal === 'true',
    },
  }
}

function tlsOf(
  mode: string | undefined,
  cert: string | undefined,
  key: string | undefined,
  fail: (k: Key, msg: string) => never,
): Config['tls'] {
  if (mode !== undefined && mode !== 'self-signed')
    fail('tls', `'${mode}' is not supported; use --tls self-signed or --tls-cert/--tls-key`)
  if (mode === 'self-signed') {
    if (cert || key) fail('tls', 'use either --tls self-signed or --tls-cert/--tls-key, not both')
    return { kind: 'self-signed' }
  }
  if (cert || key) {
    if (!cert || !key) fail(cert ? 'tlsKey' : 'tlsCert', 'needs both --tls-cert and --tls-key')
    return { kind: 'files', certFile: resolve(cert as string), keyFile: resolve(key as string) }
  }
  return { kind: 'none' }
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}

/** `127.a.0.0/16` → `127.a`: instances bind loopback addresses, so the range must be in 127/8. */
function addressPrefixOf(text: string, fail: (k: Key, msg: string) => never): string {
  const m = /^127\.(\d{1,3})\.0\.0\/16$/.exec(text)
  if (!m || Number(m[1]) > 255)
    return fail(
      'addressRange',
      `'${text}' must be a /16 of the loopback range, such as 127.77.0.0/16`,
    )
  return `127.${m[1]}`
}
