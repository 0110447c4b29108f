/**
 * The Grafana dashboard of docs/grafana/osroll-upgrades.json (issue 21 §5, docs/operations.md
 * § Grafana dashboard) against real series: a real osroll server on the `local` fabric, scraped
 * by the real Prometheus of the tests, runs a one-set rollout plan whose set has a webhook health
 * gate, a pre-reimage hook and a short maintenance window. One version fails the gate (rolled
 * back, its wave failed), the next one passes and its stage bakes. Then every panel's query runs
 * through Prometheus's HTTP API and must return series. Instances use 127.94.0.0/16.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import type { Call } from '../../test-support/api-harness.js'
import { sampleImage } from '../../test-support/sample-images.js'
import { startPrometheus } from '../../test-support/prometheus.js'
import type { TestPrometheus } from '../../test-support/prometheus.js'
import {
  armPaths,
  autoUpgradeSetBody,
  healthyInstances,
  imageBody,
  loadBalancerBody,
  HTTP_HEALTH_PROBE,
  UBUNTU_LATEST,
} from '../../test-support/arm-fixtures.js'

const DASHBOARD = new URL('../../docs/grafana/osroll-upgrades.json', import.meta.url)
/** The window: 3 s open every 6 s (a six-field cron, seconds first), so waits are short. */
const EVERY_MS = 6_000
const OPEN_MS = 3_000
const BAD = '1.1.0'

const work = mkdtempSync(join(tmpdir(), 'osroll-e2e-grafana-'))
let h: Awaited<ReturnType<typeof apiHarness>> | undefined
let call: Call
let sub: string
let prom: TestPrometheus | undefined
let hooks: Server | undefined
let base = ''
const set = () => armPaths(sub).set()
const ext = (what: string) => `${set()}/providers/Osroll.Upgrades/${what}/default`
const planPath = () => `/subscriptions/${sub}/providers/Osroll.Upgrades/rolloutPlans/fleet`

type Target = { expr: string; refId: string }
type Panel = { type: string; title: string; targets?: Target[]; panels?: Panel[] }
const panelsOf = (ps: readonly Panel[]): Panel[] =>
  ps.flatMap((p) => [p, ...panelsOf(p.panels ?? [])]).filter((p) => p.type !== 'row')

/** Grafana's variables as a 1 s scrape makes sense of them. */
const expand = (expr: string) =>
  expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '10m')

