/** Every default of osroll's configuration, in one place (STYLE R17). */
export const DEFAULTS = {
  host: '127.0.0.1',
  port: 7280,
  dataDir: './.osroll',
  fabric: 'local',
  /** The qemu fabric's accelerator: KVM only where it measures faster than TCG (accel.ts). */
  qemuAccel: 'auto',
  store: 'sqlite',
  timing: 'prompt',
  /** How often every registered host is checked over SSH (docs/api.md § Hosts). */
  hostCheckIntervalMs: 30_000,
  /** Azure's fixed per-instance health wait (docs/rollouts.md R4). */
  healthDeadline: 'PT5M',
  promptJitter: 'PT30S',
  retryAfterSeconds: 1,
  /** pino level of the process log; `info` includes one access line per request. */
  logLevel: 'info',
  replicationDelay: 'PT5S',
  /**
   * The local fabric's instance addresses
   * (docs/architecture.md § Local images and their environment).
   */
  addressRange: '127.77.0.0/16',
  /** Rollout history kept per set (docs/rollouts.md R9); the last 100 are kept regardless. */
  historyRetention: 'P90D',
  /** A replica's lease on a scale set (PostgreSQL store): a dead one's sets move within ~12 s. */
  leaseTtl: 'PT10S',
  /** API requests per minute per token: 1,000/s sustained, far above any client's need. */
  rateLimitPerMinute: 60_000,
  /** Local fabric OS disks: clones where the filesystem has them, else hard links (os-disks.ts). */
  osDiskMode: 'auto',
  /** Instances per subscription (Azure's default regional vCPU quotas are of this order). */
  maxInstancesPerSubscription: 10_000,
  /** `/events` streams per token: a few dashboards' tabs and a CLI or two. */
  maxEventStreamsPerToken: 16,
  /** Ended operations stay readable a day (clients poll them within minutes). */
  operationRetention: 'P1D',
  /** Local instances in bubblewrap when it works here, else unsandboxed with a warning. */
  instanceSandbox: 'auto',
  /** First uid of local instances under root: far above real users and subuid ranges. */
  instanceUidBase: 2_000_000_000,
  /** Largest Custom Script fileUris download: 256 MiB. */
  fileUriMaxBytes: 256 * 1024 * 1024,
  /**
   * Resource groups must exist before resources go in them, as in Azure; true brings back the
   * implicit groups of osroll before issue 18 (docs/operations.md § Resource groups).
   */
  implicitResourceGroups: false,
  /** Retry delay after a non-faulted platform rollout (prompt / azure), docs/decisions.md. */
  promptRetryDelayMs: 10 * 60_000,
} as const

/** Regions `GET /subscriptions/{sub}/locations` lists. Resources may use any other name too. */
export const LOCATIONS = [
  'eastus',
  'eastus2',
  'westus',
  'westus2',
  'centralus',
  'northeurope',
  'westeurope',
  'uksouth',
  'japaneast',
  'australiaeast',
]

/**
 * Platform image SKUs that support automatic OS upgrades unless the publisher says otherwise:
 * exactly the seed's table. Keys are lower-cased `publisher:offer:sku`.
 */
export const AUTO_UPGRADE_SKUS: ReadonlySet<string> = new Set(
  [
    'Canonical:UbuntuServer:16.04-LTS',
    'Canonical:UbuntuServer:18.04-LTS',
    'OpenLogic:CentOS:7.5',
    'CoreOS:CoreOS:Stable',
    'MicrosoftWindowsServer:WindowsServer:2012-R2-Datacenter',
    'MicrosoftWindowsServer:WindowsServer:2016-Datacenter',
    'MicrosoftWindowsServer:WindowsServer:2016-Datacenter-Smalldisk',
    'MicrosoftWindowsServer:WindowsServer:2016-Datacenter-with-Containers',
    'MicrosoftWindowsServer:WindowsServer:2019-Datacenter',
    'MicrosoftWindowsServer:WindowsServer:2019-Datacenter-Smalldisk',
    'MicrosoftWindowsServer:WindowsServer:2019-Datacenter-with-Containers',
    'MicrosoftWindowsServer:WindowsServer:Datacenter-Core-1903-with-Containers-smalldisk',
  ].map((s) => s.toLowerCase()),
)
