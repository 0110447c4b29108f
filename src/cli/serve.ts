/**
 * `osroll serve`: the API and the orchestrator in one process (docs/operations.md § Configuration).
 * Every flag also has
 * an `OSROLL_*` environment variable; SIGTERM and SIGINT shut down gracefully.
 */
import type { Command } from 'commander'
import { ConfigError, loadConfig } from '../config/config.js'
import type { Config, RawConfig } from '../config/config.js'
import { startServer } from '../main.js'
import type { Server } from '../main.js'
import { DataDirError } from '../config/data-dir.js'
import { SecretsKeyError } from '../store/secrets.js'
import { resolveSandbox } from '../fabrics/local/sandbox.js'

/**
 * The flags of `osroll serve`, in the order `--help` lists them: the config key each sets, the
 * flag and its help. A declarative table: each row is one option, handed as given to loadConfig.
 */
const SERVE_OPTIONS: readonly (readonly [keyof RawConfig, string, string])[] = [
  ['host', '--host <host>', 'address to listen on (OSROLL_HOST)'],
  ['port', '--port <port>', 'port to listen on, 0 for any (OSROLL_PORT)'],
  ['dataDir', '--data-dir <dir>', 'where state, the admin token and logs live (OSROLL_DATA_DIR)'],
  [
    'fabric',
    '--fabric <fabric>',
    'what runs instances: local (default, real processes), qemu (real VMs) or sim (OSROLL_FABRIC)',
  ],
  [
    'qemuAccel',
    '--qemu-accel <accel>',
    'qemu fabric: auto (default: KVM when measured faster than TCG), kvm or tcg (OSROLL_QEMU_ACCEL)',
  ],
  [
    'store',
    '--store <store>',
    'sqlite (default, a file in the data dir) or postgres (OSROLL_STORE)',
  ],
  [
    'databaseUrl',
    '--database-url <url>',
    'PostgreSQL URL for --store postgres (OSROLL_DATABASE_URL)',
  ],
  [
    'databaseSchema',
    '--database-schema <name>',
    "PostgreSQL schema of osroll's tables, default public (OSROLL_DATABASE_SCHEMA)",
  ],
  [
    'replicaId',
    '--replica-id <id>',
    'name of this replica in leases, default host-pid-random (OSROLL_REPLICA_ID)',
  ],
  [
    'leaseTtl',
    '--lease-ttl <duration>',
    "how long a replica's lease on a scale set lasts, default PT10S (OSROLL_LEASE_TTL)",
  ],
  ['tlsCert', '--tls-cert <file>', 'serve HTTPS with this PEM certificate (OSROLL_TLS_CERT)'],
  ['tlsKey', '--tls-key <file>', 'and this PEM key (OSROLL_TLS_KEY)'],
  [
    'tls',
    '--tls <mode>',
    'self-signed: a CA kept in {data-dir}/tls/ca.crt signs a certificate for localhost and 127.0.0.1 (OSROLL_TLS)',
  ],
  [
    'timing',
    '--timing <profile>',
    "prompt (default) or azure: when a new version's rollout starts (OSROLL_TIMING)",
  ],
  [
    'healthDeadline',
    '--health-deadline <duration>',
    'per-instance health wait, ISO 8601, default PT5M (OSROLL_HEALTH_DEADLINE)',
  ],
  [
    'promptJitter',
    '--prompt-jitter <duration>',
    'largest per-set delay of prompt timing, default PT30S (OSROLL_PROMPT_JITTER)',
  ],
  [
    'replicationDelay',
    '--replication-delay <duration>',
    'how long a gallery version takes to reach each region, default PT5S (OSROLL_REPLICATION_DELAY)',
  ],
  [
    'addressRange',
    '--address-range <cidr>',
    "the local fabric's instance addresses, a /16 of 127/8 (OSROLL_ADDRESS_RANGE, default 127.77.0.0/16)",
  ],
  [
    'rateLimit',
    '--rate-limit <n>',
    'API requests per minute per token, 0 for none; default 60000 (OSROLL_RATE_LIMIT)',
  ],
  [
    'osDiskMode',
    '--os-disk-mode <mode>',
    'local fabric OS disks: auto (default: reflink clones, else hard links to a read-only shared copy), reflink, link, copy (OSROLL_OS_DISK_MODE)',
  ],
  [
    'instanceSandbox',
    '--instance-sandbox <mode>',
    'where local instances run: auto (default: bubblewrap when it works, else none with a warning), bwrap, none (OSROLL_INSTANCE_SANDBOX)',
  ],
  [
    'instanceUidBase',
    '--instance-uid-base <uid>',
    'first uid of local instances when osroll runs as root, default 2000000000 (OSROLL_INSTANCE_UID_BASE)',
  ],
  [
    'fileUriRoots',
    '--file-uri-roots <dirs>',
    'directories (colon-separated) Custom Script file:// fileUris may read; default none (OSROLL_FILE_URI_ROOTS)',
  ],
  [
    'imageSourceRoots',
    '--image-source-roots <dirs>',
    'directories (colon-separated) file:// image sources may be read from; default the temp dir, /tmp and {data-dir}/sources; empty: none (OSROLL_IMAGE_SOURCE_ROOTS)',
  ],
  [
    'fileUriMaxBytes',
    '--file-uri-max-bytes <n>',
    'largest fileUris download, default 268435456 (OSROLL_FILE_URI_MAX_BYTES)',
  ],
  [
    'fileUriAllowLocal',
    '--file-uri-allow-local <bool>',
    'true: fileUris may reach loopback and link-local addresses; default false (OSROLL_FILE_URI_ALLOW_LOCAL)',
  ],
  [
    'historyRetention',
    '--history-retention <duration>',
    'rollout history kept per set, default P90D; the last 100 are always kept (OSROLL_HISTORY_RETENTION)',
  ],
  [
    'maxInstancesPerSubscription',
    '--max-instances-per-subscription <n>',
    'instances (capacity of all scale sets) per subscription, 0 for none; default 10000 (OSROLL_MAX_INSTANCES_PER_SUBSCRIPTION)',
  ],
  [
    'maxEventStreamsPerToken',
    '--max-event-streams-per-token <n>',
    'concurrent /events streams per token, 0 for none; default 16 (OSROLL_MAX_EVENT_STREAMS_PER_TOKEN)',
  ],
  [
    'operationRetention',
    '--operation-retention <duration>',
    'how long an ended operation stays readable, default P1D (OSROLL_OPERATION_RETENTION)',
  ],
  [
    'logLevel',
    '--log-level <level>',
    'fatal, error, warn, info (default: with one access line per request), debug, trace or silent (OSROLL_LOG_LEVEL)',
  ],
  [
    'secretsKeyFile',
    '--secrets-key-file <file>',
    'AES-256 key (32 bytes, mode 0600) sealing secrets in the store; default {data-dir}/secrets.key, made at first start (OSROLL_SECRETS_KEY_FILE)',
  ],
  [
    'implicitResourceGroups',
    '--implicit-resource-groups [bool]',
    "compatibility: a resource PUT into a missing resource group creates the group (osroll's behaviour before resource groups); default false, as in Azure (OSROLL_IMPLICIT_RESOURCE_GROUPS)",
  ],
  [
    'outboundHosts',
    '--outbound-hosts <list>',
    'the only hosts health gates and lifecycle hooks may call: host, host:port, *.domain, [IPv6]:port, comma-separated; default any host (OSROLL_OUTBOUND_HOSTS)',
  ],
]