beforeAll(async () => {
  // The gate refuses the bad version; the pre-reimage hook lets every instance go.
  hooks = createServer((req, res) => {
    let text = ''
    req.on('data', (d: Buffer) => (text += d.toString()))
    req.on('end', () => {
      const body = JSON.parse(text) as { instance?: { version?: string } }
      if (req.url === '/pre') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ answer: 'continue' }))
      } else if (body.instance?.version === BAD) res.writeHead(500).end('error rate too high')
      else res.writeHead(204).end()
    })
  })
  await new Promise<void>((r) => hooks?.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(hooks.address() as { port: number }).port}`
  h = await apiHarness({
    fabric: 'local',
    healthDeadline: 'PT30S',
    config: { addressRange: '127.94.0.0/16' },
  })
  call = h.call
  sub = h.sub
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (h.sys.app.server.address() as { port: number }).port
  prom = await startPrometheus({
    jobs: [{ name: 'osroll', targets: [`127.0.0.1:${port}`], bearerToken: h.sys.adminToken }],
  })
}, 60_000)
afterAll(async () => {
  try {
    if (h) await call('DELETE', set())
  } finally {
    await h?.close()
    await prom?.stop()
    hooks?.closeAllConnections()
    await new Promise((r) => (hooks ? hooks.close(r) : r(null)))
    rmSync(work, { recursive: true, force: true })
  }
})

const status = async () => (await call('GET', planPath())).body.properties.status
const waveIs = (version: string, phase: string) =>
  waitFor(
    async () => {
      const s = await status()
      return s.version === version && s.phase === phase && s
    },
    `wave ${version} ${phase}`,
    60_000,
  )
/** Publishes once the window has just closed, so that the rollout waits for the next one. */
async function publishOutsideWindow(version: string): Promise<void> {
  const late = Date.now() % EVERY_MS
  const wait =
    late >= OPEN_MS + 200 && late < EVERY_MS - 1_500
      ? 0
      : (EVERY_MS + OPEN_MS + 200 - late) % EVERY_MS
  await new Promise((r) => setTimeout(r, wait))
  const r = await call('PUT', armPaths(sub).image(version), {
    body: imageBody(sampleImage(work, { version })),
  })
  expect(r.status).toBe(201)
}

describe('the Grafana dashboard', () => {
  it('every panel query returns series from a real scrape', { timeout: 150_000 }, async () => {
    const panels = panelsOf(JSON.parse(readFileSync(DASHBOARD, 'utf8')).panels)
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, ...t })))
    expect(exprs.length).toBeGreaterThanOrEqual(20)
    // The four families each have panels (gates, windows, hooks, waves/stages).
    for (const family of ['osroll_gate_', 'window', 'osroll_hook_', 'osroll_wave_'])
      expect(
        exprs.some((e) => e.expr.includes(family)),
        family,
      ).toBe(true)

    const put = async (path: string, body: unknown) => {
      const r = await call('PUT', path, { body })
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300)
    }
    await put(armPaths(sub).image('1.0.0'), imageBody(sampleImage(work, { version: '1.0.0' })))
    await put(armPaths(sub).lb, loadBalancerBody(HTTP_HEALTH_PROBE))
    await put(set(), autoUpgradeSetBody({ sub, capacity: 1, probe: 'http' }))
    const get = async (path: string) => (await call('GET', path)).body
    await waitFor(() => healthyInstances(get, set(), 1), 'a healthy instance', 30_000)
    await put(ext('healthGates'), {
      properties: {
        gates: [
          { name: 'ask', kind: 'webhook', url: `${base}/gate`, timeout: 'PT5S', interval: 'PT1S' },
        ],
      },
    })
    await put(ext('lifecycleHooks'), {
      properties: {
        preReimage: { url: `${base}/pre`, timeout: 'PT3S', defaultAction: 'continue' },
      },
    })
    await put(ext('maintenanceWindows'), {
      properties: { timeZone: 'UTC', windows: [{ cron: '*/6 * * * * *', duration: 'PT3S' }] },
    })
    await put(planPath(), {
      properties: {
        imageReference: UBUNTU_LATEST,
        stages: [{ name: 'only', scaleSets: [set()], bakeTime: 'PT1S' }],
      },
    })
    await waveIs('1.0.0', 'Succeeded')

    await publishOutsideWindow(BAD)
    await waveIs(BAD, 'Failed')
    await publishOutsideWindow('1.2.0')
    await waveIs('1.2.0', 'Succeeded')
    const rs = await h!.sys.deps.store.listRollouts(set().toLowerCase(), { limit: 5 })
    expect(rs.map((r) => [r.target.imageVersion, r.status])).toEqual([
      ['1.2.0', 'Completed'],
      [BAD, 'Faulted'],
    ])
    const events = await h!.sys.deps.store.listEvents(rs[1]!.id)
    expect(events.some((e) => e.reason === 'MaintenanceWindowClosed')).toBe(true)

    // Prometheus has scraped the last of it: the second success of a wave, twice (for rate()).
    await waitFor(
      async () =>
        (await prom!.query('count_over_time(osroll_waves_total{status="Succeeded"}[1m]) >= 2')).data
          ?.result?.[0],
      'Prometheus scraping the end of the wave',
      15_000,
    )
    const empty: string[] = []
    for (const e of exprs) {
      const r = await prom!.query(expand(e.expr))
      expect(r.status, `${e.title}: ${e.expr}: ${JSON.stringify(r)}`).toBe('success')
      if ((r.data?.result ?? []).length === 0) empty.push(`${e.title} (${e.refId}): ${e.expr}`)
    }
    expect(empty).toEqual([])
  })
})
