/**
 * W4, gates included (docs/rollouts.md § Waves across scale sets): a stage completes only when
 * its sets stayed healthy, their health gates included, for the bake time. Through the API on the
 * sim fabric with a real webhook server as the gate: a version whose gate passes during the
 * rollout and again after the bake goes to stage 2; a version whose gate starts failing after
 * the rollout (during the bake) fails the wave with ScaleSetGateFailed, quoting the answer, and
 * stage 2 is never released.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import {
  armPaths,
  autoUpgradeSetBody,
  healthyInstances,
  imageBody,
  loadBalancerBody,
  UBUNTU_LATEST,
} from '../../test-support/arm-fixtures.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let server: Server | undefined
let url = ''
/** The gate's answers: each call's time and version; `failing` turns it to 500. */
const calls: { atMs: number; version: string }[] = []
let failing = false
const id = (name: string) => armPaths(h.sub).set(name)
const planPath = () => `/subscriptions/${h.sub}/providers/Osroll.Upgrades/rolloutPlans/fleet`
const put = async (path: string, body: unknown) => {
  const r = await h.call('PUT', path, { body })
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300)
  return r.body
}
const status = async () => (await h.call('GET', planPath())).body.properties.status
const waveIs = (version: string, phase: string) =>
  waitFor(
    async () => {
      const s = await status()
      return s.version === version && s.phase === phase && s
    },
    `wave ${version} ${phase}`,
    20_000,
  )

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = ''
    req.on('data', (d: Buffer) => (text += d.toString()))
    req.on('end', () => {
      const body = JSON.parse(text) as { instance: { version: string } }
      calls.push({ atMs: Date.now(), version: body.instance.version })
      if (failing) res.writeHead(500).end('error rate 0.4 > 0.1')
      else res.writeHead(204).end()
    })
  })
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/gate`
  h = await apiHarness()
  await put(armPaths(h.sub).image('1.0.0'), imageBody('sim:?boot=0'))
  await put(armPaths(h.sub).lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }))
  const get = async (path: string) => (await h.call('GET', path)).body
  for (const name of ['a', 'b']) {
    await put(id(name), autoUpgradeSetBody({ sub: h.sub, capacity: 1, probe: 'tcp' }))
    await waitFor(() => healthyInstances(get, id(name), 1), `${name} healthy`, 30_000)
  }
  const gates = [{ name: 'errors', kind: 'webhook', url, timeout: 'PT5S', interval: 'PT1S' }]
  await put(`${id('a')}/providers/Osroll.Upgrades/healthGates/default`, { properties: { gates } })
}, 60_000)
afterAll(async () => {
  await h?.close()
  server?.closeAllConnections()
  await new Promise((r) => (server ? server.close(r) : r(null)))
})

describe('waves: gates asked after the bake', () => {
  it('completes a stage only after its gates pass after the bake; a failure then stops the plan', async () => {
    const stages = [
      { name: 'canary', scaleSets: [id('a')], bakeTime: 'PT2S' },
      { name: 'rest', scaleSets: [id('b')], bakeTime: 'PT0S' },
    ]
    await put(planPath(), { properties: { imageReference: UBUNTU_LATEST, stages } })
    await waveIs('1.0.0', 'Succeeded')

    // 1.1.0: the gate passes during the rollout and after the bake; stage 2 then starts.
    await put(armPaths(h.sub).image('1.1.0'), imageBody('sim:?boot=0'))
    const good = await waveIs('1.1.0', 'Succeeded')
    const canary = good.stages[0]
    const bakeEnd = Date.parse(canary.bakeStartTime) + 2_000
    const after = calls.filter((c) => c.version === '1.1.0' && c.atMs >= bakeEnd)
    expect(after.length, JSON.stringify({ calls, canary })).toBeGreaterThan(0)
    expect(Date.parse(good.stages[1].startTime)).toBeGreaterThanOrEqual(after[0]!.atMs)

    // 1.2.0: the rollout passes its gate, then errors rise during the bake: the wave fails.
    await put(armPaths(h.sub).image('1.2.0'), imageBody('sim:?boot=0'))
    await waitFor(
      async () => {
        const [r] = await h.sys.deps.store.listRollouts(id('a').toLowerCase(), { limit: 1 })
        return r?.target.imageVersion === '1.2.0' && r.status === 'Completed'
      },
      'a rolled to 1.2.0 with its gate passed',
      20_000,
    )
    failing = true
    const bad = await waveIs('1.2.0', 'Failed')
    expect(bad.reason).toMatchObject({ code: 'ScaleSetGateFailed', stage: 'canary' })
    expect(bad.reason.message).toMatch(
      /gate 'errors': GateWebhookRefused: .* answered HTTP 500: "error rate 0.4 > 0.1"/,
    )
    expect(bad.stages[1].phase).toBe('Pending')
    expect(
      (await h.sys.deps.store.listRollouts(id('b').toLowerCase(), { limit: 5 })).map(
        (r) => r.target.imageVersion,
      ),
    ).not.toContain('1.2.0')
  }, 60_000)
})
