/**
 * Pause and resume (issue 20 §2, docs/rollouts.md § Pause and resume) through the API and the
 * CLI on the sim fabric: a pause lets the running batch finish and starts no new one; resume
 * goes on where it stopped; both are recorded events; bad requests are ARM errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../test-support/api-harness.js'
import { armPaths, imageBody } from '../../test-support/arm-fixtures.js'
import { servedSimFleet } from '../../test-support/served-fleet.js'
import type { ServedFleet } from '../../test-support/served-fleet.js'

let f: ServedFleet
const CURRENT = '/providers/Osroll.Upgrades/rollouts/current'

beforeAll(async () => {
  f = await servedSimFleet({ capacity: 10, healthDeadline: 'PT60S' })
})
afterAll(() => f.close())

describe('pause and resume', () => {
  it('refuses to pause or resume when there is nothing to', async () => {
    const set = armPaths(f.h.sub).set()
    const pause = await f.h.call('POST', `${set}${CURRENT}/pause`)
    expect([pause.status, pause.body.error.code]).toEqual([409, 'OperationNotAllowed'])
    expect(pause.body.error.message).toMatch(/no rollout in progress on 'web' to pause/)
    const show = await f.h.call('GET', `${set}${CURRENT}`)
    expect([show.status, show.body.error.code]).toEqual([404, 'NotFound'])
    const missing = await f.h.call('POST', `${armPaths(f.h.sub).set('nope')}${CURRENT}/pause`)
    expect(missing.status).toBe(404)
  })

  it('holds after the current batch, resumes where it stopped', { timeout: 120_000 }, async () => {
    const set = armPaths(f.h.sub).set()
    const key = set.toLowerCase()
    expect(
      (await f.h.call('PUT', armPaths(f.h.sub).image('1.1.0'), { body: imageBody('sim:?boot=3') }))
        .status,
    ).toBe(201)
    await waitFor(
      async () => (await f.h.sys.deps.store.getActiveRollout(key))?.batchCount === 1,
      'batch 1',
      30_000,
    )
    const paused = await f.h.call('POST', `${set}${CURRENT}/pause`)
    expect(paused.status, JSON.stringify(paused.body)).toBe(200)
    expect(paused.body).toMatchObject({
      name: 'current',
      type: 'Osroll.Upgrades/rollouts',
      properties: { pauseRequested: true, runningStatus: { code: 'RollingForward' } },
    })
    // pausing twice is the same pause
    expect((await f.h.call('POST', `${set}${CURRENT}/pause`)).status).toBe(200)
    const held = await waitFor(
      async () => {
        const r = (await f.h.call('GET', `${set}${CURRENT}`)).body
        return r.properties.paused === true && r
      },
      'paused',
      30_000,
    )
    expect(held.properties.conditions).toEqual([
      expect.objectContaining({ type: 'Progressing', status: 'False', reason: 'PauseRequested' }),
      expect.objectContaining({ type: 'Degraded', status: 'False', reason: 'NoFailedInstances' }),
      expect.objectContaining({ type: 'Paused', status: 'True', reason: 'PauseRequested' }),
    ])
    // Azure's status is unchanged: still RollingForward
    const latest = await f.h.call('GET', `${set}/rollingUpgrades/latest`)
    expect(latest.body.properties.runningStatus.code).toBe('RollingForward')
    const atPause = (await f.h.sys.deps.store.getActiveRollout(key))!
    expect(atPause.attempts.every((a) => a.batch === 1 && a.state === 'Succeeded')).toBe(true)

    const resumed = await f.osroll(
      'vmss',
      'rolling-upgrade',
      'resume',
      '-g',
      'rg',
      '-n',
      'web',
      '--query',
      'properties.pauseRequested',
    )
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout)).toBe(false)
    const again = await f.h.call('POST', `${set}${CURRENT}/resume`)
    if (again.status !== 200)
      expect(again.body.error.message).toMatch(/is not paused|no rollout in progress/)
    const done = await waitFor(
      async () => {
        const r = (await f.h.sys.deps.store.listRollouts(key, { limit: 1 }))[0]
        return r?.status === 'Completed' && r
      },
      'completed',
      60_000,
    )
    expect(done.batchCount).toBe(5)
    // No batch started while paused: batch 2 began after the resume was recorded.
    const events = await f.h.sys.deps.store.listEvents(done.id)
    const pausedAt = events.find((e) => e.to === 'Paused')!.atMs
    const resumedAt = events.find((e) => e.from === 'Paused' && e.to === 'RollingForward')!.atMs
    const batch2 = done.attempts.filter((a) => a.batch === 2).map((a) => a.startedAtMs)
    expect(pausedAt).toBeLessThanOrEqual(resumedAt)
    expect(Math.min(...batch2)).toBeGreaterThanOrEqual(resumedAt)
  })
})
