/**
 * The fabric of `--fabric`, made for the composition root (main.ts): `local` (real processes,
 * artifacts imported into `{data-dir}/images`), `qemu` (real VMs, records in `{data-dir}/vms`,
 * the accelerator chosen by `--qemu-accel`) or `sim` (virtual instances kept in the store), with
 * what publishing a source means for it, what it does at start (adopt what runs) and at stop.
 */
import { realpathSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import type { Config } from '../config/config.js'
import type { SqlStore } from '../store/sql/sql-store.js'
import { SimFabric } from '../fabrics/sim/sim-fabric.js'
import { LocalFabric } from '../fabrics/local/local-fabric.js'
import { QemuFabric } from '../fabrics/qemu/qemu-fabric.js'
import { FileQemuState } from '../fabrics/qemu/qemu-state.js'
import { chooseAccel } from '../fabrics/qemu/accel.js'
import type { AccelDecision } from '../fabrics/qemu/accel.js'
import type { GuestMetadata } from '../fabrics/types/metadata.js'
import { confineImageSource, importArtifact } from '../fabrics/host/artifacts.js'
import { parseSimUri } from '../fabrics/sim/sim-behaviour.js'
import { SqlLocalState } from '../store/sql/sql-local-state.js'
import { Prober } from '../health/prober.js'
import type { Metrics } from '../runtime/metrics.js'
import type { Clock } from '../runtime/clock.js'
import type { Logger } from '../runtime/logger.js'
import { Errors } from '../errors.js'

export type FabricParts = Readonly<{
  fabric: SimFabric | LocalFabric | QemuFabric
  prepareSource: (uri: string) => Promise<string>
  prober: Prober | null
  accel: AccelDecision | null
  /** At start, before the orchestrator: re-adopts the instances that run, stops orphans. */
  adopt: (log: Logger) => Promise<void>
  /** At stop, last: stops the fabric's own work (the prober); instances keep running. */
  close: () => Promise<void>
}>

/** What the fabric is handed: the store, the clock, whom to wake, metrics, the guests' service. */
export type FabricNeeds = Readonly<{
  config: Config
  store: SqlStore
  clock: Clock
  onHealthChange: (probeKey: string) => void
  metrics: Metrics
  metadata: GuestMetadata
}>

export async function makeFabric(n: FabricNeeds): Promise<FabricParts> {
  if (n.config.fabric === 'sim') return simFabric(n)
  const prober = new Prober({
    onChange: n.onHealthChange,
    onResult: (p, r, s) => n.metrics.probe(p, r, s),
  })
  return n.config.fabric === 'qemu' ? qemuFabric(n, prober) : localFabric(n, prober)
}

/** Virtual instances in the store; an image source is a `sim:` URI. */
function simFabric({ store, clock }: FabricNeeds): FabricParts {
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
    adopt: async () => undefined,
    close: async () => undefined,
  }
}

async function qemuFabric(n: FabricNeeds, prober: Prober): Promise<FabricParts> {
  const { config, clock } = n
  const accel = await chooseAccel(config.qemuAccel)
  const fabric = new QemuFabric({
    rootDir: join(config.dataDir, 'vms'),
    casDir: join(config.dataDir, 'images'),
    state: new FileQemuState(join(config.dataDir, 'vms')),
    prober,
    addressPrefix: config.addressPrefix,
    accel: accel.accel,
    accelReason: accel.reason,
    downloads: config.fileUris,
    metadata: n.metadata,
    onChange: (scaleSetKey) => n.onHealthChange(scaleSetKey),
    nowMs: () => clock.nowMs(),
  })
  return {
    fabric,
    prepareSource: (uri) => fabric.prepareSource(confine(config, uri)),
    prober,
    accel,
    adopt: async (log) => {
      const { adopted, restarted } = await fabric.adopt()
      if (adopted + restarted > 0) log.info({ adopted, restarted }, 'Re-adopted VMs')
      const orphans = await fabric.ready()
      if (orphans > 0) log.warn({ orphans }, 'Stopped VMs no record named')
    },
    close: async () => {
      await fabric.close()
      prober.close()
    },
  }
}

function localFabric(n: FabricNeeds, prober: Prober): FabricParts {
  const { config, clock } = n
  const casDir = join(config.dataDir, 'images')
  const fabric = new LocalFabric({
    rootDir: join(config.dataDir, 'instances'),
    casDir,
    state: new SqlLocalState(n.store),
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
    prepareSource: async (uri) => `cas:${await importArtifact(confine(config, uri), casDir)}`,
    prober,
    accel: null,
    adopt: async (log) => {
      const { adopted, restarted } = await fabric.adopt()
      if (adopted + restarted > 0) log.info({ adopted, restarted }, 'Re-adopted instances')
      const orphans = (await fabric.ready()).map((p) => ({ pid: p.pid, spawn: p.spawnId }))
      if (orphans.length > 0) log.warn({ orphans }, 'Stopped instance processes no record named')
    },
    close: async () => prober.close(),
  }
}

/** A file:// image source, refused unless under the roots it may be read from. */
function confine(config: Config, uri: string): string {
  return confineImageSource(uri, { roots: imageSourceRoots(config), dataDir: config.dataDir })
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
