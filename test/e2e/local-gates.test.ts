/**
 * Health gates end to end on the `local` fabric (issue 21 §1, docs/controls.md § Health gates),
 * with the real Prometheus scraping the sample instances' `/metrics` and a real webhook server:
 * a good version passes every gate (cohort, per-instance PromQL, webhook); a version healthy by
 * probe whose error rate rises is stopped by the cohort gate and rolled back, the reason quoting
 * the values; and a gate whose Prometheus is down fails closed with a typed reason. The
 * instances use 127.91.0.0/16 of their own.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
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
  imageBody,
  loadBalancerBody,
  HTTP_HEALTH_PROBE,
  healthyInstances,
  privateAddresses,
} from '../../test-support/arm-fixtures.js'

const work = mkdtempSync(join(tmpdir(), 'osroll-e2e-gates-'))
let h: Awaited<ReturnType<typeof apiHarness>> | undefined
let call: Call
let sub: string
let prom: TestPrometheus | undefined
let hook: Server | undefined
let hookUrl = ''
const hookCalls: any[] = []
let traffic: NodeJS.Timeout | undefined
const set = () => armPaths(sub).set()
const GATES = () => `${set()}/providers/Osroll.Upgrades/healthGates/default`
const publish = async (version: string, errorRate = 0) =>
  expect(
    (
      await call('PUT', armPaths(sub).image(version), {
        body: imageBody(sampleImage(work, { version, errorRate })),
      })
    ).status,
  ).toBe(201)
const ERROR_RATIO =
  'sum(rate(web_errors_total{version="{{version}}"}[5s])) / sum(rate(web_requests_total{version="{{version}}"}[5s]))'

beforeAll(async () => {
  hook = createServer((req, res) => {
    let text = ''
    req.on('data', (d: Buffer) => (text += d.toString()))
    req.on('end', () => {
      hookCalls.push(JSON.parse(text))
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((r) => hook?.listen(0, '127.0.0.1', r))
  hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/ok`
  prom = await startPrometheus()
  h = await apiHarness({
    fabric: 'local',
    healthDeadline: 'PT30S',
    config: { addressRange: '127.91.0.0/16' },
  })
  call = h.call
  sub = h.sub
}, 60_000)
afterAll(async () => {
  if (traffic) clearInterval(traffic)
  try {
    if (h) await call('DELETE', set())
  } finally {
    await h?.close()
    await prom?.stop()
    await new Promise((r) => (hook ? hook.close(r) : r(null)))
    rmSync(work, { recursive: true, force: true })
  }
}, 60_000) // stopping the instances and servers can take over the default 10 s on a loaded machine

const rollouts = async () => h!.sys.deps.store.listRollouts(set().toLowerCase(), { limit: 10 })
const ended = (n: number, what: string) =>
  waitFor(
    async () => {
      const rs = await rollouts()
      return rs.length === n && rs[0]?.status !== 'RollingForward' && rs[0]
    },
    what,
    40_000,
  )

describe('health gates on the local fabric with a real Prometheus', () => {
  it(
    'passes a good version, stops and rolls back a raised error rate, fails closed without Prometheus',
    { timeout: 150_000 },
    async () => {
      await publish('1.0.0')
      await call('PUT', armPaths(sub).lb, { body: loadBalancerBody(HTTP_HEALTH_PROBE) })
      const created = await call('PUT', set(), {
        body: autoUpgradeSetBody({ sub, capacity: 2, probe: 'http' }),
      })
      expect(created.status).toBe(201)
      const get = async (path: string) => (await call('GET', path)).body
      await waitFor(() => healthyInstances(get, set(), 2), 'two healthy instances', 30_000)
      const ips = await privateAddresses(get, set())
      expect(ips.every((ip) => ip.startsWith('127.91.'))).toBe(true)
      // Prometheus scrapes the instances; a client sends them traffic, as a load balancer would.
      prom!.setTargets(ips.map((ip) => ({ address: `${ip}:8080` })))
      traffic = setInterval(() => {
        for (const ip of ips)
          fetch(`http://${ip}:8080/`).then(
            (r) => r.arrayBuffer(),
            () => null,
          )
      }, 20)
      await waitFor(
        async () => (await prom!.query('sum(web_requests_total)')).data?.result?.[0],
        'Prometheus scraping the instances',
        15_000,
      )
      const gates = [
        {
          name: 'errors',
          kind: 'cohort',
          serverUrl: prom!.url,
          query: ERROR_RATIO,
          tolerance: 0.5,
          timeout: 'PT20S',
          interval: 'PT1S',
        },
        {
          name: 'serving',
          kind: 'prometheus',
          serverUrl: prom!.url,
          query:
            'sum(rate(web_requests_total{instance_id="{{instance}}",version="{{version}}"}[5s]))',
          comparison: '>',
          threshold: 0,
          timeout: 'PT20S',
          interval: 'PT1S',
        },
        { name: 'ask', kind: 'webhook', url: hookUrl, timeout: 'PT10S', interval: 'PT1S' },
      ]
      const put = await call('PUT', GATES(), { body: { properties: { gates } } })
      expect(put.status, JSON.stringify(put.body)).toBe(201)

      // (b) A good version passes every gate.
      await publish('1.1.0')
      const good = await ended(1, 'the rollout to 1.1.0')
      expect(good.status).toBe('Completed')
      const passed = (await h!.sys.deps.store.listEvents(good.id)).filter(
        (e) => e.reason === 'HealthyAndGatesPassed',
      )
      expect(passed.map((e) => e.instanceId).sort()).toEqual(['0', '1'])
      expect(new Set(hookCalls.map((c) => c.instance.instanceId))).toEqual(new Set(['0', '1']))

      // (a) Healthy by probe, but half its requests fail: the cohort gate stops it.
      await publish('1.2.0', 0.5)
      const bad = await ended(2, 'the rollout to 1.2.0')
      expect(bad.status).toBe('Faulted')
      const failed = bad.attempts.filter((a) => a.failure)
      expect(failed).toHaveLength(1)
      expect(failed[0]).toMatchObject({ state: 'RolledBack', failure: { reason: 'GateFailed' } })
      expect(failed[0]?.failure?.message).toMatch(
        /^Instance \d failed health gate 'errors': GateCohortRegressed: upgraded cohort \(version 1\.2\.0\) 0\.\d+ > baseline \(version 1\.1\.0\) 0 × \(1 \+ 0\.5\) = 0; query sum\(rate\(web_errors_total/,
      )
      expect(bad.error?.message).toContain('GateCohortRegressed')
      await waitFor(() => healthyInstances(get, set(), 2), 'healthy again', 30_000)
      const answers = await Promise.all(
        ips.map(async (ip) => (await fetch(`http://${ip}:8080/`)).text()),
      )
      expect(answers.every((a) => a.includes('runs image 1.1.0'))).toBe(true)

      // (c) Prometheus goes down: the gates fail closed, with a typed reason.
      const short = gates
        .filter((g) => g.kind !== 'webhook')
        .map((g) => ({ ...g, timeout: 'PT4S', interval: 'PT1S' }))
      expect((await call('PUT', GATES(), { body: { properties: { gates: short } } })).status).toBe(
        200,
      )
      const promUrl = prom!.url
      await prom!.stop()
      await publish('1.3.0')
      const closed = await ended(3, 'the rollout to 1.3.0')
      expect(closed.status).toBe('Faulted')
      const shut = closed.attempts.filter((a) => a.failure)
      expect(shut).toHaveLength(1)
      expect(shut[0]).toMatchObject({ state: 'RolledBack', failure: { reason: 'GateFailed' } })
      expect(shut[0]?.failure?.message).toMatch(
        new RegExp(
          `failed health gate '(errors|serving)': GateUnreachable: Prometheus at ${promUrl} is unreachable: ECONNREFUSED; no verdict within the gate's timeout 4s \\(fail closed\\)`,
        ),
      )
      const metrics = (await call('GET', '/metrics', { apiVersion: null })).body as string
      expect(metrics).toMatch(
        /osroll_gate_failures_total\{kind="cohort",reason="GateCohortRegressed"\} 1/,
      )
      expect(metrics).toMatch(
        /osroll_gate_failures_total\{kind="(cohort|prometheus)",reason="GateUnreachable"\} [1-9]/,
      )
      expect(metrics).toMatch(
        /osroll_gate_evaluations_total\{kind="webhook",result="pass",reason=""\} [1-9]/,
      )
    },
  )
})
