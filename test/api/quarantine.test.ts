/**
 * Quarantine and roll forward (issue 20 §6, docs/rollouts.md § Quarantine and roll forward)
 * through the API and the CLI on the sim fabric: a broken version faults and is quarantined, a
 * scale-out builds from the older good version, a newer version rolls forward, and the release
 * works; bad requests are ARM errors that change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../test-support/api-harness.js'
import { armPaths, imageBody } from '../../test-support/arm-fixtures.js'
import { servedSimFleet } from '../../test-support/served-fleet.js'
import type { ServedFleet } from '../../test-support/served-fleet.js'

let f: ServedFleet
const Q = '/providers/Osroll.Upgrades/quarantinedVersions'

beforeAll(async () => {
  f = await servedSimFleet({ capacity: 5, healthDeadline: 'PT10S' })
})
afterAll(() => f.close())

describe('quarantine', () => {
  it('answers ARM errors for what is not quarantined, and changes nothing', async () => {
    const set = armPaths(f.h.sub).set()
    const before = await f.h.sys.deps.store.getScaleSet(set.toLowerCase())
    expect((await f.h.call('GET', `${set}${Q}`)).body).toEqual({ value: [] })
    const release = await f.h.call('POST', `${set}${Q}/1.0.0/release`)
    expect([release.status, release.body.error.code]).toEqual([404, 'NotFound'])
    expect(release.body.error.message).toMatch(/'1.0.0' is not quarantined on 'web'/)
    const show = await f.h.call('GET', `${set}${Q}/1.0.0`)
    expect([show.status, show.body.error.code]).toEqual([404, 'NotFound'])
    const bad = await f.h.call('POST', `${set}${Q}/latest/release`)
    expect([bad.status, bad.body.error.code]).toEqual([400, 'InvalidParameter'])
    const missing = await f.h.call('GET', `${armPaths(f.h.sub).set('nope')}${Q}`)
    expect([missing.status, missing.body.error.code]).toEqual([404, 'ResourceNotFound'])
    const after = await f.h.sys.deps.store.getScaleSet(set.toLowerCase())
    expect(after?.revision).toBe(before?.revision)
  })

  it(
    'quarantines a faulted version, skips it, rolls forward, releases it',
    { timeout: 180_000 },
    async () => {
      const p = armPaths(f.h.sub)
      const set = p.set()
      const key = set.toLowerCase()
      const put = await f.h.call('PUT', p.image('1.1.0'), {
        body: imageBody('sim:?boot=1&health=unhealthy'),
      })
      expect(put.status).toBe(201)
      const faulted = await waitFor(
        async () => {
          const r = (await f.h.sys.deps.store.listRollouts(key, { limit: 1 }))[0]
          return r?.target.imageVersion === '1.1.0' && r.status === 'Faulted' && r
        },
        'the 1.1.0 rollout faulted',
        60_000,
      )
      // Typed reasons (docs/rollouts.md § Reason catalogue): the conditions say why it stopped
      // and which instance failed, with the signal behind it.
      const ended = await f.h.call('GET', `${set}/providers/Osroll.Upgrades/rollouts/${faulted.id}`)
      expect(ended.body.properties.conditions).toEqual([
        {
          type: 'Progressing',
          status: 'False',
          reason: 'MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade',
          message: faulted.error!.message,
          lastTransitionTime: new Date(faulted.endedAtMs!).toISOString(),
        },
        {
          type: 'Degraded',
          status: 'True',
          reason: expect.any(String),
          message: expect.stringMatching(new RegExp(`instances? failed; the last, \\d+: `)),
          lastTransitionTime: expect.any(String),
        },
      ])
      const degraded = ended.body.properties.conditions[1]
      const named = faulted.attempts.find(
        (a) =>
          a.failure !== null && degraded.message.endsWith(`${a.instanceId}: ${a.failure.message}`),
      )
      expect(named?.failure?.reason, degraded.message).toBe(degraded.reason)
      const list = (await f.h.call('GET', `${set}${Q}`)).body
      expect(list.value).toEqual([
        {
          id: expect.stringMatching(
            /\/virtualMachineScaleSets\/web\/providers\/Osroll.Upgrades\/quarantinedVersions\/1.1.0$/i,
          ),
          name: '1.1.0',
          type: 'Osroll.Upgrades/quarantinedVersions',
          properties: {
            version: '1.1.0',
            rolloutId: faulted.id,
            quarantinedAt: expect.any(String),
            reason: {
              code: 'MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade',
              message: expect.any(String),
            },
          },
        },
      ])
      // The fleet-wide read lists the same (docs/api.md § Fleet versions).
      const fleet = await f.h.call(
        'GET',
        `/subscriptions/${f.h.sub}/providers/Osroll.Upgrades/fleetVersions`,
      )
      expect(fleet.body.value[0].properties.quarantinedVersions).toEqual(list.value)

      // a scale-out builds the new instance from 1.0.0, not the quarantined 1.1.0
      const scaled = await f.osroll('vmss', 'scale', '-g', 'rg', '-n', 'web', '--new-capacity', '6')
      expect(scaled.code, scaled.stderr).toBe(0)
      const vms = await waitFor(
        async () => {
          const v = (await f.h.call('GET', `${set}/virtualMachines`)).body.value
          return v.length === 6 && v
        },
        '6 instances',
        30_000,
      )
      const versions = vms.map((v: any) => v.properties.storageProfile.imageReference.exactVersion)
      expect(new Set(versions)).toEqual(new Set(['1.0.0']))

      // a newer version rolls forward, from the quarantined one
      expect(
        (await f.h.call('PUT', p.image('1.2.0'), { body: imageBody('sim:?boot=1') })).status,
      ).toBe(201)
      const done = await waitFor(
        async () => {
          const r = (await f.h.sys.deps.store.listRollouts(key, { limit: 1 }))[0]
          return r?.target.imageVersion === '1.2.0' && r.status === 'Completed' && r
        },
        'the 1.2.0 rollout completed',
        90_000,
      )
      expect(done.rollForwardFrom).toEqual(['1.1.0'])

      const shown = await f.osroll(
        'vmss',
        'quarantine',
        'show',
        '-g',
        'rg',
        '-n',
        'web',
        '--version',
        '1.1.0',
        '--query',
        'properties.rolloutId',
      )
      expect(shown.code, shown.stderr).toBe(0)
      expect(JSON.parse(shown.stdout)).toBe(faulted.id)
      const table = await f.osroll(
        'vmss',
        'quarantine',
        'list',
        '-g',
        'rg',
        '-n',
        'web',
        '-o',
        'table',
      )
      expect(table.code, table.stderr).toBe(0)
      expect(table.stdout).toMatch(
        /1\.1\.0.*MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade/,
      )
      const released = await f.osroll(
        'vmss',
        'quarantine',
        'release',
        '-g',
        'rg',
        '-n',
        'web',
        '--version',
        '1.1.0',
      )
      expect(released.code, released.stderr).toBe(0)
      expect(JSON.parse(released.stdout).properties).toMatchObject({
        version: '1.1.0',
        released: true,
      })
      expect((await f.h.call('GET', `${set}${Q}`)).body).toEqual({ value: [] })
      const again = await f.osroll(
        'vmss',
        'quarantine',
        'release',
        '-g',
        'rg',
        '-n',
        'web',
        '--version',
        '1.1.0',
      )
      expect(again.code).not.toBe(0)
      expect(again.stderr).toMatch(/not quarantined/)
    },
  )
})
