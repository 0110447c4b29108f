/**
 * `plan_ms` (issue 24): how long the dry-run plan of a 1,000-instance scale set takes to answer,
 * through the API as users ask for it (`GET {set}/providers/Osroll.Upgrades/plans/default`,
 * in-process, sim fabric, SQLite). The median of 30 reads after 3 warm-ups; printed, never
 * asserted.
 *
 *   npm run bench:plan [-- --json]
 */
import { performance } from 'node:perf_hooks'
import { apiHarness, waitFor } from '../test-support/api-harness.js'
import {
  armPaths,
  createSimFleet,
  healthyInstances,
  imageBody,
} from '../test-support/arm-fixtures.js'

const json = process.argv.includes('--json')
const N = 1000
const h = await apiHarness()
try {
  const call = (method: string, path: string, body?: unknown) =>
    h.call(method, path, body === undefined ? {} : { body })
  process.stderr.write(`creating a set of ${N} sim instances…\n`)
  await createSimFleet(call, h.sub, { capacity: N })
  const set = armPaths(h.sub).set()
  const get = async (path: string) => (await h.call('GET', path)).body
  await waitFor(() => healthyInstances(get, set, N), `${N} healthy instances`, 300_000)
  // Automatic upgrades off, then a newer version: the plan of a manual rollout to it, every
  // instance behind (nothing starts by itself while it is measured).
  const off = await call('PATCH', set, {
    properties: {
      upgradePolicy: {
        mode: 'Automatic',
        automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: false },
      },
    },
  })
  if (off.status !== 200) throw new Error(`PATCH: ${off.status} ${JSON.stringify(off.body)}`)
  await call('PUT', armPaths(h.sub).image('1.1.0'), imageBody('sim:?boot=0'))
  const plan = `${set}/providers/Osroll.Upgrades/plans/default?version=1.1.0&trigger=Manual`
  const times: number[] = []
  let batches = 0
  for (let i = 0; i < 33; i++) {
    const t0 = performance.now()
    const r = await h.call('GET', plan)
    const ms = performance.now() - t0
    if (r.status !== 200) throw new Error(`GET plan: ${r.status} ${JSON.stringify(r.body)}`)
    batches = r.body.properties.batches.length
    if (batches === 0) throw new Error(`the plan has no batch: ${JSON.stringify(r.body)}`)
    if (i >= 3) times.push(ms)
  }
  times.sort((a, b) => a - b)
  const median = times[Math.floor(times.length / 2)] as number
  const p95 = times[Math.floor(times.length * 0.95)] as number
  console.log(
    `dry-run plan of a ${N}-instance set (${batches} batches)  median ${median.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms  goal < 50 ms`,
  )
  if (json) console.log(JSON.stringify({ plan_ms: Number(median.toFixed(1)) }))
} finally {
  await h.close()
}
