/**
 * Per-set timing (issue 20 §4, docs/rollouts.md § Per-set timing) through the API and the CLI:
 * `upgradeSettings/default` validated and stored; a rollout started after it freezes the set's
 * health deadline and minHealthyTime; an instance counts only after staying healthy that long;
 * batchSoak and progressDeadline are validated on their own and together (a bad one changes nothing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../test-support/api-harness.js'
import { armPaths, imageBody } from '../../test-support/arm-fixtures.js'
import { servedSimFleet } from '../../test-support/served-fleet.js'
import type { ServedFleet } from '../../test-support/served-fleet.js'

let f: ServedFleet
const SETTINGS = '/providers/Osroll.Upgrades/upgradeSettings/default'

beforeAll(async () => {
  f = await servedSimFleet({ capacity: 2, healthDeadline: 'PT2S' })
})
afterAll(() => f.close())

describe('upgradeSettings', () => {
  it('is validated, stored, merged by PATCH and deleted; bad input changes nothing', async () => {
    const path = `${armPaths(f.h.sub).set()}${SETTINGS}`
    const none = await f.call('GET', path)
    expect([none.status, none.body.error.code]).toEqual([404, 'ResourceNotFound'])
    expect(none.body.error.message).toMatch(/server's defaults apply \(health deadline PT2S/)
    const put = await f.call('PUT', path, { properties: { healthDeadline: 'PT1M' } })
    expect(put.status).toBe(201)
    expect(put.body).toEqual({
      id: `${armPaths(f.h.sub).set().toLowerCase()}${SETTINGS}`,
      name: 'default',
      type: 'Osroll.Upgrades/upgradeSettings',
      properties: {
        healthDeadline: 'PT1M',
        effective: {
          healthDeadline: 'PT1M',
          minHealthyTime: 'PT0S',
          batchSoak: null,
          progressDeadline: null,
          adaptiveRamp: false,
        },
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
      [{ properties: { batchSoak: 'PT1M' } }, /batchSoak must be an object such as/],
      [
        { properties: { batchSoak: { min: 'PT1S', max: 'PT2H' } } },
        /batchSoak.max must be .* to PT1H, not "PT2H"/,
      ],
      [
        { properties: { batchSoak: { min: 'often', max: 'PT1M' } } },
        /batchSoak.min must be an ISO 8601/,
      ],
      [
        { properties: { batchSoak: { min: 'PT10M', max: 'PT1M' } } },
        /batchSoak.min \(PT10M\) must not be more than batchSoak.max \(PT1M\)/,
      ],
      [
        { properties: { batchSoak: { min: 'PT10S' } } },
        /batchSoak needs both min and max \(it has only min\)/,
      ],
      [
        { properties: { batchSoak: { min: 'PT1S', max: 'PT1M', mean: 'PT5S' } } },
        /Unknown batchSoak member 'mean'/,
      ],
      [
        { properties: { progressDeadline: 'PT30S' } },
        /progressDeadline must be .* from PT1M to P1D/,
      ],
      [{ properties: { progressDeadline: 'P2D' } }, /from PT1M to P1D, not "P2D"/],
      [
        {
          properties: {
            minHealthyTime: 'PT1M',
            batchSoak: { min: 'PT1M', max: 'PT5M' },
            progressDeadline: 'PT2M',
          },
        },
        /progressDeadline \(PT2M\) must be longer than minHealthyTime plus batchSoak.min \(PT2M\)/,
      ],
    ] as const
    const stored = () => f.h.sys.deps.store.getScaleSet(armPaths(f.h.sub).set().toLowerCase())
    const before = (await stored())?.upgradeSettings
    expect(before).toEqual({ healthDeadlineMs: 60_000 })
    for (const [body, message] of bad) {
      const r = await f.call('PATCH', path, body)
      expect([r.status, r.body.error.code]).toEqual([400, 'InvalidParameter'])
      expect(r.body.error.message).toMatch(message)
      expect((await stored())?.upgradeSettings).toEqual(before) // it changed nothing
    }
    const patched = await f.call('PATCH', path, { properties: { minHealthyTime: 'PT3S' } })
    expect(patched.body.properties).toMatchObject({
      healthDeadline: 'PT1M',
      minHealthyTime: 'PT3S',
    })
    expect((await f.call('GET', path)).body).toEqual(patched.body)
    // batchSoak merges member by member; null removes it, or the whole of it
    const soaked = await f.call('PATCH', path, {
      properties: { batchSoak: { min: 'PT1S', max: 'PT1M' }, progressDeadline: 'PT5M' },
    })
    expect(soaked.body.properties).toMatchObject({
      batchSoak: { min: 'PT1S', max: 'PT1M' },
      progressDeadline: 'PT5M',
      effective: { batchSoak: { min: 'PT1S', max: 'PT1M' }, progressDeadline: 'PT5M' },
    })
    const longer = await f.call('PATCH', path, { properties: { batchSoak: { max: 'PT2M' } } })
    expect(longer.body.properties.batchSoak).toEqual({ min: 'PT1S', max: 'PT2M' })
    const halfGone = await f.call('PATCH', path, { properties: { batchSoak: { max: null } } })
    expect(halfGone.body.error.message).toMatch(/batchSoak needs both min and max/)
    const unsoaked = await f.call('PATCH', path, {
      properties: { batchSoak: null, progressDeadline: null },
    })
    expect(unsoaked.body).toEqual(patched.body)
    // PUTting the GET back changes nothing (the read-only `effective` is ignored)
    expect((await f.call('PUT', path, patched.body)).body).toEqual(patched.body)
    const missing = await f.call('PUT', `${armPaths(f.h.sub).set('nope')}${SETTINGS}`, {
      properties: {},
    })
    expect(missing.status).toBe(404)
  })

  it(
    'a rollout freezes them: an instance counts after minHealthyTime',
    { timeout: 60_000 },
    async () => {
      const set = armPaths(f.h.sub).set()
      const key = set.toLowerCase()
      expect(
        (await f.call('PUT', armPaths(f.h.sub).image('1.1.0'), imageBody('sim:?boot=0'))).status,
      ).toBe(201)
      const r = await waitFor(
        async () => {
          const rs = await f.h.sys.deps.store.listRollouts(key, { limit: 1 })
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

  it('osroll vmss upgrade-settings set, show and delete', { timeout: 150_000 }, async () => {
    const set = await f.osroll(
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
    expect(JSON.parse(set.stdout)).toEqual({
      healthDeadline: 'PT10M',
      minHealthyTime: 'PT3S',
      batchSoak: null,
      progressDeadline: null,
      adaptiveRamp: false,
    })
    const soak = await f.osroll(
      ...['vmss', 'upgrade-settings', 'set', '-g', 'rg', '-n', 'web'],
      ...['--batch-soak-min', 'PT30S', '--batch-soak-max', 'PT10M', '--progress-deadline', 'PT30M'],
      ...['--query', 'properties.effective'],
    )
    expect(soak.code, soak.stderr).toBe(0)
    expect(JSON.parse(soak.stdout)).toMatchObject({
      batchSoak: { min: 'PT30S', max: 'PT10M' },
      progressDeadline: 'PT30M',
    })
    const inverted = await f.osroll(
      ...['vmss', 'upgrade-settings', 'set', '-g', 'rg', '-n', 'web'],
      ...['--batch-soak-min', 'PT20M'],
    )
    expect(inverted.code).toBe(1)
    expect(inverted.stderr).toMatch(
      /InvalidParameter: batchSoak.min \(PT20M\) must not be more than batchSoak.max \(PT10M\)/,
    )
    const empty = await f.osroll('vmss', 'upgrade-settings', 'set', '-g', 'rg', '-n', 'web')
    expect([empty.code, empty.stderr]).toEqual([1, expect.stringMatching(/Nothing to set/)])
    expect(
      (await f.osroll('vmss', 'upgrade-settings', 'delete', '-g', 'rg', '-n', 'web')).code,
    ).toBe(0)
    const shown = await f.osroll('vmss', 'upgrade-settings', 'show', '-g', 'rg', '-n', 'web')
    expect(shown.code).toBe(1)
    expect(shown.stderr).toMatch(/ResourceNotFound: The scale set 'web' has no upgradeSettings/)
  })

  it('a set PUT or PATCH keeps the upgrade settings', async () => {
    const set = armPaths(f.h.sub).set()
    const put = await f.call('PUT', `${set}${SETTINGS}`, { properties: { minHealthyTime: 'PT5S' } })
    expect(put.status).toBeLessThan(300)
    const patched = await f.call('PATCH', set, { sku: { capacity: 3 } })
    expect(patched.status, JSON.stringify(patched.body)).toBeLessThan(300)
    const after = await f.call('GET', `${set}${SETTINGS}`)
    expect(after.status).toBe(200)
    expect(after.body.properties.minHealthyTime).toBe('PT5S')
  })
})
