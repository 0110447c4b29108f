/**
 * Fleet benchmarks (issue 5), printed, never asserted: the real reconciler, effect runner and sim
 * fabric on a virtual clock over a durable store — SQLite and PostgreSQL — rolling a whole fleet
 * (default 1,000 sets × 100 instances) from 1.0.0 to 1.1.0. The figure is control-plane work per
 * second: instance upgrades completed ÷ wall time from publish to the last rollout's end (every
 * pass, read, decision and write included; virtual time costs nothing). Then, on PostgreSQL, the
 * takeover time: how long after a lease holder dies another replica holds all its sets.
 *
 *   npm run bench:fleet [-- --sets 1000 --per-set 100 --store sqlite|postgres|both --json]
 *
 * PostgreSQL needs OSROLL_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { ManualClock } from '../test-support/manual-clock.js'
import { scaleSetState, spec } from '../test-support/builders.js'
import { MemoryCatalog } from '../src/runtime/catalog.js'
import { SimFabric } from '../src/fabrics/sim/sim-fabric.js'
import { EffectRunner } from '../src/runtime/effect-runner.js'
import { reconcile } from '../src/runtime/reconciler.js'
import type { ReconcilerDeps } from '../src/runtime/reconciler.js'
import { silentLogger } from '../src/runtime/logger.js'
import { SystemClock } from '../src/runtime/clock.js'
import { LeaseManager } from '../src/runtime/leases.js'
import { PROMPT_TIMING } from '../src/core/rollout/start.js'
import { openSqliteStore } from '../src/store/sqlite/open-sqlite.js'
import { openPostgresStore } from '../src/store/postgres/open-postgres.js'
import type { SqlStore } from '../src/store/sql/sql-store.js'

const args = process.argv.slice(2)
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback
}
const json = args.includes('--json')
const SETS = Number(arg('sets', '1000'))
const PER_SET = Number(arg('per-set', '100'))
const which = arg('store', 'both')
const url = process.env['OSROLL_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'
const CONCURRENCY = 16

type FleetRun = { upgrades: number; seconds: number; perSecond: number; passes: number }

async function rollFleet(store: SqlStore): Promise<FleetRun> {
  const clock = new ManualClock(0)
  const catalog = new MemoryCatalog()
  const image = spec().image
  catalog.publish(image, '1.0.0', 'sim:?boot=0', 'westus', 0)
  const fabric = new SimFabric({ nowMs: () => clock.nowMs(), state: store })
  const effects = new EffectRunner({
    fabric,
    store,
    catalog,
    clock,
    log: silentLogger,
    onSettled: () => undefined,
  })
  let ids = 0
  const deps: ReconcilerDeps = {
    store,
    fabric,
    catalog,
    clock,
    effects,
    log: silentLogger,
    ids: () => `r${++ids}`,
    timing: { ...PROMPT_TIMING, firstDelayMaxMs: 0, laterDelayMaxMs: 0 },
    healthDeadlineMs: 300_000,
  }
  const keys = Array.from(
    { length: SETS },
    (_, i) => `/subscriptions/s/resourcegroups/g/vmss/set-${i}`,
  )
  for (const key of keys) {
    await store.putScaleSet(
      scaleSetState(spec({ key, capacity: PER_SET }), { firstSinceEnable: false }),
      null,
    )
  }
  let passes = 0
  const round = async (): Promise<void> => {
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const key = keys[next++] as string
        await reconcile(key, deps)
        passes++
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    await effects.idle()
    clock.advanceTo(clock.nowMs() + 1_000)
  }
  // The fleet: every set scaled out to its capacity.
  process.stderr.write(`  creating ${(SETS * PER_SET).toLocaleString('en-US')} instances…\n`)
  for (let i = 0; i < 5; i++) await round()
  passes = 0
  catalog.publish(image, '1.1.0', 'sim:?boot=0', 'westus', clock.nowMs())
  process.stderr.write('  rolling the fleet to 1.1.0…\n')
  const started = performance.now()
  for (let i = 0; i < 200; i++) {
    await round()
    // One count, not a read of every set's rollout: the harness must not weigh on the figure.
    const running = await store.db
      .selectFrom('rollouts')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'RollingForward')
      .executeTakeFirstOrThrow()
    if (Number(running.n) === 0) break
  }
  const seconds = (performance.now() - started) / 1000
  let upgrades = 0
  for (const k of keys) {
    const [r] = await store.listRollouts(k, { limit: 1 })
    if (r?.status !== 'Completed') throw new Error(`${k}: rollout ${r?.status ?? 'missing'}`)
    upgrades += r.attempts.filter((a) => a.state === 'Succeeded').length
  }
  if (upgrades !== SETS * PER_SET)
    throw new Error(`${upgrades} upgrades, expected ${SETS * PER_SET}`)
  return { upgrades, seconds, perSecond: upgrades / seconds, passes }
}

async function withPostgres<T>(fn: (store: SqlStore, schema: string) => Promise<T>): Promise<T> {
  const schema = `osroll_bench_${randomUUID().replace(/-/g, '').slice(0, 12)}`
  const store = await openPostgresStore({ url, schema, maxConnections: 16 })
  try {
    return await fn(store, schema)
  } finally {
    await store.close()
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    await c.query(`drop schema if exists ${schema} cascade`)
    await c.end()
  }
}

/** A holds every set and dies (stops renewing); B, already running, takes them all over. */
async function takeoverSeconds(store: SqlStore): Promise<number> {
  const keys = Array.from({ length: 100 }, (_, i) => `set-${i}`)
  const clock = new SystemClock()
  const common = {
    store,
    clock,
    log: silentLogger,
    listKeys: async () => keys,
    onAcquired: () => undefined,
    canRelease: () => false,
  }
  const a = new LeaseManager({ ...common, replicaId: 'a' })
  await a.tick() // a takes all 100, then is never heard of again
  const diedAt = performance.now()
  const b = new LeaseManager({ ...common, replicaId: 'b' })
  b.start()
  while (b.heldKeys().length < keys.length) await new Promise((r) => setTimeout(r, 50))
  const s = (performance.now() - diedAt) / 1000
  await b.stop()
  return s
}

