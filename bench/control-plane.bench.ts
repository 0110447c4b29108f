/**
 * Control-plane benchmarks (issue 8), printed, never asserted, against a real `osroll serve`
 * (the compiled one, `npm run build` first; sim fabric, SQLite, prompt timing, no jitter):
 * - detect_to_first_reimage_ms: a version is published → the first instance is being reimaged
 *   (seen on `/events`, the stream of rollout and instance state changes);
 * - rss_mb_10k_instances: the server's resident memory managing 10 sets × 1,000 sim instances;
 * - api.p99_during_rollout_ms: authenticated GETs (autocannon) while those 10,000 instances roll.
 *
 *   npm run bench:control-plane [-- --json]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import autocannon from 'autocannon'
import { startServe } from '../test-support/serve-process.js'
import { waitFor } from '../test-support/api-harness.js'
import { runCommand } from '../test-support/run-command.js'
import {
  armPaths,
  autoUpgradeSetBody,
  createResourceGroup,
  imageBody,
  loadBalancerBody,
} from '../test-support/arm-fixtures.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const json = process.argv.includes('--json')
const SETS = 10
const dir = mkdtempSync(join(tmpdir(), 'osroll-bench-cp-'))
// The compiled server, as users run it (memory is measured): build it first.
const built = await runCommand('npm', ['run', 'build', '--silent'], { cwd: ROOT })
if (built.code !== 0) throw new Error(`npm run build failed:\n${built.stdout}${built.stderr}`)
const server = await startServe(dir, ['--rate-limit', '0'], {}, 'built')
const figures: Record<string, number> = {}
try {
  const sub = server.subscriptionId
  const p = armPaths(sub)
  await createResourceGroup(server.call, sub)
  await server.call('PUT', p.image('1.0.0'), imageBody('sim:?boot=0'))
  await server.call('PUT', p.lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }))

  // Detection: one set of 10, then a new version; the clock stops at the first Reimaging event.
  await server.call('PUT', p.set('first'), autoUpgradeSetBody({ sub, capacity: 10, probe: 'tcp' }))
  await settled(p.set('first'))
  // The set has had no rollout, so its filtered stream starts empty; the first frame that says
  // Reimaging stops the clock.
  const events = await fetch(
    `${server.url}/events?scaleSet=${encodeURIComponent(p.set('first'))}`,
    { headers: { authorization: `Bearer ${server.token}` } },
  )
  const reader = (events.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  const t0 = performance.now()
  await server.call('PUT', p.image('1.1.0'), imageBody('sim:?boot=1'))
  let buffer = ''
  while (!/"to":"Reimaging"/.test(buffer)) {
    const { value, done } = await reader.read()
    if (done) throw new Error('/events ended')
    buffer += decoder.decode(value, { stream: true })
  }
  figures['detect_to_first_reimage_ms'] = Math.round(performance.now() - t0)
  await reader.cancel()

  // 10,000 instances: RSS once they are up, then API latency while they all roll.
  for (let i = 0; i < SETS; i++) {
    process.stderr.write(`creating set ${i + 1}/${SETS} (1,000 sim instances)…\n`)
    await server.call(
      'PUT',
      p.set(`big${i}`),
      autoUpgradeSetBody({ sub, capacity: 1000, probe: 'tcp' }),
    )
    await settled(p.set(`big${i}`))
  }
  await new Promise((r) => setTimeout(r, 3000)) // a resync or two at rest
  figures['rss_mb_10k_instances'] = Math.round(rssKb(server.child.pid as number) / 1024)
  await server.call('PUT', p.image('1.2.0'), imageBody('sim:?boot=2'))
  await waitFor(
    async () =>
      (await server.call('GET', `${p.set('big0')}/rollingUpgrades/latest`)).body.properties
        ?.runningStatus?.code === 'RollingForward',
    'the 10,000-instance rollout started',
    60_000,
  )
  const load = await autocannon({
    url: `${server.url}${p.set('big5')}?api-version=2024-07-01`,
    headers: { authorization: `Bearer ${server.token}` },
    connections: 16,
    duration: 10,
  })
  if (load.non2xx > 0 || load.errors > 0)
    throw new Error(`GETs saw ${load.non2xx} non-2xx, ${load.errors} errors`)
  figures['api.p99_during_rollout_ms'] = load.latency.p99
  figures['api.rps_during_rollout'] = Math.round(load.requests.average)
  const rolling = (await server.call('GET', `${p.set('big0')}/rollingUpgrades/latest`)).body
    .properties
  process.stderr.write(`  during the load: ${JSON.stringify(rolling.progress)}\n`)
} finally {
  await server.stop('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
}

const rows: [string, string, string][] = [
  [
    'publish → first reimage (prompt timing, jitter off)',
    `${figures['detect_to_first_reimage_ms']} ms`,
    '< 1,000 ms',
  ],
  [
    'control-plane RSS with 10,000 sim instances',
    `${figures['rss_mb_10k_instances']} MB`,
    '≤ 250 MB',
  ],
  [
    'GET p99 while 10,000 instances roll',
    `${figures['api.p99_during_rollout_ms']} ms (${figures['api.rps_during_rollout']} req/s)`,
    '< 25 ms',
  ],
]
const width = Math.max(...rows.map((r) => r[0].length))
console.log(`${'benchmark'.padEnd(width)}  ${'measured'.padEnd(30)}  goal`)
for (const [name, value, goal] of rows)
  console.log(`${name.padEnd(width)}  ${value.padEnd(30)}  ${goal}`)
if (json) console.log(JSON.stringify(figures))

async function settled(set: string): Promise<void> {
  await waitFor(
    async () => (await server.call('GET', set)).body.properties?.provisioningState === 'Succeeded',
    `${set} provisioned`,
    300_000,
  )
}

function rssKb(pid: number): number {
  // startServe runs node directly (no shell), so the pid is the server's own process.
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!m) throw new Error(`no VmRSS for ${pid}`)
  return Number(m[1])
}
