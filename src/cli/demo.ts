/**
 * `osroll demo` (docs/operations.md § The demo, issue 6): a guided tour on a fresh temporary data
 * dir. It starts a server with the local fabric (or `--fabric qemu`: real VMs, demo-fabric.ts),
 * publishes the sample web image, creates a load balancer probe and a 10-instance scale set
 * (qemu: 4) with automatic OS upgrades, publishes a newer version and shows the
 * automatic rollout live, then publishes a broken version and shows the health gate, the
 * rollback and the `Faulted` history entry. Every claim it makes is checked; it exits 0 only if
 * the tour behaved as described, and it removes its instances and data dir whatever happens.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Command } from 'commander'
import { loadConfig } from '../config/config.js'
import { startServer } from '../main.js'
import type { Server } from '../main.js'
import { OsrollClient } from '../client/client.js'
import { demoFabric, type DemoFabric, type DemoFabricName } from './demo-fabric.js'
import { askEveryInstance, fleet, follow, latestId, until } from './demo-watch.js'

const RG = 'demo'
const SET = 'web'

type DemoOptions = Readonly<{
  port: string
  addressRange: string
  healthDeadline?: string
  keep?: boolean
  fabric?: string
  instances?: string
  qemuAccel?: string
}>

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'a guided tour on a temporary data dir: an automatic OS upgrade, then a broken image rolled back',
    )
    .option('--port <port>', 'port of the demo server (0: any free port)', '0')
    .option(
      '--address-range <cidr>',
      "the demo instances' addresses, a /16 of 127/8 (apart from a running osroll's)",
      '127.79.0.0/16',
    )
    .option(
      '--health-deadline <duration>',
      'how long an upgraded instance has to become healthy (Azure: PT5M; default PT15S, qemu PT60S)',
    )
    .option('--fabric <fabric>', 'local (processes) or qemu (real virtual machines)', 'local')
    .option('--instances <n>', 'instances in the set (default 10, qemu 4)')
    .option('--qemu-accel <accel>', 'qemu: auto, kvm or tcg', 'auto')
    .option('--keep', 'keep the server and instances running at the end, until Ctrl-C')
    .addHelpText('after', '\nExamples:\n  osroll demo\n  osroll demo --fabric qemu\n')
    .action(async (o: DemoOptions) => {
      const ok = await runDemo(o, (line) => console.log(line))
      process.exit(ok ? 0 : 1)
    })
}

/** Runs the tour; `say` prints a line. Resolves true when every check held. */
export async function runDemo(o: DemoOptions, say: (line: string) => void): Promise<boolean> {
  const f = fabricOf(o, say)
  if (f === null) return false
  const t = newTour(f, o, say)
  try {
    const s = await startServerFor(t, o)
    await createFleet(t, s)
    await rollOutGood(t, s)
    await rollOutBroken(t, s)
    if (o.keep) {
      t.step('Keeping everything running (--keep): press Ctrl-C to stop and clean up')
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()))
    }
  } catch (err) {
    t.failures.push((err as Error).message)
    say(`\nThe demo failed: ${(err as Error).message}`)
  } finally {
    await cleanUp(t)
  }
  const seconds = ((Date.now() - t.started) / 1000).toFixed(0)
  if (t.failures.length === 0) say(`\nThe demo behaved as described, in ${seconds} s.`)
  else
    say(
      `\nThe demo did NOT behave as described (${t.failures.length} failed): ${t.failures.join('; ')}`,
    )
  return t.failures.length === 0
}

/** The demo's fabric from --fabric, --instances and --qemu-accel; null (said why) if wrong. */
function fabricOf(o: DemoOptions, say: (line: string) => void): DemoFabric | null {
  const fabricName = (o.fabric ?? 'local') as DemoFabricName
  if (fabricName !== 'local' && fabricName !== 'qemu') {
    say(`--fabric must be local or qemu, not '${o.fabric}'`)
    return null
  }
  const instances = o.instances === undefined ? undefined : Number(o.instances)
  if (
    instances !== undefined &&
    !(Number.isInteger(instances) && instances >= 1 && instances <= 50)
  ) {
    say(`--instances must be an integer from 1 to 50, not '${o.instances}'`)
    return null
  }
  return demoFabric(fabricName, {
    ...(instances !== undefined ? { instances } : {}),
    ...(o.qemuAccel ? { qemuAccel: o.qemuAccel } : {}),
  })
}

/** What the tour's steps share: its fabric and numbers, how it reports, what it must clean up. */
type Tour = {
  readonly f: DemoFabric
  readonly n: number
  readonly batch: number
  readonly healthDeadline: string
  readonly started: number
  readonly dataDir: string
  readonly failures: string[]
  readonly say: (line: string) => void
  readonly check: (ok: boolean, what: string) => void
  readonly step: (text: string) => void
  server: Server | null
  client: OsrollClient | null
  setPath: string
}

