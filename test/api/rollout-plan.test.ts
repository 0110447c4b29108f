/**
 * The dry-run plan resource (issue 20 §1): `GET {set}/providers/Osroll.Upgrades/plans/default`
 * predicts the batches; the rollout then started runs exactly those; bad input is an ARM error
 * and writes nothing. Also `osroll vmss rolling-upgrade plan -o table`.
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

let h: Awaited<ReturnType<typeof apiHarness>>
let endpoint = ''
const osroll = cliRunner(() => ({ endpoint, token: h.sys.adminToken }))
const PLAN = '/providers/Osroll.Upgrades/plans/default'

beforeAll(async () => {
  h = await apiHarness()
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  endpoint = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
  const p = armPaths(h.sub)
  const body = autoUpgradeSetBody({ sub: h.sub, capacity: 10, probe: 'tcp' }) as any
  body.properties.upgradePolicy = { mode: 'Manual' } // no automatic rollout: the plan's is manual
  for (const [path, b] of [
    [p.image('1.0.0'), imageBody('sim:?boot=0')],
    [p.lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 })],
    [p.set(), body],
  ] as const)
    expect((await h.call('PUT', path, { body: b })).status).toBeLessThan(300)
  const get = async (path: string) => (await h.call('GET', path)).body
  await waitFor(() => healthyInstances(get, p.set(), 10), 'ten healthy instances', 30_000)
  expect((await h.call('PUT', p.image('1.1.0'), { body: imageBody('sim:?boot=0') })).status).toBe(
    201,
  )
})
afterAll(() => h.close())

describe('Osroll.Upgrades/plans', () => {
  it('predicts the batches the rollout then runs', { timeout: 60_000 }, async () => {
    const set = armPaths(h.sub).set()
    const res = await h.call('GET', `${set}${PLAN}`)
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body).toMatchObject({
      id: `${set.toLowerCase()}${PLAN}`,
      name: 'default',
      type: 'Osroll.Upgrades/plans',
      properties: {
        trigger: 'Manual',
        targetImageVersion: '1.1.0',
        rollbackOnFailure: false,
        precheck: { passes: true, error: null },
        awaitingApproval: [],
        outcome: { status: 'Completed', error: null },
        runningRolloutId: null,
      },
    })
    const planned = res.body.properties.batches.map((b: any) =>
      b.instances.map((i: any) => i.instanceId),
    )
    expect(planned).toHaveLength(5)
    expect(res.body.properties.batches[0].unhealthyBudget).toMatchObject({ moreAllowed: 2 })
    expect(res.body.properties.worstCaseDuration).toMatch(/^PT/)
    // nothing was written
    expect(await h.sys.deps.store.listRollouts(set.toLowerCase(), { limit: 10 })).toEqual([])

    expect((await h.call('POST', `${set}/osRollingUpgrade`)).status).toBe(202)
    const [ran] = await waitFor(
      async () => {
        const rs = await h.sys.deps.store.listRollouts(set.toLowerCase(), { limit: 1 })
        return rs[0]?.status === 'Completed' && rs
      },
      'the rollout completed',
      30_000,
    )
    const batches = Array.from({ length: ran!.batchCount }, (_, b) =>
      ran!.attempts.filter((a) => a.batch === b + 1).map((a) => a.instanceId),
    )
    expect(batches).toEqual(planned)
  })

  it('plans to a given version and for the automatic policy; refuses bad input with an ARM error', async () => {
    const set = armPaths(h.sub).set()
    const auto = await h.call('GET', `${set}${PLAN}?version=1.0.0&trigger=automatic`)
    expect(auto.status).toBe(200)
    expect(auto.body.properties).toMatchObject({
      trigger: 'Automatic',
      rollbackOnFailure: true,
      batches: [],
    })
    const bad = [
      [
        `${set}${PLAN}?trigger=sometimes`,
        400,
        'InvalidParameter',
        /trigger 'sometimes' is not one of/,
      ],
      [`${set}${PLAN}?version=one`, 400, 'InvalidParameter', /not an image version/],
      [`${set}${PLAN}?version=9.9.9`, 404, 'NotFound', /'9.9.9' is not published/],
      [`${armPaths(h.sub).set('nope')}${PLAN}`, 404, 'ResourceNotFound', /nope/],
    ] as const
    for (const [path, status, code, message] of bad) {
      const r = await h.call('GET', path)
      expect([r.status, r.body.error?.code], path).toEqual([status, code])
      expect(r.body.error.message).toMatch(message)
    }
  })

  it(
    'osroll vmss rolling-upgrade plan shows the batches as a table',
    { timeout: 60_000 },
    async () => {
      const r = await osroll(
        'vmss',
        'rolling-upgrade',
        'plan',
        '-g',
        'rg',
        '-n',
        'web',
        '--version',
        '1.1.0',
        '-o',
        'tsv',
      )
      expect(r.code, r.stderr).toBe(0)
      // everything is on 1.1.0 now: nothing to move
      expect(r.stdout).toBe('')
      expect(r.stderr).toMatch(
        /plan: 0 batch\(es\) to 1\.1\.0 \(Manual\); pre-check passes; worst case PT0S/,
      )
      const wrong = await osroll(
        'vmss',
        'rolling-upgrade',
        'plan',
        '-g',
        'rg',
        '-n',
        'web',
        '--trigger',
        'often',
      )
      expect(wrong.code).not.toBe(0)
      expect(wrong.stderr).toMatch(/'often' is not one of Automatic, Manual/)
    },
  )
})
