/**
 * Health gates (issue 21 §1, docs/controls.md § Health gates) through the API and the CLI, on the
 * sim fabric: `healthGates/default` validated (PromQL through a real Prometheus, whose own error
 * a refusal quotes) and stored, kept by a set PUT; a webhook gate against a real HTTP server that
 * passes a rollout when it answers 2xx and fails it, quoted, when it does not; the decisions in
 * the timeline and osroll's own /metrics.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../test-support/api-harness.js'
import { armPaths, imageBody } from '../../test-support/arm-fixtures.js'
import { servedSimFleet } from '../../test-support/served-fleet.js'
import type { ServedFleet } from '../../test-support/served-fleet.js'
import { freePort, startPrometheus } from '../../test-support/prometheus.js'
import type { TestPrometheus } from '../../test-support/prometheus.js'

let f: ServedFleet
let prom: TestPrometheus
let hook: Server
let hookUrl = ''
const hookCalls: any[] = []
let hookAnswer = { status: 200, body: 'ok' }
const GATES = '/providers/Osroll.Upgrades/healthGates/default'

beforeAll(async () => {
  hook = createServer((req, res) => {
    let text = ''
    req.on('data', (d: Buffer) => (text += d.toString()))
    req.on('end', () => {
      hookCalls.push(JSON.parse(text))
      res.writeHead(hookAnswer.status, { 'content-type': 'text/plain' })
      res.end(hookAnswer.body)
    })
  })
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
  hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/safe`
  prom = await startPrometheus()
  f = await servedSimFleet({ capacity: 2, healthDeadline: 'PT5S' })
}, 60_000)
afterAll(async () => {
  await f?.close()
  await prom?.stop()
  await new Promise((r) => hook?.close(r))
})

/** The raw text of an /events stream until `until` holds (at most 10 s), then closed. */
async function readEvents(path: string, until: (text: string) => boolean): Promise<string> {
  const port = (f.h.sys.app.server.address() as { port: number }).port
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), 10_000)
  let text = ''
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      headers: { authorization: `Bearer ${f.h.sys.adminToken}` },
      signal: controller.signal,
    })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    while (!until(text)) {
      const chunk = await reader.read()
      if (chunk.done) break
      text += decoder.decode(chunk.value, { stream: true })
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  return text
}

const stored = async () =>
  (await f.h.sys.deps.store.getScaleSet(armPaths(f.h.sub).set().toLowerCase()))?.healthGates