function newTour(f: DemoFabric, o: DemoOptions, say: (line: string) => void): Tour {
  const n = f.capacity
  const started = Date.now()
  const failures: string[] = []
  return {
    f,
    n,
    healthDeadline: o.healthDeadline ?? f.healthDeadline,
    // 20% a batch, rounded down but at least 1 (docs/rollouts.md): 10 → 2, 4 → 1.
    batch: Math.max(1, Math.floor((n * 20) / 100)),
    started,
    dataDir: mkdtempSync(join(tmpdir(), 'osroll-demo-')),
    failures,
    say,
    check: (ok, what) => {
      say(`   ${ok ? '✓' : '✗'} ${what}`)
      if (!ok) failures.push(what)
    },
    step: (text) => say(`\n[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${text}`),
    server: null,
    client: null,
    setPath: '',
  }
}

/** The running demo server: a client of it, and how to publish a version of the sample image. */
type Served = Readonly<{
  c: OsrollClient
  sub: string
  publish: (version: string, health: 'healthy' | 'unhealthy') => Promise<void>
}>

async function startServerFor(t: Tour, o: DemoOptions): Promise<Served> {
  const { f, dataDir, say } = t
  t.step(`Starting osroll on a fresh data dir (${dataDir}), ${f.label}`)
  const config = loadConfig(
    {
      ...f.flags,
      port: o.port,
      dataDir,
      fabric: f.name,
      promptJitter: 'PT0S',
      healthDeadline: t.healthDeadline,
      addressRange: o.addressRange,
      replicationDelay: 'PT0S',
    },
    {},
  )
  const server = await startServer(config, { quiet: true })
  t.server = server
  const c = new OsrollClient({ endpoint: server.url, token: server.adminToken })
  t.client = c
  const sub = server.subscriptionId
  say(`   API ${server.url}  —  dashboard ${server.url}/#token=${server.adminToken}`)
  t.setPath = `/subscriptions/${sub}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/${SET}`
  const images = `/subscriptions/${sub}/providers/Microsoft.Compute/locations/westus/publishers/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions`
  const publish = async (version: string, health: 'healthy' | 'unhealthy') => {
    const uri = await f.publish(dataDir, version, health, say)
    await c.request('PUT', `${images}/${version}`, {
      location: 'westus',
      properties: { source: { uri } },
    })
  }
  return { c, sub, publish }
}

/** Publishes 1.0.0, creates the group, the load balancer and the set; checks every instance. */
async function createFleet(t: Tour, { c, sub, publish }: Served): Promise<void> {
  const { n, setPath, f } = t
  t.step(
    `Publishing the sample web image, version 1.0.0 (examples/images/${f.name === 'qemu' ? 'qemu' : 'web'})`,
  )
  await publish('1.0.0', 'healthy')
  t.step(`Creating resource group "${RG}" and a load balancer with an HTTP probe on /health:8080`)
  await c.request('PUT', `/subscriptions/${sub}/resourcegroups/${RG}`, { location: 'westus' })
  const lb = await createLoadBalancer(c, sub)
  t.step(`Creating scale set "web": ${n} instances, automatic OS upgrades, a data disk each`)
  const created = await c.request('PUT', setPath, setBody(n, lb))
  const op = created.headers.get('azure-asyncoperation')
  if (op) await c.wait(op, undefined, { intervalMs: 500, timeoutMs: f.healthyMs + 30_000 })
  const first = await until(
    () => fleet(c, setPath),
    (x) => x.healthy === n,
    f.healthyMs,
  )
  t.check(first.healthy === n, `${n} instances running and healthy (${first.summary})`)
  const answers = await askEveryInstance(c, setPath)
  for (const a of answers.slice(0, 3)) t.say(`   ${a}`)
  if (answers.length > 3) t.say(`   … and ${answers.length - 3} more`)
  t.check(
    answers.length === n && answers.every((a) => a.includes('runs image 1.0.0')),
    'every instance answers on its own address with image 1.0.0',
  )
}

/** The load balancer `lb` of the demo group, with the HTTP probe on /health:8080; its id. */
async function createLoadBalancer(c: OsrollClient, sub: string): Promise<string> {
  const lb = `/subscriptions/${sub}/resourceGroups/${RG}/providers/Microsoft.Network/loadBalancers/lb`
  await c.request('PUT', lb, {
    location: 'westus',
    properties: {
      probes: [
        {
          name: 'http',
          properties: {
            protocol: 'Http',
            port: 8080,
            requestPath: '/health',
            intervalInSeconds: 5,
          },
        },
      ],
    },
  })
  return lb
}

/** The demo set: `n` instances of the latest image, automatic OS upgrades, a data disk each. */
function setBody(n: number, lb: string): Record<string, unknown> {
  return {
    location: 'westus',
    sku: { capacity: n },
    properties: {
      upgradePolicy: {
        mode: 'Automatic',
        automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: true },
      },
      virtualMachineProfile: {
        storageProfile: {
          imageReference: {
            publisher: 'Canonical',
            offer: 'UbuntuServer',
            sku: '18.04-LTS',
            version: 'latest',
          },
          dataDisks: [{ lun: 0, diskSizeGB: 1, createOption: 'Empty' }],
        },
        networkProfile: { healthProbe: { id: `${lb}/probes/http` } },
      },
    },
  }
}

