/**
 * The seed's first-rollout delay ("within 3 hours" the first time) is one time per scale set
 * (issue 18, gap 5): after the set's first platform rollout, switching automatic OS upgrades off
 * and on again does not make the next rollout wait the first delay again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import {
  armPaths,
  autoUpgradeSetBody,
  createSimFleet,
  imageBody,
} from '../../test-support/arm-fixtures.js'

let h: Awaited<ReturnType<typeof apiHarness>>
beforeAll(async () => {
  h = await apiHarness()
})
afterAll(() => h.close())

const enable = (on: boolean) => ({
  properties: { upgradePolicy: { automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: on } } },
})

describe('the first-rollout delay', () => {
  it('is one time per scale set: re-enabling automatic upgrades does not bring it back', async () => {
    const p = armPaths(h.sub)
    await createSimFleet((m, path, body) => h.call(m, path, { body }), h.sub, { capacity: 2 })
    const key = p.set().toLowerCase()
    const first = async () => (await h.sys.deps.store.getScaleSet(key))?.firstSinceEnable
    expect(await first()).toBe(true)
    expect((await h.call('PUT', p.image('1.1.0'), { body: imageBody('sim:?boot=0') })).status).toBe(
      201,
    )
    await waitFor(async () => {
      const v = (await h.call('GET', `${p.set()}/osUpgradeHistory`)).body.value as any[]
      return v[0]?.properties.runningStatus.code === 'Completed'
    }, 'the first rollout')
    expect(await first()).toBe(false)
    for (const on of [false, true]) {
      const r = await h.call('PATCH', p.set(), { body: enable(on) })
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300)
    }
    expect(await first()).toBe(false)
    // A set created later starts with its own one-time first delay.
    const created = await h.call('PUT', p.set('api'), {
      body: autoUpgradeSetBody({ sub: h.sub, capacity: 1, probe: 'tcp' }),
    })
    expect(created.status).toBe(201)
    expect((await h.sys.deps.store.getScaleSet(p.set('api').toLowerCase()))?.firstSinceEnable).toBe(
      true,
    )
  })
})
