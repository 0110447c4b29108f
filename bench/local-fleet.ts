/**
 * A real `osroll serve --fabric local` with a set of sample-image instances behind an HTTP
 * probe, for the benchmarks that roll it (bench:local, bench:ansible).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Sqlite from 'better-sqlite3'
import { startServe, type ServeProcess } from '../test-support/serve-process.js'
import { sampleImage } from '../test-support/sample-images.js'
import {
  armPaths,
  autoUpgradeSetBody,
  createResourceGroup,
  imageBody,
  loadBalancerBody,
} from '../test-support/arm-fixtures.js'
import type { Rollout } from '../src/core/rollout/types.js'

export type InstanceEvent = { event: string; version: string; atMs: number }

export type LocalFleet = Readonly<{
  dir: string
  server: ServeProcess
  set: string
  /** Publishes a version of the sample image; returns its source directory. */
  publish: (version: string) => Promise<string>
  /**
   * Publishes `version` and waits for its automatic rollout to complete: the stored rollout, and
   * the longest stall of osroll's event loop meanwhile (from its metrics).
   */
  rollTo: (
    version: string,
  ) => Promise<{ rollout: Rollout; publishedAtMs: number; loopStallMs: number }>
  /** Each instance's own timeline (started, firstHealthy, sigterm), from its data disk. */
  events: () => Map<string, InstanceEvent[]>
  close: () => Promise<void>
}>

/** Starts the server, publishes 1.0.0 and waits until `instances` instances are healthy. */
export async function localFleet(instances: number): Promise<LocalFleet> {
  const dir = mkdtempSync(join(tmpdir(), 'osroll-bench-local-'))
  const server = await startServe(join(dir, 'data'), ['--fabric', 'local'])
  const sub = server.subscriptionId
  const paths = armPaths(sub)
  await createResourceGroup(server.call, sub)
  const set = paths.set()
  const publish = async (v: string): Promise<string> => {
    const uri = sampleImage(join(dir, 'images'), { version: v })
    const r = await server.call('PUT', paths.image(v), imageBody(uri))
    if (r.status >= 300) throw new Error(JSON.stringify(r.body))
    return new URL(uri).pathname
  }
  try {
    await publish('1.0.0')
    await server.call(
      'PUT',
      paths.lb,
      loadBalancerBody({
        name: 'http',
        protocol: 'Http',
        port: 8080,
        requestPath: '/health',
        intervalInSeconds: 5,
      }),
    )
    const created = await server.call(
      'PUT',
      set,
      autoUpgradeSetBody({ sub, capacity: instances, probe: 'http', dataDisk: true }),
    )
    if (created.status !== 201) throw new Error(JSON.stringify(created.body))
    await until(async () => {
      const vms = (await server.call('GET', `${set}/virtualMachines?$expand=instanceView`)).body
        .value as { properties: { instanceView: { vmHealth?: { status: { code: string } } } } }[]
      return (
        vms.length === instances &&
        vms.every((v) => v.properties.instanceView.vmHealth?.status.code === 'HealthState/healthy')
      )
    }, 120_000)
  } catch (err) {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  // osroll's longest event-loop delay since the previous scrape (prom-client resets it).
  const scrapeLoopStallMs = async (): Promise<number> => {
    const res = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${server.token}` },
    })
    const m = /^osroll_process_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(await res.text())
    return m ? Number(m[1]) * 1000 : NaN
  }
  const rollTo = async (version: string) => {
    await scrapeLoopStallMs()
    const publishedAtMs = Date.now()
    await publish(version)
    // Watched in the database (read-only, another process) rather than through the API: polling
    // GETs would compete with the control plane whose overhead is being measured.
    const db = new Sqlite(join(dir, 'data', 'osroll.db'), { readonly: true })
    try {
      const latest = db.prepare('select document from rollouts order by started_at_ms desc limit 1')
      let rollout: Rollout | undefined
      await until(async () => {
        const row = latest.get() as { document: string } | undefined
        rollout = row ? (JSON.parse(row.document) as Rollout) : undefined
        return rollout?.target.imageVersion === version && rollout.status === 'Completed'
      }, 300_000)
      return { rollout: rollout as Rollout, publishedAtMs, loopStallMs: await scrapeLoopStallMs() }
    } finally {
      db.close()
    }
  }
  return {
    dir,
    server,
    set,
    publish,
    rollTo,
    events: () => instanceEvents(join(dir, 'data', 'instances')),
    close: async () => {
      await server.call('DELETE', set).catch(() => undefined)
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function instanceEvents(root: string): Map<string, InstanceEvent[]> {
  const out = new Map<string, InstanceEvent[]>()
  for (const set of readdirSync(root)) {
    for (const id of readdirSync(join(root, set))) {
      const text = readFileSync(join(root, set, id, 'data', 'lun0', 'events'), 'utf8')
      out.set(
        id,
        text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as InstanceEvent),
      )
    }
  }
  return out
}

export async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error('benchmark step timed out')
    await new Promise((r) => setTimeout(r, 100))
  }
}
