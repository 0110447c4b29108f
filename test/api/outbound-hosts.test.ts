/**
 * The allow-list of hosts gates and hooks may call (`--outbound-hosts`, docs/security.md
 * § Outbound calls): a gate or hook aimed elsewhere is a 400 InvalidParameter naming the member
 * and the list, refused before anything is called, and changes nothing; an allowed host is
 * taken. A bad list is a configuration error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import {
  armPaths,
  autoUpgradeSetBody,
  healthyInstances,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'
import { loadConfig } from '../../src/config/config.js'

let h: Awaited<ReturnType<typeof apiHarness>>
const set = () => armPaths(h.sub).set()
const GATES = () => `${set()}/providers/Osroll.Upgrades/healthGates/default`
const HOOKS = () => `${set()}/providers/Osroll.Upgrades/lifecycleHooks/default`

beforeAll(async () => {
  h = await apiHarness({ config: { outboundHosts: 'prom.internal:9090, *.hooks.example' } })
  const put = async (path: string, body: unknown) =>
    expect((await h.call('PUT', path, { body })).status).toBeLessThan(300)
  await put(armPaths(h.sub).image('1.0.0'), imageBody('sim:?boot=0'))
  await put(armPaths(h.sub).lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }))
  await put(set(), autoUpgradeSetBody({ sub: h.sub, capacity: 1, probe: 'tcp' }))
  const get = async (path: string) => (await h.call('GET', path)).body
  await waitFor(() => healthyInstances(get, set(), 1), 'healthy', 30_000)
})
afterAll(() => h.close())

describe('--outbound-hosts', () => {
  it('refuses gates and hooks aimed outside the list at PUT, and takes the others', async () => {
    const prom = {
      name: 'errors',
      kind: 'prometheus',
      serverUrl: 'http://127.0.0.1:9090',
      query: 'vector(0)',
      comparison: '<',
      threshold: 1,
      timeout: 'PT5S',
      interval: 'PT1S',
    }
    const hook = {
      name: 'ask',
      kind: 'webhook',
      url: 'https://ok.hooks.example/gate',
      timeout: 'PT5S',
      interval: 'PT1S',
    }
    const refused = await h.call('PUT', GATES(), { body: { properties: { gates: [hook, prom] } } })
    expect([refused.status, refused.body.error.code, refused.body.error.target]).toEqual([
      400,
      'InvalidParameter',
      'properties.gates[1].serverUrl',
    ])
    expect(refused.body.error.message).toBe(
      "serverUrl http://127.0.0.1:9090 calls 127.0.0.1:9090, which is not in this server's allow-list of outbound hosts (--outbound-hosts prom.internal:9090,*.hooks.example): aim it at an allowed host, or ask the operator to add this one.",
    )
    const webhook = await h.call('PUT', GATES(), {
      body: { properties: { gates: [{ ...hook, url: 'https://hooks.example/gate' }] } },
    })
    expect([webhook.status, webhook.body.error?.target]).toEqual([400, 'properties.gates[0].url'])
    expect((await h.call('GET', GATES())).status).toBe(404) // nothing written
    const taken = await h.call('PUT', GATES(), { body: { properties: { gates: [hook] } } })
    expect(taken.status, JSON.stringify(taken.body)).toBe(201)

    const pre = (url: string) => ({
      properties: { preReimage: { url, timeout: 'PT3S', defaultAction: 'continue' } },
    })
    const badHook = await h.call('PUT', HOOKS(), { body: pre('http://169.254.169.254/latest') })
    expect([badHook.status, badHook.body.error.code, badHook.body.error.target]).toEqual([
      400,
      'InvalidParameter',
      'properties.preReimage.url',
    ])
    expect(badHook.body.error.message).toMatch(
      /^url http:\/\/169\.254\.169\.254\/latest calls 169\.254\.169\.254:80, which is not in/,
    )
    expect((await h.call('GET', HOOKS())).status).toBe(404)
    expect(
      (await h.call('PUT', HOOKS(), { body: pre('https://drain.hooks.example/pre') })).status,
    ).toBe(201)
  })

  it('a list that is not host patterns is a configuration error', () => {
    expect(() => loadConfig({ outboundHosts: 'prom.internal,http://x' }, {})).toThrow(
      /--outbound-hosts \(OSROLL_OUTBOUND_HOSTS\): 'http:\/\/x' is not a host pattern/,
    )
    expect(() => loadConfig({ outboundHosts: ' , ' }, {})).toThrow(/names no host/)
    expect(loadConfig({}, {}).outboundHosts).toBeNull()
  })
})