describe('healthGates', () => {
  it('is validated, stored and deleted; every bad input is a 400 that changes nothing', async () => {
    const path = `${armPaths(f.h.sub).set()}${GATES}`
    const none = await f.call('GET', path)
    expect([none.status, none.body.error.code]).toEqual([404, 'ResourceNotFound'])
    const cohort = {
      name: 'errors',
      kind: 'cohort',
      serverUrl: prom.url,
      query:
        'sum(rate(web_errors_total{version="{{version}}"}[30s])) / sum(rate(web_requests_total{version="{{version}}"}[30s]))',
      tolerance: 0.5,
      timeout: 'PT30S',
      interval: 'PT1S',
    }
    const put = await f.call('PUT', path, { properties: { gates: [cohort] } })
    expect(put.status, JSON.stringify(put.body)).toBe(201)
    expect(put.body).toEqual({
      id: `${armPaths(f.h.sub).set().toLowerCase()}${GATES}`,
      name: 'default',
      type: 'Osroll.Upgrades/healthGates',
      properties: { gates: [cohort] },
    })
    expect((await f.call('GET', path)).body).toEqual(put.body)
    const before = await stored()
    const ok = { name: 'p', kind: 'prometheus', serverUrl: prom.url, comparison: '<', threshold: 1 }
    const bad: [unknown, number, string, RegExp][] = [
      [
        { gates: [{ ...ok, query: 'sum(rate(web_errors_total[1m]' }] },
        400,
        'properties.gates[0].query',
        /^Prometheus refused the query of gate 'p': .*parse error/,
      ],
      [
        { gates: [{ ...ok, query: 'up', timeout: 'soon' }] },
        400,
        'properties.gates[0].timeout',
        /timeout must be an ISO 8601 duration from PT1S to PT1H, not "soon"/,
      ],
      [
        { gates: [{ ...ok, query: 'up', interval: 'PT0.1S' }] },
        400,
        'properties.gates[0].interval',
        /interval must be an ISO 8601 duration from PT0.5S/,
      ],
      [
        { gates: [{ ...ok, query: 'up', timeout: 'PT5S', interval: 'PT10S' }] },
        400,
        'properties.gates[0].interval',
        /interval \(PT10S\) must not be longer than its timeout \(PT5S\)/,
      ],
      [
        { gates: [{ name: 'x', kind: 'datadog' }] },
        400,
        'properties.gates[0].kind',
        /Unknown gate kind "datadog"; the kinds are prometheus, cohort, webhook/,
      ],
      [
        { gates: [{ ...ok, query: 'up', tolerance: 1 }] },
        400,
        'properties.gates[0].tolerance',
        /Unknown member 'tolerance' of a prometheus gate/,
      ],
      [
        { gates: [{ ...ok, query: 'up', comparison: '=~' }] },
        400,
        'properties.gates[0].comparison',
        /comparison must be one of < <= > >= == !=/,
      ],
      [
        { gates: [{ ...ok, query: 'up', threshold: '1' }] },
        400,
        'properties.gates[0].threshold',
        /threshold must be a number, not "1"/,
      ],
      [
        { gates: [{ ...ok, query: 'up{job="{{job}}"}' }] },
        400,
        'properties.gates[0].query',
        /Unknown placeholder \{\{job\}\}/,
      ],
      [
        { gates: [{ ...cohort, query: 'sum(web_errors_total{instance_id="{{instance}}"})' }] },
        400,
        'properties.gates[0].query',
        /A cohort gate compares versions, not instances/,
      ],
      [
        { gates: [{ ...cohort, query: 'sum(web_errors_total)' }] },
        400,
        'properties.gates[0].query',
        /A cohort gate needs \{\{version\}\}/,
      ],
      [
        { gates: [{ ...cohort, tolerance: -0.1 }] },
        400,
        'properties.gates[0].tolerance',
        /tolerance must be 0 or more/,
      ],
      [
        { gates: [{ name: 'w', kind: 'webhook', url: 'ftp://x/y' }] },
        400,
        'properties.gates[0].url',
        /url must be an http or https URL without credentials/,
      ],
      [
        { gates: [cohort, cohort] },
        400,
        'properties.gates[1].name',
        /Two gates are named 'errors'/,
      ],
      [
        { gates: [{ ...ok, name: 'bad name!', query: 'up' }] },
        400,
        'properties.gates[0].name',
        /A gate's name must be 1–64 letters/,
      ],
      [{ gates: 'errors' }, 400, 'properties.gates', /gates must be an array/],
      [{ rules: [] }, 400, 'properties.rules', /Unknown healthGates member 'rules'/],
    ]
    const down = `http://127.0.0.1:${await freePort()}`
    bad.push([
      { gates: [{ ...ok, serverUrl: down, query: 'up' }] },
      400,
      'properties.gates[0].serverUrl',
      /could not be checked: Prometheus at .* is unreachable \(ECONNREFUSED\)/,
    ])
    for (const [properties, status, target, message] of bad) {
      for (const method of ['PUT', 'PATCH']) {
        const r = await f.call(method, path, { properties })
        expect([r.status, r.body.error?.code, r.body.error?.target], method).toEqual([
          status,
          'InvalidParameter',
          target,
        ])
        expect(r.body.error.message).toMatch(message)
        expect(await stored()).toEqual(before) // it changed nothing
      }
    }
    const noVersion = await f.h.call('GET', path, { apiVersion: null })
    expect([noVersion.status, noVersion.body.error.code]).toEqual([
      400,
      'MissingApiVersionParameter',
    ])
    const missing = await f.call('PUT', `${armPaths(f.h.sub).set('nope')}${GATES}`, {
      properties: { gates: [] },
    })
    expect(missing.status).toBe(404)
    // A set PUT or PATCH keeps them (saveState).
    const patched = await f.call('PATCH', armPaths(f.h.sub).set(), { sku: { capacity: 2 } })
    expect(patched.status, JSON.stringify(patched.body)).toBeLessThan(300)
    expect(await stored()).toEqual(before)
    expect((await f.call('DELETE', path)).status).toBe(200)
    expect((await f.call('DELETE', path)).status).toBe(204)
    expect((await f.call('GET', path)).status).toBe(404)
    const patchNone = await f.call('PATCH', path, { properties: { gates: [] } })
    expect(patchNone.status).toBe(404)
  })

  it(
    'a webhook gate passes a rollout on 2xx, and fails it on anything else, quoted',
    { timeout: 120_000 },
    async () => {
      const set = armPaths(f.h.sub).set()
      const key = set.toLowerCase()
      const add = await f.osroll(
        ...['vmss', 'health-gate', 'add', '-g', 'rg', '-n', 'web'],
        ...['--gate', 'ask', '--kind', 'webhook', '--url', hookUrl, '--timeout', 'PT10S'],
        ...['--interval', 'PT1S', '--query', 'properties.gates[0].kind'],
      )
      expect(add.code, add.stderr).toBe(0)
      expect(JSON.parse(add.stdout)).toBe('webhook')
      const shown = await f.osroll('vmss', 'health-gate', 'show', '-g', 'rg', '-n', 'web')
      expect(JSON.parse(shown.stdout).properties.gates).toEqual([
        { name: 'ask', kind: 'webhook', url: hookUrl, timeout: 'PT10S', interval: 'PT1S' },
      ])
      const ended = async (n: number) =>
        waitFor(
          async () => {
            const rs = await f.h.sys.deps.store.listRollouts(key, { limit: 5 })
            return rs.length === n && rs[0]?.status !== 'RollingForward' && rs[0]
          },
          `rollout ${n} ended`,
          45_000,
        )
      hookAnswer = { status: 200, body: 'go ahead' }
      expect(
        (await f.call('PUT', armPaths(f.h.sub).image('1.1.0'), imageBody('sim:?boot=0'))).status,
      ).toBe(201)
      const passed = await ended(1)
      expect(passed.status).toBe('Completed')
      expect(hookCalls.length).toBeGreaterThanOrEqual(2)
      expect(hookCalls[0]).toMatchObject({
        gate: 'ask',
        scaleSet: { id: key, name: 'web' },
        instance: { fromVersion: '1.0.0', version: '1.1.0' },
        rollout: { id: passed.id, kind: 'OSImage', targetVersion: '1.1.0', batch: 1 },
      })
      const events = await f.h.sys.deps.store.listEvents(passed.id)
      expect(events.filter((e) => e.reason === 'HealthyAndGatesPassed')).toHaveLength(2)

      hookAnswer = { status: 409, body: 'change freeze until Monday' }
      expect(
        (await f.call('PUT', armPaths(f.h.sub).image('1.2.0'), imageBody('sim:?boot=0'))).status,
      ).toBe(201)
      const refused = await ended(2)
      expect(refused.status).toBe('Faulted')
      const failed = refused.attempts.filter((a) => a.failure)
      expect(failed.length).toBeGreaterThan(0)
      expect(failed[0]?.failure).toEqual({
        reason: 'GateFailed',
        message: `Instance ${failed[0]?.instanceId} failed health gate 'ask': GateWebhookRefused: ${hookUrl} answered HTTP 409: "change freeze until Monday"`,
      })
      expect(refused.error?.message).toContain('GateWebhookRefused')
      expect(failed.every((a) => a.state === 'RolledBack')).toBe(true)
      const timeline = await f.h.sys.deps.store.listEvents(refused.id)
      expect(timeline.some((e) => e.reason === 'GateFailed')).toBe(true)
      // The gate decisions are on /events, as every rollout decision is.
      const streamed = await readEvents(
        `/events?since=0&scaleSet=${encodeURIComponent(key)}`,
        (t) => t.includes('"reason":"GateFailed"'),
      )
      expect(streamed).toContain('"reason":"HealthyAndGatesPassed"')
      expect(streamed).toMatch(/"to":"RollingBack","reason":"GateFailed"/)
      const metrics = await f.h.call('GET', '/metrics', { apiVersion: null })
      expect(metrics.body).toMatch(
        /osroll_gate_evaluations_total\{kind="webhook",result="pass",reason=""\} [1-9]/,
      )
      expect(metrics.body).toMatch(
        /osroll_gate_failures_total\{kind="webhook",reason="GateWebhookRefused"\} [1-9]/,
      )
      const list = JSON.stringify([{ name: 'ask', kind: 'webhook', url: hookUrl }])
      const replaced = await f.osroll(
        ...['vmss', 'health-gate', 'set', '-g', 'rg', '-n', 'web', '--gates', list],
      )
      expect(replaced.code, replaced.stderr).toBe(0)
      expect(JSON.parse(replaced.stdout).properties.gates).toEqual([
        { name: 'ask', kind: 'webhook', url: hookUrl, timeout: 'PT2M', interval: 'PT10S' },
      ])
      const unknown = await f.osroll(
        ...['vmss', 'health-gate', 'remove', '-g', 'rg', '-n', 'web', '--gate', 'nope'],
      )
      expect([unknown.code, unknown.stderr]).toEqual([
        1,
        expect.stringMatching(/The set has no gate named 'nope'/),
      ])
      const removed = await f.osroll(
        ...['vmss', 'health-gate', 'remove', '-g', 'rg', '-n', 'web', '--gate', 'ask'],
      )
      expect(removed.code, removed.stderr).toBe(0)
      expect(await stored()).toEqual([])
      const del = await f.osroll('vmss', 'health-gate', 'delete', '-g', 'rg', '-n', 'web')
      expect(del.code, del.stderr).toBe(0)
      expect(await stored()).toBeNull()
    },
  )
})
