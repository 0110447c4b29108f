/**
 * batchSoak through the API on the sim fabric (issue 20 §4, docs/rollouts.md § Per-set timing):
 * after each batch the next waits until the set's health has been unchanged for the soak's min,
 * recorded as rollout events; and the dry-run plan's worst case counts each soak at its max.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../test-support/api-harness.js'
import { armPaths, imageBody } from '../../test-support/arm-fixtures.js'
import { servedSimFleet } from '../../test-support/served-fleet.js'
import type { ServedFleet } from '../../test-support/served-fleet.js'

let f: ServedFleet
const SETTINGS = '/providers/Osroll.Upgrades/upgradeSettings/default'

beforeAll(async () => {
  f = await servedSimFleet({ capacity: 2, healthDeadline: 'PT30S' })
})
afterAll(() => f.close())

describe('batchSoak', () => {
  it('holds the next batch until the set was stable for min', { timeout: 90_000 }, async () => {
    const set = armPaths(f.h.sub).set()
    const key = set.toLowerCase()
    const put = await f.call('PUT', `${set}${SETTINGS}`, {
      properties: { batchSoak: { min: 'PT3S', max: 'PT1M' } },
    })
    expect(put.status, JSON.stringify(put.body)).toBe(201)
    expect(
      (await f.call('PUT', armPaths(f.h.sub).image('1.1.0'), imageBody('sim:?boot=0'))).status,
    ).toBe(201)
    const done = await waitFor(
      async () => {
        const r = (await f.h.sys.deps.store.listRollouts(key, { limit: 1 }))[0]
        return r?.status === 'Completed' && r
      },
      'the rollout completed',
      60_000,
    )
    expect(done.batchSoak).toEqual({ minMs: 3_000, maxMs: 60_000 })
    expect(done.batchCount).toBe(2)
    const events = await f.h.sys.deps.store.listEvents(done.id)
    const soakStart = events.find((e) => e.reason === 'Batch1Soak')!
    const soakPass = events.find((e) => e.reason === 'SoakPassed')!
    expect([soakStart.from, soakStart.to, soakPass.from, soakPass.to]).toEqual([
      'RollingForward',
      'Soaking',
      'Soaking',
      'RollingForward',
    ])
    const batch1End = Math.max(
      ...done.attempts.filter((a) => a.batch === 1).map((a) => a.endedAtMs!),
    )
    const batch2Start = done.attempts.find((a) => a.batch === 2)!.startedAtMs
    expect(soakStart.atMs).toBe(batch1End)
    expect(soakPass.atMs - soakStart.atMs).toBeGreaterThanOrEqual(3_000)
    expect(batch2Start).toBeGreaterThanOrEqual(soakPass.atMs)
    // the soak after the last batch too: Completed only once the set was stable after it
    const soak2 = events.find((e) => e.reason === 'Batch2Soak')!
    expect(done.endedAtMs! - soak2.atMs).toBeGreaterThanOrEqual(3_000)
  })

  it("the plan's worst case counts each soak at its max and says so", async () => {
    const set = armPaths(f.h.sub).set()
    expect(
      (await f.call('PUT', armPaths(f.h.sub).image('1.2.0'), imageBody('sim:?boot=0'))).status,
    ).toBe(201)
    const plan = await f.call('GET', `${set}/providers/Osroll.Upgrades/plans/default?version=1.2.0`)
    expect(plan.status, JSON.stringify(plan.body)).toBe(200)
    expect(plan.body.properties.worstCaseAssumes).toContain(
      "each batch's soak at its maximum of PT1M (the set settles only PT3S before it)",
    )
  })
})