/** Publishes 1.1.0 and follows its automatic rollout; checks its batches, versions and disks. */
async function rollOutGood(t: Tour, { c, publish }: Served): Promise<void> {
  const { n, batch, setPath, f } = t
  t.step(
    `Publishing 1.1.0: osroll notices and rolls it out, at most ${batch} instance${batch > 1 ? 's' : ''} (20%) at a time`,
  )
  const beforeGood = await latestId(c, setPath)
  await publish('1.1.0', 'healthy')
  const good = await follow(c, setPath, beforeGood, t.say, f.rolloutMs)
  t.check(good.status === 'Completed', `the rollout completed (${good.status})`)
  t.check(
    good.maxInFlight <= batch,
    `never more than ${batch} upgrading at once (${good.maxInFlight})`,
  )
  const answers2 = await askEveryInstance(c, setPath)
  t.check(
    answers2.length === n && answers2.every((a) => a.includes('runs image 1.1.0')),
    'every instance now answers with image 1.1.0',
  )
  t.check(
    answers2.every((a) => a.endsWith('boot 2')),
    'data disks survived the reimage (each instance counts its second boot on data disk 0)',
  )
}

/** Publishes the broken 1.2.0: the rollout faults and rolls back; checks history and versions. */
async function rollOutBroken(t: Tour, { c, publish }: Served): Promise<void> {
  const { setPath, f } = t
  t.step(
    `Publishing 1.2.0, which never becomes healthy: the health gate (deadline ${t.healthDeadline}) stops it`,
  )
  const beforeBad = await latestId(c, setPath)
  await publish('1.2.0', 'unhealthy')
  const bad = await follow(c, setPath, beforeBad, t.say, f.rolloutMs + 60_000)
  t.check(bad.status === 'Faulted', `the rollout ended Faulted (${bad.status})`)
  t.check(bad.rolledBack > 0, `the failed batch was rolled back (${bad.rolledBack} instances)`)
  await showHistory(t, c)
  await checkServesOld(t, c)
}

/** Prints the OS upgrade history; checks it holds the Faulted 1.2.0 over the Completed 1.1.0. */
async function showHistory(t: Tour, c: OsrollClient): Promise<void> {
  const history = (await c.get(`${t.setPath}/osUpgradeHistory`)).body as {
    value: {
      properties: {
        runningStatus: { code: string }
        targetImageReference?: { version?: string }
        error?: { message?: string }
      }
    }[]
  }
  t.say('   OS upgrade history (newest first):')
  for (const e of history.value) {
    const p = e.properties
    t.say(
      `     ${p.targetImageReference?.version ?? '?'}  ${p.runningStatus.code}${p.error?.message ? `  — ${p.error.message}` : ''}`,
    )
  }
  const codes = history.value.map((e) => e.properties.runningStatus.code)
  t.check(
    codes.length === 2 && codes[0] === 'Faulted' && codes[1] === 'Completed',
    'the history holds one Faulted entry (1.2.0) and one Completed entry (1.1.0)',
  )
}

/** Checks every instance serves 1.1.0 again after the rollback. */
async function checkServesOld(t: Tour, c: OsrollClient): Promise<void> {
  const { n, setPath, f } = t
  // The rolled-back instances restart on their previous disk: give them the time to answer.
  const servesOld = (a: string[]) =>
    a.length === n && a.every((x) => x.includes('runs image 1.1.0'))
  let answers3 = await askEveryInstance(c, setPath)
  for (
    const end = Date.now() + (f.name === 'qemu' ? 90_000 : 30_000);
    !servesOld(answers3) && Date.now() < end;
  ) {
    await new Promise((r) => setTimeout(r, 500))
    answers3 = await askEveryInstance(c, setPath)
  }
  t.check(servesOld(answers3), 'every instance serves 1.1.0 again: the broken image never stayed')
  for (const a of answers3.filter((x) => !x.includes('runs image 1.1.0'))) t.say(`     ${a}`)
}

/** Deletes the set (its instances), stops the server and removes the data dir, whatever happened. */
async function cleanUp(t: Tour): Promise<void> {
  t.step('Cleaning up: deleting the scale set (its instances) and the data dir')
  const client = t.client
  if (client && t.setPath) {
    await client
      .request('DELETE', t.setPath)
      .then((r) => {
        const op = r.headers.get('azure-asyncoperation')
        return op ? client?.wait(op, undefined, { intervalMs: 250, timeoutMs: 60_000 }) : undefined
      })
      .catch(() => undefined)
  }
  await t.server?.close()
  rmSync(t.dataDir, { recursive: true, force: true })
}