const rows: [string, string, string][] = []
const figures: Record<string, number> = {}
const label = `${SETS.toLocaleString('en-US')} sets × ${PER_SET}`
if (which === 'sqlite' || which === 'both') {
  const dir = mkdtempSync(join(tmpdir(), 'osroll-bench-'))
  const store = await openSqliteStore(join(dir, 'osroll.db'))
  try {
    process.stderr.write('SQLite:\n')
    const r = await rollFleet(store)
    figures['sim.sqlite.instance_upgrades_per_s'] = Math.round(r.perSecond)
    rows.push([
      `sim fabric on SQLite, ${label}`,
      `${Math.round(r.perSecond).toLocaleString('en-US')} upgrades/s (${r.seconds.toFixed(1)} s, ${r.passes.toLocaleString('en-US')} passes)`,
      '≥ 10,000/s',
    ])
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
if (which === 'postgres' || which === 'both') {
  process.stderr.write('PostgreSQL:\n')
  const r = await withPostgres((store) => rollFleet(store))
  figures['sim.postgres.instance_upgrades_per_s'] = Math.round(r.perSecond)
  rows.push([
    `sim fabric on PostgreSQL, ${label}`,
    `${Math.round(r.perSecond).toLocaleString('en-US')} upgrades/s (${r.seconds.toFixed(1)} s, ${r.passes.toLocaleString('en-US')} passes)`,
    '≥ 3,000/s',
  ])
  process.stderr.write('  takeover (lease time 10 s)…\n')
  const t = await withPostgres((store) => takeoverSeconds(store))
  figures['replicas.takeover_s'] = Number(t.toFixed(2))
  rows.push(['takeover of 100 sets after their holder dies', `${t.toFixed(1)} s`, '< 15 s'])
}
const width = Math.max(...rows.map((r) => r[0].length))
console.log(`${'benchmark'.padEnd(width)}  ${'measured'.padEnd(44)}  goal`)
for (const [name, value, goal] of rows)
  console.log(`${name.padEnd(width)}  ${value.padEnd(44)}  ${goal}`)
if (json) console.log(JSON.stringify(figures))
