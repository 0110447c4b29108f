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
import { demoFabric, type DemoFabricName } from './demo-fabric.js'

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
  const fabricName = (o.fabric ?? 'local') as DemoFabricName
  if (fabricName !== 'local' && fabricName !== 'qemu') {
    say(`--fabric must be local or qemu, not '${o.fabric}'`)
    return false
  }
  const instances = o.instances === undefined ? undefined : Number(o.instances)
  if (
    instances !== undefined &&
    !(Number.isInteger(instances) && instances >= 1 && instances <= 50)
  ) {
    say(`--instances must be an integer from 1 to 50, not '${o.instances}'`)
    return false
  }
  const f = demoFabric(fabricName, {
    ...(instances !== undefined ? { instances } : {}),
    ...(o.qemuAccel ? { qemuAccel: o.qemuAccel } : {}),
  })
  const n = f.capacity
  const healthDeadline = o.healthDeadline ?? f.healthDeadline
  // 20% a batch, rounded down but at least 1 (docs/rollouts.md): 10 → 2, 4 → 1.
  const batch = Math.max(1, Math.floor((n * 20) / 100))
  const started = Date.now()
  const dataDir = mkdtempSync(join(tmpdir(), 'osroll-demo-'))
  const failures: string[] = []
  const check = (ok: boolean, what: string): void => {
    say(`   ${ok ? '✓' : '✗'} ${what}`)
    if (!ok) failures.push(what)
  }
  const step = (text: string): void =>
    say(`\n[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${text}`)
  let server: Server | null = null
  let client: OsrollClient | null = null
  let setPath = ''
  try {
    step(`Starting osroll on a fresh data dir (${dataDir}), ${f.label}`)
    const config = loadConfig(
      {
        ...f.flags,
        port: o.port,
        dataDir,
        fabric: f.name,
        promptJitter: 'PT0S',
        healthDeadline,
        addressRange: o.addressRange,
        replicationDelay: 'PT0S',
      },
      {},
    )
    server = await startServer(config, { quiet: true })
    client = new OsrollClient({ endpoint: server.url, token: server.adminToken })
    const sub = server.subscriptionId
    say(`   API ${server.url}  —  dashboard ${server.url}/#token=${server.adminToken}`)
    const c = client
    setPath = `/subscriptions/${sub}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/${SET}`
    const images = `/subscriptions/${sub}/providers/Microsoft.Compute/locations/westus/publishers/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions`
    const publish = async (version: string, health: 'healthy' | 'unhealthy') => {
      const uri = await f.publish(dataDir, version, health, say)
      await c.request('PUT', `${images}/${version}`, {
        location: 'westus',
        properties: { source: { uri } },
      })
    }

    step(
      `Publishing the sample web image, version 1.0.0 (examples/images/${f.name === 'qemu' ? 'qemu' : 'web'})`,
    )
    await publish('1.0.0', 'healthy')
    step(`Creating resource group "${RG}" and a load balancer with an HTTP probe on /health:8080`)
    await c.request('PUT', `/subscriptions/${sub}/resourcegroups/${RG}`, { location: 'westus' })
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
    step(`Creating scale set "web": ${n} instances, automatic OS upgrades, a data disk each`)
    const created = await c.request('PUT', setPath, {
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
    })
    const op = created.headers.get('azure-asyncoperation')
    if (op) await c.wait(op, undefined, { intervalMs: 500, timeoutMs: f.healthyMs + 30_000 })
    const first = await until(
      () => fleet(c, setPath),
      (x) => x.healthy === n,
      f.healthyMs,
    )
    check(first.healthy === n, `${n} instances running and healthy (${first.summary})`)
    const answers = await askEveryInstance(c, setPath)
    for (const a of answers.slice(0, 3)) say(`   ${a}`)
    if (answers.length > 3) say(`   … and ${answers.length - 3} more`)
    check(
      answers.length === n && answers.every((a) => a.includes('runs image 1.0.0')),
      'every instance answers on its own address with image 1.0.0',
    )

    step(
      `Publishing 1.1.0: osroll notices and rolls it out, at most ${batch} instance${batch > 1 ? 's' : ''} (20%) at a time`,
    )
    const beforeGood = await latestId(c, setPath)
    await publish('1.1.0', 'healthy')
    const good = await follow(c, setPath, beforeGood, say, f.rolloutMs)
    check(good.status === 'Completed', `the rollout completed (${good.status})`)
    check(
      good.maxInFlight <= batch,
      `never more than ${batch} upgrading at once (${good.maxInFlight})`,
    )
    const answers2 = await askEveryInstance(c, setPath)
    check(
      answers2.length === n && answers2.every((a) => a.includes('runs image 1.1.0')),
      'every instance now answers with image 1.1.0',
    )
    check(
      answers2.every((a) => a.endsWith('boot 2')),
      'data disks survived the reimage (each instance counts its second boot on data disk 0)',
    )

    step(
      `Publishing 1.2.0, which never becomes healthy: the health gate (deadline ${healthDeadline}) stops it`,
    )
    const beforeBad = await latestId(c, setPath)
    await publish('1.2.0', 'unhealthy')
    const bad = await follow(c, setPath, beforeBad, say, f.rolloutMs + 60_000)
    check(bad.status === 'Faulted', `the rollout ended Faulted (${bad.status})`)
    check(bad.rolledBack > 0, `the failed batch was rolled back (${bad.rolledBack} instances)`)
    const history = (await c.get(`${setPath}/osUpgradeHistory`)).body as {
      value: {
        properties: {
          runningStatus: { code: string }
          targetImageReference?: { version?: string }
          error?: { message?: string }
        }
      }[]
    }
    say('   OS upgrade history (newest first):')
    for (const e of history.value) {
      const p = e.properties
      say(
        `     ${p.targetImageReference?.version ?? '?'}  ${p.runningStatus.code}${p.error?.message ? `  — ${p.error.message}` : ''}`,
      )
    }
    const codes = history.value.map((e) => e.properties.runningStatus.code)
    check(
      codes.length === 2 && codes[0] === 'Faulted' && codes[1] === 'Completed',
      'the history holds one Faulted entry (1.2.0) and one Completed entry (1.1.0)',
    )
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
    check(servesOld(answers3), 'every instance serves 1.1.0 again: the broken image never stayed')
    for (const a of answers3.filter((x) => !x.includes('runs image 1.1.0'))) say(`     ${a}`)

    if (o.keep) {
      step('Keeping everything running (--keep): press Ctrl-C to stop and clean up')
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()))
    }
  } catch (err) {
    failures.push((err as Error).message)
    say(`\nThe demo failed: ${(err as Error).message}`)
  } finally {
    step('Cleaning up: deleting the scale set (its instances) and the data dir')
    if (client && setPath) {
      await client
        .request('DELETE', setPath)
        .then((r) => {
          const op = r.headers.get('azure-asyncoperation')
          return op
            ? client?.wait(op, undefined, { intervalMs: 250, timeoutMs: 60_000 })
            : undefined
        })
        .catch(() => undefined)
    }
    await server?.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(0)
  if (failures.length === 0) say(`\nThe demo behaved as described, in ${seconds} s.`)
  else
    say(
      `\nThe demo did NOT behave as described (${failures.length} failed): ${failures.join('; ')}`,
    )
  return failures.length === 0
}