export function registerServe(program: Command): void {
  const serve = program
    .command('serve')
    .description('run the API, the orchestrator and the dashboard in one process')
  for (const [, flags, help] of SERVE_OPTIONS) serve.option(flags, help, undefined)
  serve
    .addHelpText(
      'after',
      '\nExamples:\n  osroll serve --fabric sim --port 7280 --data-dir ./.osroll\n' +
        '  osroll serve --store postgres --database-url postgres://osroll@db:5432/osroll  # one of several replicas\n',
    )
    .action((flags: Record<string, string | boolean | undefined>) => runServe(flags))
}

/** Starts the server, says where it serves, and stops it on SIGTERM or SIGINT. */
async function runServe(flags: Record<string, string | boolean | undefined>): Promise<void> {
  const config = configOf(flags)
  const sandbox = await sandboxLine(config)
  const server = await startOrExit(config)
  printStarted(config, server, sandbox)
  const stop = async (signal: string) => {
    console.log(`osroll: ${signal}, shutting down`)
    await server.close()
    process.exit(0)
  }
  process.once('SIGTERM', () => void stop('SIGTERM'))
  process.once('SIGINT', () => void stop('SIGINT'))
}

/** The config of the flags given (then OSROLL_* variables); exit 2 with the problem if wrong. */
function configOf(flags: Record<string, string | boolean | undefined>): Config {
  const raw: RawConfig = {}
  // A flag given alone (`--implicit-resource-groups`) is true.
  for (const [key] of SERVE_OPTIONS) if (flags[key] !== undefined) raw[key] = String(flags[key])
  try {
    return loadConfig(raw, process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`osroll serve: ${err.message}`)
      process.exit(2)
    }
    throw err
  }
}

