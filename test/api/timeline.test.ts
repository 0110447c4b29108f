/**
 * The per-instance timeline (issue 20 §8, docs/rollouts.md § Per-instance timeline) through the
 * API and the CLI on the sim fabric: a rollout in which one instance fails its health deadline
 * and is rolled back while the other of its batch succeeds; every step in order with monotone
 * times; the timeline kept with the history after the rollout ended (and gone with it when the
 * retention prunes it); unknown sets and rollouts are ARM 404s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../test-support/api-harness.js'
import { armPaths, imageBody } from '../../test-support/arm-fixtures.js'
import { servedSimFleet } from '../../test-support/served-fleet.js'
import type { ServedFleet } from '../../test-support/served-fleet.js'
import type { SimFabric } from '../../src/fabrics/sim/sim-fabric.js'

let f: ServedFleet
const ROLLOUTS = '/providers/Osroll.Upgrades/rollouts'

type Step = { step: string; time: string; reason: string }
type Instance = { instanceId: string; batch: number; outcome: string | null; steps: Step[] }

beforeAll(async () => {
  f = await servedSimFleet({ capacity: 10, healthDeadline: 'PT5S' })
})
afterAll(() => f.close())

describe('per-instance timeline', () => {
  it('answers 404 for an unknown set, no rollout yet, and an unknown rollout', async () => {
    const set = armPaths(f.h.sub).set()
    const none = await f.h.call('GET', `${set}${ROLLOUTS}/current/timeline`)
    expect([none.status, none.body.error.code]).toEqual([404, 'NotFound'])
    const unknown = await f.h.call('GET', `${set}${ROLLOUTS}/r-nope/timeline`)
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'NotFound'])
    expect(unknown.body.error.message).toMatch(/has no rollout 'r-nope'/)
    const missing = await f.h.call('GET', `${armPaths(f.h.sub).set('nope')}${ROLLOUTS}/x/timeline`)
    expect([missing.status, missing.body.error.code]).toEqual([404, 'ResourceNotFound'])
    expect((await f.h.call('GET', `${set}${ROLLOUTS}`)).body).toEqual({ value: [] })
  })

  it(
    'shows a rolled-back instance and a healthy one, steps in order, kept after the end',
    { timeout: 90_000 },
    async () => {
      const set = armPaths(f.h.sub).set()
      const key = set.toLowerCase()
      // Instance 0 (batch 1, update domain 0, with 5) never answers healthy on its new disk.
      await (f.h.sys.deps.fabric as SimFabric).setHealthOverride(key, '0', 'unhealthy')
      const put = await f.call('PUT', armPaths(f.h.sub).image('1.1.0'), imageBody('sim:?boot=0'))
      expect(put.status).toBe(201)
      const done = await waitFor(
        async () => {
          const r = (await f.h.sys.deps.store.listRollouts(key, { limit: 1 }))[0]
          return r?.status === 'Faulted' && r
        },
        'the rollout faulted',
        60_000,
      )
      const res = await f.h.call('GET', `${set}${ROLLOUTS}/current/timeline`)
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      expect(res.body).toMatchObject({
        id: `${set}${ROLLOUTS}/current/timeline`,
        name: 'timeline',
        type: 'Osroll.Upgrades/rollouts/timeline',
        properties: {
          rolloutId: done.id,
          runningStatus: { code: 'Faulted' },
          batches: [{ batch: 1, instanceIds: ['0', '5'], endTime: expect.any(String) }],
          rolloutSteps: [{ from: 'RollingForward', to: 'Faulted' }],
        },
      })
      const instances = res.body.properties.instances as Instance[]
      const bad = instances.find((i) => i.instanceId === '0')!
      const ok = instances.find((i) => i.instanceId === '5')!
      expect(bad.outcome).toBe('RolledBack')
      expect(ok.outcome).toBe('Succeeded')
      // The healthy one: requested, disk swapped, booted, first healthy, counted (then released).
      expect(ok.steps.map((s) => s.step).slice(0, 5)).toEqual([
        'requested',
        'diskSwapped',
        'booted',
        'firstHealthy',
        'succeeded',
      ])
      // The broken one: the health deadline fails it and its previous disk comes back.
      expect(bad.steps.map((s) => s.step)).toEqual([
        'requested',
        'diskSwapped',
        'booted',
        'failed',
        'rollbackRequested',
        'previousDiskSwapped',
        'rolledBack',
      ])
      expect(bad.steps.find((s) => s.step === 'failed')!.reason).toBe('HealthDeadlineExceeded')
      for (const i of [ok, bad]) {
        const times = i.steps.map((s) => Date.parse(s.time))
        expect(times).toEqual([...times].sort((a, b) => a - b))
        const a = done.attempts.find((x) => x.instanceId === i.instanceId)!
        expect(times[0]).toBe(a.startedAtMs)
        expect(times.includes(a.endedAtMs!)).toBe(true) // the outcome, when the attempt ended
      }
      expect(res.body.properties.instances[0].durations).toMatchObject({
        toDiskSwapped: expect.stringMatching(/^PT/),
        toOutcome: expect.stringMatching(/^PT/),
      })

      // Kept with the history: by id, after a later rollout ran, and in the list of rollouts.
      await (f.h.sys.deps.fabric as SimFabric).setHealthOverride(key, '0', null)
      await f.call('PUT', armPaths(f.h.sub).image('1.2.0'), imageBody('sim:?boot=0'))
      await waitFor(
        async () => {
          const r = (await f.h.sys.deps.store.listRollouts(key, { limit: 1 }))[0]
          return r?.id !== done.id && r?.status === 'Completed'
        },
        'the next rollout completed',
        60_000,
      )
      const byId = await f.h.call('GET', `${set}${ROLLOUTS}/${done.id}/timeline`)
      expect(byId.status).toBe(200)
      expect(byId.body.properties.instances).toEqual(instances)
      const one = await f.h.call('GET', `${set}${ROLLOUTS}/${done.id}`)
      expect(one.body).toMatchObject({
        name: done.id,
        properties: { rolloutId: done.id, runningStatus: { code: 'Faulted' } },
      })
      const list = (await f.h.call('GET', `${set}${ROLLOUTS}`)).body.value
      expect(list.map((r: { name: string }) => r.name)).toEqual([expect.any(String), done.id])

      // The CLI: one row per step, and the JSON.
      const table = await f.osroll(
        'vmss',
        'rolling-upgrade',
        'show',
        '-g',
        'rg',
        '-n',
        'web',
        '--rollout',
        done.id,
        '--timeline',
        '-o',
        'tsv',
      )
      expect(table.code, table.stderr).toBe(0)
      expect(table.stderr).toMatch(new RegExp(`rollout ${done.id}: OSImage → 1.1.0, Faulted`))
      const rows = table.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('\t'))
      expect(rows.filter((r) => r[0] === '0').map((r) => r[3])).toEqual(
        bad.steps.map((s) => s.step),
      )
      expect(rows.find((r) => r[0] === '0' && r[3] === 'failed')?.[6]).toBe(
        'HealthDeadlineExceeded',
      )
      const json = await f.osroll(
        'vmss',
        'rolling-upgrade',
        'show',
        '-g',
        'rg',
        '-n',
        'web',
        '--timeline',
        '--query',
        'properties.rolloutId',
        '-o',
        'tsv',
      )
      expect(json.stdout.trim()).not.toBe(done.id) // current: the later rollout
      const listed = await f.osroll(
        'vmss',
        'rolling-upgrade',
        'list',
        '-g',
        'rg',
        '-n',
        'web',
        '-o',
        'tsv',
      )
      expect(
        listed.stdout
          .trim()
          .split('\n')
          .map((l) => l.split('\t')[0])[1],
      ).toBe(done.id)
      const unknown = await f.osroll(
        'vmss',
        'rolling-upgrade',
        'show',
        '-g',
        'rg',
        '-n',
        'web',
        '--rollout',
        'nope',
        '--timeline',
      )
      expect(unknown.code).toBe(1)
      expect(unknown.stderr).toMatch(/NotFound/)

      // Retention takes the rollout with its events, and its timeline with them.
      expect(
        await f.h.sys.deps.store.pruneRollouts(key, { beforeMs: Date.now() + 1, keepLast: 1 }),
      ).toBe(1)
      expect((await f.h.call('GET', `${set}${ROLLOUTS}/${done.id}/timeline`)).status).toBe(404)
    },
  )
})
