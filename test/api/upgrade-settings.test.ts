/**
 * Per-set timing (issue 20 §4, docs/rollouts.md § Per-set timing) through the API and the CLI:
 * `upgradeSettings/default` validated and stored; a rollout started after it freezes the set's
 * health deadline and minHealthyTime; an instance counts only after staying healthy that long.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import {
  armPaths,
  createSimFleet,
  healthyInstances,
  imageBody,
} from '../../test-support/arm-fixtures.js'
import { cliRunner } from '../../test-support/cli-runner.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let endpoint = ''
const osroll = cliRunner(() => ({ endpoint, token: h.sys.adminToken }))
const SETTINGS = '/providers/Osroll.Upgrades/upgradeSettings/default'
const call = (method: string, path: string, body?: unknown) =>
  h.call(method, path, body === undefined ? {} : { body })

beforeAll(async () => {
  h = await apiHarness({ healthDeadline: 'PT2S' })
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  endpoint = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
  await createSimFleet(call, h.sub, { capacity: 2 })
  const get = async (path: string) => (await h.call('GET', path)).body
  await waitFor(() => healthyInstances(get, armPaths(h.sub).set(), 2), 'two healthy', 30_000)
})
afterAll(() => h.close())

describe('upgradeSettings', () => {
  it('is validated, stored, merged by PATCH and deleted; bad input changes nothing', async () => {
    const path = `${armPaths(h.sub).set()}${SETTINGS}`
    const none = await call('GET', path)
    expect([none.status, none.body.error.code]).toEqual([404, 'ResourceNotFound'])
    expect(none.body.error.message).toMatch(/server's defaults apply \(health deadline PT2S/)
    const put = await call('PUT', path, { properties: { healthDeadline: 'PT1M' } })
    expect(put.status).toBe(201)
    expect(put.body).toEqual({
      id: `${armPaths(h.sub).set().toLowerCase()}${SETTINGS}`,
      name: 'default',
      type: 'Osroll.Upgrades/upgradeSettings',
      properties: {
        healthDeadline: 'PT1M',
        effective: { healthDeadline: 'PT1M', minHealthyTime: 'PT0S' },
      },
    })
    const bad = [
      [
        { properties: { healthDeadline: 'soon' } },
        /healthDeadline must be an ISO 8601 duration from PT5S to P1D, not "soon"/,
      ],
      [{ properties: { healthDeadline: 'PT1S' } }, /from PT5S/],
      [{ properties: { minHealthyTime: 'PT2H' } }, /minHealthyTime must be .* to PT1H/],
      [{ properties: { soak: 'PT1M' } }, /Unknown upgrade setting 'soak'/],
    ] as const
    for (const [body, message] of bad) {
      const r = await call('PATCH', path, body)
      expect([r.status, r.body.error.code]).toEqual([400, 'InvalidParameter'])
      expect(r.body.error.message).toMatch(message)
    }
    const patched = await call('PATCH', path, { properties: { minHealthyTime: 'PT3S' } })
    expect(patched.body.properties).toMatchObject({
      healthDeadline: 'PT1M',
      minHealthyTime: 'PT3S',
    })
    expect((await call('GET', path)).body).toEqual(patched.body)
    // PUTting the GET back changes nothing (the read-only `effective` is ignored)
    expect((await call('PUT', path, patched.body)).body).toEqual(patched.body)
    const missing = await call('PUT', `${armPaths(h.sub).set('nope')}${SETTINGS}`, {
      properties: {},
    })
    expect(missing.status).toBe(404)
  })

  it(
    'a rollout freezes them: an instance counts after minHealthyTime',
    { timeout: 60_000 },
    async () => {
      const set = armPaths(h.sub).set()
      const key = set.toLowerCase()
      expect(
        (await call('PUT', armPaths(h.sub).image('1.1.0'), imageBody('sim:?boot=0'))).status,
      ).toBe(201)
      const r = await waitFor(
        async () => {
          const rs = await h.sys.deps.store.listRollouts(key, { limit: 1 })
          return rs[0]?.status === 'Completed' && rs[0]
        },
        'the rollout completed',
        45_000,
      )
      expect(r).toMatchObject({ healthDeadlineMs: 60_000, minHealthyTimeMs: 3_000 })
      for (const a of r.attempts) {
        expect(a.state).toBe('Succeeded')
        expect(a.healthySinceMs).toBeTypeOf('number')
        expect(a.endedAtMs! - a.healthySinceMs!).toBeGreaterThanOrEqual(3_000)
      }
    },
  )

  it('osroll vmss upgrade-settings set, show and delete', { timeout: 60_000 }, async () => {
    const set = await osroll(
      'vmss',
      'upgrade-settings',
      'set',
      '-g',
      'rg',
      '-n',
      'web',
      '--health-deadline',
      'PT10M',
      '--query',
      'properties.effective',
    )
    expect(set.code, set.stderr).toBe(0)
    expect(JSON.parse(set.stdout)).toEqual({ healthDeadline: 'PT10M', minHealthyTime: 'PT3S' })
    const empty = await osroll('vmss', 'upgrade-settings', 'set', '-g', 'rg', '-n', 'web')
    expect([empty.code, empty.stderr]).toEqual([1, expect.stringMatching(/Nothing to set/)])
    expect((await osroll('vmss', 'upgrade-settings', 'delete', '-g', 'rg', '-n', 'web')).code).toBe(
      0,
    )
    const shown = await osroll('vmss', 'upgrade-settings', 'show', '-g', 'rg', '-n', 'web')
    expect(shown.code).toBe(1)
    expect(shown.stderr).toMatch(/ResourceNotFound: The scale set 'web' has no upgradeSettings/)
  })
})
