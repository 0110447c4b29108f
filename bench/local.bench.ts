/**
 * Local-fabric benchmarks (issue 4), printed, never asserted:
 * - a rollout of 50 sample-image instances: wall time ÷ the physical critical path, measured
 *   from the instances themselves (Σ over batches of the slowest instance's SIGTERM of the old
 *   disk → first healthy probe answered on the new one);
 * - probes per second the prober sustains against 2,000 endpoints, and its CPU.
 * `-- --json` ends with one JSON line.
 */
import { spawn } from 'node:child_process'
import { Prober } from '../src/health/prober.js'
import { localFleet } from './local-fleet.js'

const json = process.argv.includes('--json')
const INSTANCES = Number(process.env['OSROLL_BENCH_INSTANCES'] ?? 50)
const rollout = await rolloutOverhead()
const prober = await proberThroughput()
const rows: [string, string, string][] = [
  [
    `local rollout of ${INSTANCES} instances: wall ÷ physical critical path`,
    `${rollout.ratio.toFixed(3)} (${(rollout.wallMs / 1000).toFixed(2)} s ÷ ${(rollout.criticalMs / 1000).toFixed(2)} s, ${rollout.batches} batches)`,
    '≤ 1.02',
  ],
  ['publish → first reimage (prompt timing, no jitter)', `${rollout.detectMs} ms`, '< 1,000 ms'],
  [
    "osroll's longest event-loop stall during that rollout",
    `${rollout.loopStallMs.toFixed(0)} ms`,
    '',
  ],
  [
    'prober against 2,000 endpoints (500 ms interval)',
    `${Math.round(prober.perSecond).toLocaleString('en-US')} probes/s, ${(prober.cpu * 100).toFixed(0)}% of one core`,
    '≥ 2,000/s, < 100%',
  ],
]
const width = Math.max(...rows.map((r) => r[0].length))
console.log(`${'benchmark'.padEnd(width)}  ${'measured'.padEnd(44)}  goal`)
for (const [n, v, g] of rows) console.log(`${n.padEnd(width)}  ${v.padEnd(44)}  ${g}`)
if (json)
  console.log(
    JSON.stringify({
      'local.overhead_ratio': Number(rollout.ratio.toFixed(4)),
      detect_to_first_reimage_ms: rollout.detectMs,
      'local.loop_stall_ms': Math.round(rollout.loopStallMs),
      'prober.probes_per_s': Math.round(prober.perSecond),
      'prober.cpu_fraction': Number(prober.cpu.toFixed(3)),
    }),
  )

async function rolloutOverhead(): Promise<{
  ratio: number
  wallMs: number
  criticalMs: number
  batches: number
  detectMs: number
  loopStallMs: number
}> {
  const fleet = await localFleet(INSTANCES)
  try {
    const { rollout: r, publishedAtMs, loopStallMs } = await fleet.rollTo('1.1.0')
    const events = fleet.events()
    let criticalMs = 0
    let firstSigterm = Infinity
    let previousLastHealthy: number | null = null
    const gaps: number[] = []
    const staggers: number[] = []
    let lateSlowest = 0
    for (let b = 1; b <= r.batchCount; b++) {
      let slowest = 0
      let firstStop = Infinity
      let lastStop = 0
      let lastHealthy = 0
      for (const a of r.attempts.filter((x) => x.batch === b)) {
        const ev = events.get(a.instanceId) ?? []
        const stop = ev.find((e) => e.event === 'sigterm' && e.version === '1.0.0')?.atMs
        const healthy = ev.find((e) => e.event === 'firstHealthy' && e.version === '1.1.0')?.atMs
        if (stop === undefined || healthy === undefined)
          throw new Error(`instance ${a.instanceId} did not record its timeline`)
        firstSigterm = Math.min(firstSigterm, stop)
        slowest = Math.max(slowest, healthy - stop)
        firstStop = Math.min(firstStop, stop)
        lastStop = Math.max(lastStop, stop)
        lastHealthy = Math.max(lastHealthy, healthy)
      }
      criticalMs += slowest
      // The batch lasted longer than its slowest instance when that one was stopped late.
      lateSlowest += lastHealthy - firstStop - slowest
      staggers.push(lastStop - firstStop)
      if (previousLastHealthy !== null) gaps.push(firstStop - previousLastHealthy)
      previousLastHealthy = lastHealthy
    }
    const wallMs = (r.endedAtMs as number) - r.startedAtMs
    const startMs = firstSigterm - r.startedAtMs
    const endMs = (r.endedAtMs as number) - (previousLastHealthy ?? 0)
    const gapsMs = gaps.reduce((a, b) => a + b, 0)
    console.log(
      `  (overhead ${wallMs - criticalMs} ms = start → first stop ${startMs} + gaps between batches ${gapsMs}` +
        ` (${gaps.join(', ')}) + slowest instances stopped late ${lateSlowest} + last healthy → end ${endMs};` +
        ` stops staggered within batches by ${staggers.join(', ')} ms)`,
    )
    return {
      ratio: wallMs / criticalMs,
      wallMs,
      criticalMs,
      batches: r.batchCount,
      detectMs: Math.round(firstSigterm - publishedAtMs),
      loopStallMs,
    }
  } finally {
    await fleet.close()
  }
}

async function proberThroughput(): Promise<{ perSecond: number; cpu: number }> {
  const server = spawn(
    process.execPath,
    [
      '-e',
      "require('http').createServer((q,s)=>{s.writeHead(200);s.end('ok')}).listen(0,'127.0.0.1',function(){console.log(this.address().port)})",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const port = await new Promise<number>((resolve) =>
    server.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
  )
  const prober = new Prober({ tickMs: 20, concurrency: 256 })
  try {
    for (let i = 0; i < 2000; i++)
      prober.set(`e${i}`, {
        protocol: 'http',
        host: '127.0.0.1',
        port,
        requestPath: `/health/${i}`,
        intervalMs: 500, // demand: 4,000 probes/s
        threshold: 1,
        mode: 'binary',
        gracePeriodMs: 0,
      })
    await new Promise((r) => setTimeout(r, 2000)) // settle past the fast first probes
    const sent0 = prober.sent
    const cpu0 = process.cpuUsage()
    const t0 = Date.now()
    await new Promise((r) => setTimeout(r, 8000))
    const seconds = (Date.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    return {
      perSecond: (prober.sent - sent0) / seconds,
      cpu: (cpu.user + cpu.system) / 1e6 / seconds,
    }
  } finally {
    prober.close()
    server.kill()
  }
}
