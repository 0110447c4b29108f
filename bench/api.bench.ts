/**
 * API benchmarks (issue 3), printed, never asserted: authenticated GETs of a scale set with
 * autocannon against a real `osroll serve` (child process, sim fabric, SQLite), and paging the
 * OS upgrade history of a set with 1,000 rollouts. `-- --json` ends with one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import autocannon from 'autocannon'
import { startServe } from '../test-support/serve-process.js'
import {
  armPaths,
  autoUpgradeSetBody,
  createResourceGroup,
  imageBody,
  loadBalancerBody,
} from '../test-support/arm-fixtures.js'
import { openSqliteStore } from '../src/store/sqlite/open-sqlite.js'
import { startRollout } from '../src/core/rollout/start.js'

const json = process.argv.includes('--json')
const seconds = Number(process.env['OSROLL_BENCH_SECONDS'] ?? 10)
const dir = mkdtempSync(join(tmpdir(), 'osroll-bench-'))
// No rate limit: autocannon sends far more than a client would with one token.
const server = await startServe(dir, ['--rate-limit', '0'])
try {
  const sub = server.subscriptionId
  const paths = armPaths(sub)
  await createResourceGroup(server.call, sub)
  const set = paths.set()
  await server.call('PUT', paths.image('1.0.0'), imageBody('sim:?boot=0'))
  await server.call('PUT', paths.lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }))
  const created = await server.call(
    'PUT',
    set,
    autoUpgradeSetBody({ sub, capacity: 10, probe: 'tcp' }),
  )
  if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`)

  const load = await autocannon({
    url: `${server.url}${set}?api-version=2024-07-01`,
    headers: { authorization: `Bearer ${server.token}` },
    connections: 16,
    duration: seconds,
  })
  if (load.non2xx > 0 || load.errors > 0)
    throw new Error(`GET load saw ${load.non2xx} non-2xx and ${load.errors} errors`)

  // 1,000 finished rollouts written straight into the store (WAL allows a second connection).
  const store = await openSqliteStore(join(dir, 'osroll.db'))
  const state = (await store.getScaleSet(set.toLowerCase()))!
  for (let i = 0; i < 1000; i++) {
    const r = startRollout({
      id: `bench-${String(i).padStart(4, '0')}`,
      spec: state.spec,
      request: {
        kind: 'OSImage',
        startedBy: 'Platform',
        target: { imageVersion: '1.0.0', modelGeneration: 1 },
        pace: 'batched',
        scope: null,
      },
      healthDeadlineMs: 300_000,
      nowMs: 1_700_000_000_000 + i * 60_000,
    })
    await store.createRollout({ ...r, status: 'Completed', endedAtMs: r.startedAtMs + 30_000 })
  }
  await store.close()
  const pageTimes: number[] = []
  let next: string | undefined = `${set}/osUpgradeHistory`
  let pages = 0
  let entries = 0
  while (next && pages < 100) {
    const t0 = performance.now()
    const res = await fetch(
      next.startsWith('http') ? next : `${server.url}${next}?api-version=2024-07-01`,
      { headers: { authorization: `Bearer ${server.token}` } },
    )
    const body = (await res.json()) as { value: unknown[]; nextLink?: string }
    pageTimes.push(performance.now() - t0)
    entries += body.value.length
    next = body.nextLink
    pages++
  }
  pageTimes.sort((a, b) => a - b)
  const pageMedianMs = pageTimes[Math.floor(pageTimes.length / 2)] as number
  const pageMaxMs = pageTimes[pageTimes.length - 1] as number

  const rows: [string, string, string][] = [
    [
      `authenticated GET of a scale set (${seconds} s, 16 connections)`,
      `${Math.round(load.requests.average).toLocaleString('en-US')} req/s`,
      '≥ 5,000 req/s',
    ],
    ['  latency p99', `${load.latency.p99} ms (p50 ${load.latency.p50} ms)`, '< 10 ms'],
    [
      `history of 1,000 rollouts, one page of 25 (${pages} pages, ${entries} entries)`,
      `median ${pageMedianMs.toFixed(1)} ms, max ${pageMaxMs.toFixed(1)} ms`,
      '< 20 ms',
    ],
  ]
  const width = Math.max(...rows.map((r) => r[0].length))
  console.log(`${'benchmark'.padEnd(width)}  ${'measured'.padEnd(32)}  goal`)
  for (const [name, value, goal] of rows)
    console.log(`${name.padEnd(width)}  ${value.padEnd(32)}  ${goal}`)
  if (json) {
    console.log(
      JSON.stringify({
        'api.get_rps': Math.round(load.requests.average),
        'api.get_p99_ms': load.latency.p99,
        'api.history_page_ms': Number(pageMedianMs.toFixed(2)),
      }),
    )
  }
} finally {
  await server.stop()
  rmSync(dir, { recursive: true, force: true })
}
