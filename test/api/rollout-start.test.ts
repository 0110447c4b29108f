/**
 * Rollback on every path (issue 20 §5) and the adaptive ramp (§9) through the API and the CLI:
 * `POST {set}/providers/Osroll.Upgrades/rollouts/start` validates its body, changes nothing on
 * bad input, and a start that asks for rollback restores the failed instances; `upgradeSettings`
 * takes `adaptiveRamp` and the plan shows the ramp.
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
import { cliRunner } from '../../test-support/cli-runner.js'
import type { Rollout } from '../../src/core/rollout/types.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let endpoint = ''
const osroll = cliRunner(() => ({ endpoint, token: h.sys.adminToken }))
const START = '/providers/Osroll.Upgrades/rollouts/start'
const SETTINGS = '/providers/Osroll.Upgrades/upgradeSettings/default'
const call = (method: string, path: string, body?: unknown) =>
  h.call(method, path, body === undefined ? {} : { body })
const rollouts = () =>
  h.sys.deps.store.listRollouts(armPaths(h.sub).set().toLowerCase(), { limit: 10 })
const ended = (count: number) =>
  waitFor(
    async () => {
      const rs = await rollouts()
      return rs.length === count && rs[0]?.status !== 'RollingForward' && (rs[0] as Rollout)
    },
    `rollout ${count} ended`,
    45_000,
  )

beforeAll(async () => {
  h = await apiHarness({ healthDeadline: 'PT2S' })
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  endpoint = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
  const p = armPaths(h.sub)
  const body = autoUpgradeSetBody({ sub: h.sub, capacity: 4, probe: 'tcp' }) as any
  body.properties.upgradePolicy = { mode: 'Manual' } // no automatic rollout: only manual starts
  for (const [path, b] of [
    [p.image('1.0.0'), imageBody('sim:?boot=0')],
    [p.lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 })],
    [p.set(), body],
  ] as const)
    expect((await h.call('PUT', path, { body: b })).status).toBeLessThan(300)
  const get = async (path: string) => (await h.call('GET', path)).body
  await waitFor(() => healthyInstances(get, p.set(), 4), 'four healthy instances', 30_000)
  // 1.1.0 never becomes healthy
  const broken = imageBody('sim:?boot=0&health=unhealthy')
  expect((await h.call('PUT', p.image('1.1.0'), { body: broken })).status).toBe(201)
})
afterAll(() => h.close())

describe('Osroll.Upgrades/rollouts/start', () => {
  it('refuses bad input with an ARM error and starts nothing', async () => {
    const set = armPaths(h.sub).set()
    const bad = [
      [set, { rollback: 'yes' }, 400, 'InvalidParameter', /rollback must be true or false/],
      [set, { version: 'one' }, 400, 'InvalidParameter', /"one" is not an image version/],
      [set, { rollback: true, soak: 'PT1M' }, 400, 'InvalidParameter', /Unknown member 'soak'/],
      [set, [true], 400, 'InvalidRequestContent', /JSON object/],
      [set, { version: '9.9.9' }, 404, 'NotFound', /'9.9.9' is not published/],
      [set, { version: '1.5.0' }, 409, 'OperationNotAllowed', /not published in westus/],
      [armPaths(h.sub).set('nope'), { rollback: true }, 404, 'ResourceNotFound', /nope/],
    ] as const
    // 1.5.0 is published, but in eastus only: not a version the set in westus can run.
    const eastus = armPaths(h.sub).image('1.5.0').replace('/westus/', '/eastus/')
    const elsewhere = { ...imageBody('sim:?boot=0'), location: 'eastus' }
    expect((await h.call('PUT', eastus, { body: elsewhere })).status).toBe(201)
    const plan = await h.call('GET', `${set}/providers/Osroll.Upgrades/plans/default?version=1.5.0`)
    expect([plan.status, plan.body.error?.code]).toEqual([409, 'OperationNotAllowed'])
    for (const [path, body, status, code, message] of bad) {
      const r = await call('POST', `${path}${START}`, body)
      expect([r.status, r.body.error?.code], JSON.stringify(body)).toEqual([status, code])
      expect(r.body.error.message).toMatch(message)
    }
    expect(await rollouts()).toEqual([])
  })

  it(
    'a start that asks for rollback restores its failed instances',
    { timeout: 60_000 },
    async () => {
      const set = armPaths(h.sub).set()
      const r = await call('POST', `${set}${START}`, { rollback: true, version: '1.1.0' })
      expect(r.status, JSON.stringify(r.body)).toBe(202)
      expect(r.headers['azure-asyncoperation']).toMatch(/\/operations\//)
      const done = await ended(1)
      expect(done).toMatchObject({ startedBy: 'User', rollback: true, status: 'Faulted' })
      expect(done.target.imageVersion).toBe('1.1.0')
      expect(done.attempts.length).toBeGreaterThan(0)
      for (const a of done.attempts) expect(a.state).toBe('RolledBack')
    },
  )

  it('osroll vmss rolling-upgrade start --rollback', { timeout: 60_000 }, async () => {
    const set = ['-g', 'rg', '-n', 'web']
    const r = await osroll('vmss', 'rolling-upgrade', 'start', ...set, '--rollback', '-o', 'none')
    expect(r.code, r.stderr).toBe(1) // Faulted: the image never becomes healthy
    const done = await ended(2)
    expect(done.rollback).toBe(true)
    expect(done.attempts.length).toBeGreaterThan(0)
    for (const a of done.attempts) expect(a.state).toBe('RolledBack')
    const v = await osroll('vmss', 'rolling-upgrade', 'start', ...set, '--version', '7.0.0')
    expect([v.code, v.stderr]).toEqual([1, expect.stringMatching(/'7.0.0' is not published/)])
  })
})

describe('adaptive ramp settings', () => {
  it(
    'upgradeSettings takes adaptiveRamp; the plan shows the ramp',
    { timeout: 60_000 },
    async () => {
      const set = armPaths(h.sub).set()
      const bad = await call('PATCH', `${set}${SETTINGS}`, { properties: { adaptiveRamp: 'yes' } })
      expect([bad.status, bad.body.error.code]).toEqual([400, 'InvalidParameter'])
      expect(bad.body.error.message).toMatch(/adaptiveRamp must be true or false, not "yes"/)
      expect((await call('GET', `${set}${SETTINGS}`)).status).toBe(404) // nothing was written
      const cli = ['vmss', 'upgrade-settings', 'set', '-g', 'rg', '-n', 'web']
      const on = await osroll(...cli, '--adaptive-ramp', 'true', '--query', 'properties')
      expect(on.code, on.stderr).toBe(0)
      expect(JSON.parse(on.stdout)).toMatchObject({
        adaptiveRamp: true,
        effective: { adaptiveRamp: true },
      })
      const wrong = await osroll(...cli, '--adaptive-ramp', 'maybe')
      expect(wrong.code).not.toBe(0)
      expect(wrong.stderr).toMatch(/'maybe' is not one of true, false/)
      // the restored instances answer their probe again before the plan's pre-check
      const get = async (path: string) => (await h.call('GET', path)).body
      await waitFor(() => healthyInstances(get, set, 4), 'four healthy instances', 30_000)
      const plan = await call('GET', `${set}/providers/Osroll.Upgrades/plans/default?version=1.1.0`)
      expect(plan.status).toBe(200)
      expect(plan.body.properties.adaptiveRamp).toBe(true)
      // four instances at 20%: R3.1's batch is 1, so the ramp stays at 1
      expect(plan.body.properties.batches.map((b: any) => b.rampSize)).toEqual([1, 1, 1, 1])
    },
  )
})

describe('an empty start', () => {
  it("is Azure's rule: no rollback, the failed instance stays", { timeout: 60_000 }, async () => {
    const r = await call('POST', `${armPaths(h.sub).set()}${START}`, {})
    expect(r.status).toBe(202)
    const done = await ended(3)
    expect(done).toMatchObject({ rollback: false, status: 'Faulted' })
    expect(done.attempts.map((a) => a.state)).toEqual(['Failed'])
  })
})
