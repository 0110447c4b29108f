/**
 * A plan's membership beyond the trigger's gate (docs/rollouts.md § Waves across scale sets, W3),
 * through the API on the sim fabric: a set that a plan PUT removes is no longer held and rolls
 * to the latest at once (it is woken, not left to the 30 s resync), while the set the plan
 * still holds does not move.
 */
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
const id = (name: string) => armPaths(h.sub).set(name)
const planPath = () => `/subscriptions/${h.sub}/providers/Osroll.Upgrades/rolloutPlans/fleet`
const put = async (path: string, body: unknown) => {
  const r = await h.call('PUT', path, { body })
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300)
  return r.body
}
const targets = async (name: string) =>
  (await h.sys.deps.store.listRollouts(id(name).toLowerCase(), { limit: 10 })).map(
    (r) => r.target.imageVersion,
  )

beforeAll(async () => {
  h = await apiHarness()
  await put(armPaths(h.sub).image('1.0.0'), imageBody('sim:?boot=0'))
  await put(armPaths(h.sub).lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }))
  const get = async (path: string) => (await h.call('GET', path)).body
  for (const name of ['a', 'b']) {
    await put(id(name), autoUpgradeSetBody({ sub: h.sub, capacity: 1, probe: 'tcp' }))
    await waitFor(() => healthyInstances(get, id(name), 1), `${name} healthy`, 30_000)
  }
})
afterAll(() => h.close())

describe('rollout plan membership', () => {
  it('a set a plan PUT removes is woken and rolls at once', { timeout: 60_000 }, async () => {
    const stages = (names: string[]) =>
      names.map((n) => ({ name: `s-${n}`, scaleSets: [id(n)], bakeTime: 'PT0S' }))
    await put(planPath(), {
      properties: { imageReference: UBUNTU_LATEST, stages: stages(['a', 'b']) },
    })
    await waitFor(
      async () => (await h.call('GET', planPath())).body.properties.status.phase === 'Succeeded',
      'the wave of 1.0.0',
      10_000,
    )
    // Paused, the plan starts no wave for 1.1.0: both sets are held on 1.0.0.
    expect((await h.call('POST', `${planPath()}/pause`)).status).toBe(200)
    await put(armPaths(h.sub).image('1.1.0'), imageBody('sim:?boot=0'))
    await h.settle()
    expect([await targets('a'), await targets('b')]).toEqual([[], []])
    // b leaves the plan: it rolls to 1.1.0 now, a (still held) does not.
    await put(planPath(), { properties: { imageReference: UBUNTU_LATEST, stages: stages(['a']) } })
    await waitFor(async () => (await targets('b')).includes('1.1.0'), 'b rolling to 1.1.0', 5_000)
    await h.settle()
    expect(await targets('a')).toEqual([])
  })
})
