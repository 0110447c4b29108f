/**
 * Recovery by re-enabling (issue 18, seed gap 4): "after fixing the cause, re-enable automatic
 * OS upgrades". A version whose rollout faulted is not retried on its own; switching automatic
 * upgrades off and on releases it for one new automatic attempt, and only one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import { armPaths, createSimFleet, imageBody } from '../../test-support/arm-fixtures.js'

let h: Awaited<ReturnType<typeof apiHarness>>
beforeAll(async () => {
  h = await apiHarness()
})
afterAll(() => h.close())

const enable = (on: boolean) => ({
  properties: { upgradePolicy: { automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: on } } },
})

describe('recovery by re-enabling automatic OS upgrades', () => {
  it(
    'releases a faulted version for one new attempt, and only one',
    { timeout: 60_000 },
    async () => {
      const p = armPaths(h.sub)
      await createSimFleet((m, path, body) => h.call(m, path, { body }), h.sub, { capacity: 2 })
      const history = async () =>
        ((await h.call('GET', `${p.set()}/osUpgradeHistory`)).body.value as any[]).map(
          (e) => `${e.properties.targetImageReference.version} ${e.properties.runningStatus.code}`,
        )
      expect(
        (await h.call('PUT', p.image('1.1.0'), { body: imageBody('sim:?boot=0&health=unhealthy') }))
          .status,
      ).toBe(201)
      await waitFor(async () => (await history())[0] === '1.1.0 Faulted', 'the first fault', 20_000)
      await h.settle()
      expect(await history()).toEqual(['1.1.0 Faulted']) // not retried on its own

      for (const on of [false, true])
        expect((await h.call('PATCH', p.set(), { body: enable(on) })).status).toBeLessThan(300)
      await waitFor(
        async () => (await history()).join() === '1.1.0 Faulted,1.1.0 Faulted',
        'the one new attempt',
        20_000,
      )
      await h.settle() // reconciled again after the attempt: no third one
      expect(await history()).toEqual(['1.1.0 Faulted', '1.1.0 Faulted'])
    },
  )
})