type Fleet = { healthy: number; versions: Record<string, number>; summary: string }

async function fleet(c: OsrollClient, setPath: string): Promise<Fleet> {
  const vms = (await c.list(`${setPath}/virtualMachines?$expand=instanceView`)) as {
    properties: {
      instanceView?: { vmHealth?: { status?: { code?: string } }; osImageVersion?: string }
      storageProfile?: { imageReference?: { exactVersion?: string } }
    }
  }[]
  const versions: Record<string, number> = {}
  let healthy = 0
  for (const v of vms) {
    const version = v.properties.storageProfile?.imageReference?.exactVersion ?? '?'
    versions[version] = (versions[version] ?? 0) + 1
    if (v.properties.instanceView?.vmHealth?.status?.code === 'HealthState/healthy') healthy++
  }
  const summary = `${vms.length} instances, ${healthy} healthy, ${Object.entries(versions)
    .map(([v, n]) => `${n}× ${v}`)
    .join(', ')}`
  return { healthy, versions, summary }
}

/** Asks every instance who it is, on its own private address. */
async function askEveryInstance(c: OsrollClient, setPath: string): Promise<string[]> {
  const nics = (await c.list(`${setPath}/networkInterfaces`)) as {
    properties: { ipConfigurations: { properties: { privateIPAddress: string } }[] }
  }[]
  const ips = nics.map((n) => n.properties.ipConfigurations[0]?.properties.privateIPAddress)
  return Promise.all(
    ips.map(async (ip) => {
      try {
        const res = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(3000) })
        return (await res.text()).trim()
      } catch (err) {
        return `${ip}: no answer (${(err as Error).message})`
      }
    }),
  )
}

type Followed = { status: string; maxInFlight: number; rolledBack: number }

/** Waits for a rollout other than `before` to start and end, printing its progress. */
async function follow(
  c: OsrollClient,
  setPath: string,
  before: string | null,
  say: (line: string) => void,
  timeoutMs: number,
): Promise<Followed> {
  const end = Date.now() + timeoutMs
  let last = ''
  let maxInFlight = 0
  let id: string | null = null
  while (Date.now() < end) {
    const r = await c.request('GET', `${setPath}/rollingUpgrades/latest`).catch(() => null)
    const p = (
      r?.body as
        | {
            properties: {
              runningStatus: { code: string; startTime: string }
              progress: Record<string, number>
              error?: { message?: string }
            }
          }
        | undefined
    )?.properties
    const thisId = p?.runningStatus.startTime ?? null
    if (p && thisId !== before) {
      id = thisId
      const g = p.progress
      const running = g['inProgressInstanceCount'] ?? 0
      maxInFlight = Math.max(maxInFlight, running)
      const line = `   ${p.runningStatus.code.padEnd(14)} ${g['successfulInstanceCount'] ?? 0} upgraded, ${running} upgrading, ${g['failedInstanceCount'] ?? 0} failed, ${g['pendingInstanceCount'] ?? 0} pending`
      if (line !== last) say(line)
      last = line
      if (p.runningStatus.code !== 'RollingForward') {
        if (p.error?.message) say(`   error: ${p.error.message}`)
        const history = (await c.get(`${setPath}/osUpgradeHistory`)).body as {
          value: {
            properties: { rollbackInfo?: { successfullyRolledbackInstanceCount?: number } }
          }[]
        }
        return {
          status: p.runningStatus.code,
          maxInFlight,
          rolledBack:
            history.value[0]?.properties.rollbackInfo?.successfullyRolledbackInstanceCount ?? 0,
        }
      }
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  return {
    status: id ? 'still running at the timeout' : 'never started',
    maxInFlight,
    rolledBack: 0,
  }
}

async function latestId(c: OsrollClient, setPath: string): Promise<string | null> {
  const r = await c.request('GET', `${setPath}/rollingUpgrades/latest`).catch(() => null)
  const body = r?.body as { properties: { runningStatus: { startTime: string } } } | undefined
  return body?.properties.runningStatus.startTime ?? null
}

async function until<T>(get: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms
  let v = await get()
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 250))
    v = await get()
  }
  return v
}