/** The server started; exit 2 when it cannot run here, 1 when its address is taken. */
async function startOrExit(config: Config): Promise<Server> {
  try {
    return await startServer(config)
  } catch (err) {
    if (
      err instanceof DataDirError ||
      err instanceof SecretsKeyError ||
      // the fabric cannot run here (qemu tools missing): main's AppError, by its code
      (err as { code?: unknown }).code === 'FabricUnavailable'
    ) {
      console.error(`osroll serve: ${(err as Error).message}`)
      process.exit(2)
    }
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
    console.error(`osroll serve: ${config.host}:${config.port} is already in use`)
    console.error('hint: stop the other osroll (or program) there, or pass --port')
    process.exit(1)
  }
}

/** The start lines: where it serves, the subscription, the sandbox, the dashboard, TLS, the token. */
function printStarted(config: Config, server: Server, sandbox: string | null): void {
  console.log(
    `osroll is serving ${server.url} (fabric ${config.fabric}${server.accel ? `, VMs under ${server.accel.accel.toUpperCase()}: ${server.accel.reason}` : ''}, data in ${config.dataDir})`,
  )
  console.log(`  default subscription: ${server.subscriptionId}`)
  if (sandbox) console.log(sandbox)
  console.log(
    `  dashboard: ${server.url}/  (paste the admin token, or open ${server.url}/#token=…)`,
  )
  if (config.tls.kind === 'self-signed')
    console.log(
      `  TLS: trust ${config.dataDir}/tls/ca.crt (NODE_EXTRA_CA_CERTS for Node, REQUESTS_CA_BUNDLE for az)`,
    )
  console.log(
    `  admin token: ${config.dataDir}/token  (curl -H "Authorization: Bearer $(cat ${config.dataDir}/token)" "${server.url}/subscriptions?api-version=2024-07-01")`,
  )
}

/**
 * The local fabric's sandbox, probed before start (the fabric then uses the same result): the
 * start line that says it, a loud warning on stderr when instances run unsandboxed, or exit 2
 * when `--instance-sandbox bwrap` cannot work here.
 */
async function sandboxLine(config: Config): Promise<string | null> {
  if (config.fabric !== 'local') return null
  const s = await resolveSandbox(config.instanceSandbox, config.instanceUidBase).catch(
    (err: unknown) => {
      console.error(`osroll serve: ${(err as Error).message}`)
      return process.exit(2)
    },
  )
  if (s.kind === 'bwrap')
    return `  instances: sandboxed (bubblewrap${s.perInstanceUid ? `, uids from ${s.uidBase}` : ''})`
  console.error(
    `osroll serve: WARNING: local instances are NOT sandboxed (${s.reason}): boot files, custom ` +
      `data and Custom Script commands run as osroll's own user and can read its token, ` +
      `database and TLS keys (docs/security.md). Install bubblewrap, or run only trusted images ` +
      `and let only trusted users write scale sets.`,
  )
  return `  instances: NOT sandboxed (${s.reason})`
}
