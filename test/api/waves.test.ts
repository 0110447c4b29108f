/**
 * Waves across scale sets (issue 21 §4, docs/rollouts.md § Waves across scale sets) through the
 * API and the CLI on the sim fabric: a three-stage plan over five sets in two resource groups
 * moves a new version stage by stage, each after the one before baked; a version that faults a
 * set of stage 2 stops the plan with the typed reason and stage 3 is never touched; a newer
 * version then goes through from stage 1. Bad plans are ARM errors that change nothing.
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
import { cliRunner } from '../../test-support/cli-runner.js'
import type { Rollout } from '../../src/core/rollout/types.js'
import { createToken } from '../../src/services/tokens.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let endpoint = ''
const osroll = cliRunner(() => ({ endpoint, token: h.sys.adminToken }))
const json = (r: { code: number; stdout: string; stderr: string }): any => {
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}

/** The five sets: [group, name]; `c` (stage 2) runs the extension that 1.2.0 fails. */
const SETS = [
  ['rg', 'a'],
  ['rg', 'b'],
  ['rg2', 'c'],
  ['rg', 'd'],
  ['rg2', 'e'],
] as const
const id = (rg: string, name: string) => armPaths(h.sub, rg).set(name)
const key = (rg: string, name: string) => id(rg, name).toLowerCase()
const planPath = (name = 'fleet') =>
  `/subscriptions/${h.sub}/providers/Osroll.Upgrades/rolloutPlans/${name}`

const EXTENSION = {
  name: 'install',
  properties: {
    publisher: 'Microsoft.Azure.Extensions',
    type: 'CustomScript',
    typeHandlerVersion: '2.1',
    settings: { commandToExecute: 'true' },
  },
}

beforeAll(async () => {
  h = await apiHarness({ groups: ['rg', 'rg2'] })
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  endpoint = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
  const put = async (path: string, body: unknown) =>
    expect((await h.call('PUT', path, { body })).status).toBeLessThan(300)
  await put(armPaths(h.sub).image('1.0.0'), imageBody('sim:?boot=0'))
  for (const rg of ['rg', 'rg2'])
    await put(armPaths(h.sub, rg).lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }))
  for (const [rg, name] of SETS) {
    const body = autoUpgradeSetBody({ sub: h.sub, capacity: 2, probe: 'tcp', group: rg }) as any
    if (name === 'c')
      body.properties.virtualMachineProfile.extensionProfile = { extensions: [EXTENSION] }
    await put(id(rg, name), body)
  }
  const get = async (path: string) => (await h.call('GET', path)).body
  for (const [rg, name] of SETS)
    await waitFor(() => healthyInstances(get, id(rg, name), 2), `${name} healthy`, 30_000)
})
afterAll(() => h.close())

/** Reads `/events` until a frame mentions `until` (bounded: 10 s), then stops reading. */
async function readEvents(url: string, until: string): Promise<string> {
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(), 10_000)
  let text = ''
  try {
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${h.sys.adminToken}` },
      signal: ac.signal,
    })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    while (!text.includes(until)) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value)
    }
  } finally {
    clearTimeout(timer)
    ac.abort()
  }
  return text
}

const plan = async (name = 'fleet') => (await h.call('GET', planPath(name))).body
const rollouts = async (rg: string, name: string): Promise<readonly Rollout[]> =>
  h.sys.deps.store.listRollouts(key(rg, name), { limit: 20 })
const rolloutsTo = async (rg: string, name: string, v: string) =>
  (await rollouts(rg, name)).filter((r) => r.target.imageVersion === v)
const waveIs = (version: string, phase: string) =>
  waitFor(
    async () => {
      const p = await plan()
      return p.properties.status.version === version && p.properties.status.phase === phase && p
    },
    `wave ${version} ${phase}`,
    60_000,
  )

describe('rollout plans', () => {
  it('refuses bad plans with ARM errors and writes nothing', { timeout: 60_000 }, async () => {
    const stage = (sets: string[], bakeTime = 'PT1S', name = 's') => ({
      name,
      scaleSets: sets,
      bakeTime,
    })
    const good = [stage([id('rg', 'a')], 'PT1S', 'one'), stage([id('rg', 'b')], 'PT1S', 'two')]
    const cases: [string, unknown, string][] = [
      [
        'a set in two stages',
        [stage([id('rg', 'a')], 'PT1S', 'x'), stage([id('rg', 'b'), id('rg', 'a')], 'PT1S', 'y')],
        'properties.stages[1].scaleSets[1]',
      ],
      [
        'a set that does not exist',
        [stage([id('rg', 'nope')])],
        'properties.stages[0].scaleSets[0]',
      ],
      ['a stage with no sets', [stage([])], 'properties.stages[0].scaleSets'],
      ['a negative bake time', [stage([id('rg', 'a')], '-PT1S')], 'properties.stages[0].bakeTime'],
      ['a bake time in years', [stage([id('rg', 'a')], 'P1Y')], 'properties.stages[0].bakeTime'],
      ['a bake time over 7 days', [stage([id('rg', 'a')], 'P8D')], 'properties.stages[0].bakeTime'],
      [
        'a plan inside a plan (a cycle)',
        [stage([planPath('other')])],
        'properties.stages[0].scaleSets[0]',
      ],
      ['no stages', [], 'properties.stages'],
      [
        'two stages with one name',
        [stage([id('rg', 'a')], 'PT0S', 'x'), stage([id('rg', 'b')], 'PT0S', 'x')],
        'properties.stages[1].name',
      ],
    ]
    for (const [what, stages, target] of cases) {
      const r = await h.call('PUT', planPath('bad'), {
        body: { properties: { imageReference: UBUNTU_LATEST, stages } },
      })
      expect([r.status, r.body.error?.code, r.body.error?.target], what).toEqual([
        400,
        'InvalidParameter',
        target,
      ])
    }
    const other = await h.call('PUT', planPath('bad'), {
      body: {
        properties: { imageReference: { ...UBUNTU_LATEST, sku: '20.04-LTS' }, stages: good },
      },
    })
    expect([other.status, other.body.error.message]).toEqual([
      400,
      expect.stringMatching(/does not follow the plan's image/),
    ])
    const unknown = await h.call('PUT', planPath('bad'), {
      body: { properties: { imageReference: UBUNTU_LATEST, stages: good, extra: 1 } },
    })
    expect([unknown.status, unknown.body.error.target]).toEqual([400, 'properties.extra'])
    expect((await h.call('GET', planPath('bad'))).status).toBe(404)
    expect(await h.sys.deps.plans.listPlanKeys()).toEqual([])
    // A token limited to this subscription may not name another one's set (403, as any link).
    const limited = await createToken(h.sys.deps.store, {
      role: 'Contributor',
      subscriptions: [h.sub],
      label: 'waves',
      nowMs: Date.now(),
    })
    const foreign = `/subscriptions/other-sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/x`
    const linked = await h.call('PUT', planPath('bad'), {
      token: limited,
      body: { properties: { imageReference: UBUNTU_LATEST, stages: [stage([foreign])] } },
    })
    expect([linked.status, linked.body.error.code]).toEqual([403, 'LinkedAuthorizationFailed'])
    expect(await h.sys.deps.plans.listPlanKeys()).toEqual([])
  })

  it(
    'moves versions stage by stage; a fault in stage 2 stops it; a newer version goes from stage 1',
    { timeout: 180_000 },
    async () => {
      // Created through the CLI: three stages over five sets in two groups.
      const created = json(
        await osroll(
          'rollout-plan',
          'create',
          '-n',
          'fleet',
          '--image',
          'Canonical:UbuntuServer:18.04-LTS',
          '--stage',
          'canary@PT1S=rg/a',
          '--stage',
          `early@PT1S=rg/b,${id('rg2', 'c')}`,
          '--stage',
          'late=rg/d,rg2/e',
        ),
      )
      expect(created).toMatchObject({
        name: 'fleet',
        type: 'Osroll.Upgrades/rolloutPlans',
        properties: {
          imageReference: {
            publisher: 'Canonical',
            offer: 'UbuntuServer',
            sku: '18.04-LTS',
            version: 'latest',
          },
          stages: [
            { name: 'canary', bakeTime: 'PT1S', scaleSets: [key('rg', 'a')] },
            { name: 'early', bakeTime: 'PT1S', scaleSets: [key('rg', 'b'), key('rg2', 'c')] },
            { name: 'late', bakeTime: 'PT0S', scaleSets: [key('rg', 'd'), key('rg2', 'e')] },
          ],
        },
      })
      // The sets are on 1.0.0 already: its wave goes straight through the bakes.
      await waveIs('1.0.0', 'Succeeded')

      // A set in the plan may not join another one; nothing changes.
      const twice = await h.call('PUT', planPath('second'), {
        body: {
          properties: {
            imageReference: UBUNTU_LATEST,
            stages: [{ name: 'x', scaleSets: [id('rg', 'd')] }],
          },
        },
      })
      expect([twice.status, twice.body.error.message]).toEqual([
        400,
        expect.stringMatching(/already in the rollout plan/),
      ])

      // 1.1.0: only the canary rolls first; the others wait for their stage.
      await h.call('PUT', armPaths(h.sub).image('1.1.0'), { body: imageBody('sim:?boot=0') })
      await waveIs('1.1.0', 'Succeeded')
      const ended = async (rg: string, name: string, v: string) => {
        const [r] = await rolloutsTo(rg, name, v)
        expect(r?.status, `${name} ${v}`).toBe('Completed')
        return r as Rollout
      }
      const a1 = await ended('rg', 'a', '1.1.0')
      const early = [await ended('rg', 'b', '1.1.0'), await ended('rg2', 'c', '1.1.0')]
      const late = [await ended('rg', 'd', '1.1.0'), await ended('rg2', 'e', '1.1.0')]
      for (const r of early)
        expect(r.startedAtMs).toBeGreaterThanOrEqual((a1.endedAtMs as number) + 1000)
      const earlyEnd = Math.max(...early.map((r) => r.endedAtMs as number))
      for (const r of late) expect(r.startedAtMs).toBeGreaterThanOrEqual(earlyEnd + 1000)

      // 1.2.0 fails the extension only set c runs: stage 2 fails, stage 3 stays on 1.1.0.
      await h.call('PUT', armPaths(h.sub).image('1.2.0'), {
        body: imageBody('sim:?boot=0&extfail=install'),
      })
      const failed = await waveIs('1.2.0', 'Failed')
      expect(failed.properties.status.reason).toMatchObject({
        code: 'ScaleSetRolloutFaulted',
        stage: 'early',
        scaleSet: key('rg2', 'c'),
        message: expect.stringContaining("processing extension 'install'"),
      })
      const stages = failed.properties.status.stages
      expect(stages.map((s: any) => s.phase)).toEqual(['Completed', 'Failed', 'Pending'])
      expect(stages[2].startTime).toBeNull()
      expect(stages[1].scaleSets.find((s: any) => s.id === key('rg2', 'c')).state).toBe('Failed')
      await h.settle()
      for (const [rg, name] of [
        ['rg', 'd'],
        ['rg2', 'e'],
      ] as const) {
        expect(await rolloutsTo(rg, name, '1.2.0'), name).toEqual([])
        const vms = (await h.call('GET', `${id(rg, name)}/virtualMachines?$expand=instanceView`))
          .body.value
        for (const vm of vms)
          expect(vm.properties.storageProfile.imageReference.exactVersion).toBe('1.1.0')
      }
      expect(failed.properties.released).toEqual(
        expect.arrayContaining([
          { scaleSet: key('rg', 'd'), version: '1.1.0', time: expect.any(String) },
        ]),
      )

      // 1.3.0 then goes through from stage 1, the failed set included.
      await h.call('PUT', armPaths(h.sub).image('1.3.0'), { body: imageBody('sim:?boot=0') })
      const done = await waveIs('1.3.0', 'Succeeded')
      expect(done.properties.status.history[0]).toMatchObject({ version: '1.2.0', phase: 'Failed' })
      const a3 = (await rolloutsTo('rg', 'a', '1.3.0'))[0] as Rollout
      for (const [rg, name] of SETS.slice(1)) {
        const [r] = await rolloutsTo(rg, name, '1.3.0')
        expect(r?.status, name).toBe('Completed')
        expect(r?.startedAtMs).toBeGreaterThan(a3.endedAtMs as number)
      }

      // Events on /events-backed log: the wave's decisions are there.
      const events = await h.sys.deps.store.listEvents(`${planPath().toLowerCase()}/waves/1.2.0`)
      expect(events.map((e) => e.to)).toEqual([
        'WaveStarted',
        'StageStarted',
        'StageBaking',
        'StageCompleted',
        'StageStarted',
        'WaveFailed',
      ])
      // And on /events, filtered by the plan's id, as `wave` events.
      const frames = await readEvents(
        `${endpoint}/events?since=0&scaleSet=${planPath()}`,
        'WaveFailed',
      )
      expect(frames).toMatch(/event: wave\ndata: \{[^\n]*"to":"WaveFailed"/)
      expect(frames).not.toMatch(/event: (rollout|instance)/)
      // The wave metrics (docs/operations.md § Metrics).
      const metrics = await h.sys.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `Bearer ${h.sys.adminToken}` },
      })
      expect(metrics.body).toContain(
        'osroll_wave_failures_total{reason="ScaleSetRolloutFaulted"} 1',
      )
      expect(metrics.body).toMatch(/osroll_waves_total\{status="Succeeded"\} [3-9]/)
      expect(metrics.body).toMatch(
        /osroll_wave_stage_transitions_total\{transition="completed"\} \d+/,
      )
      const shown = json(await osroll('rollout-plan', 'show', '-n', 'fleet'))
      expect(shown.properties.status.phase).toBe('Succeeded')
      expect(json(await osroll('rollout-plan', 'list')).map((p: any) => p.name)).toEqual(['fleet'])
    },
  )

  it(
    'pause holds the next stage, resume goes on, cancel ends the wave; errors change nothing',
    { timeout: 120_000 },
    async () => {
      const paused = json(await osroll('rollout-plan', 'pause', '-n', 'fleet'))
      expect(paused.properties).toMatchObject({ paused: true, status: { phase: 'Paused' } })
      await h.call('PUT', armPaths(h.sub).image('1.4.0'), { body: imageBody('sim:?boot=0') })
      await h.settle()
      for (const key of await h.sys.deps.plans.listPlanKeys()) h.sys.orchestrator.enqueue(key)
      await h.sys.orchestrator.settled()
      // Paused: no wave starts for 1.4.0 and no set rolls to it.
      expect((await plan()).properties.status.version).toBe('1.3.0')
      for (const [rg, name] of SETS) expect(await rolloutsTo(rg, name, '1.4.0'), name).toEqual([])
      const before = await plan()
      const cancel = await h.call('POST', `${planPath()}/cancel`)
      expect([cancel.status, cancel.body.error.code]).toEqual([409, 'OperationNotAllowed'])
      expect(cancel.body.error.message).toMatch(/no wave in flight/)
      expect((await plan()).etag).toBe(before.etag)

      // Resumed: the wave of 1.4.0 starts; cancelled in stage 1's bake, stage 2 never starts.
      // A longer canary bake (a PATCH between waves), so that the cancel lands inside it.
      const stages = before.properties.stages.map((st: any, i: number) =>
        i === 0 ? { ...st, bakeTime: 'PT10M' } : st,
      )
      // Bad updates of an existing plan change nothing: a stage with no sets, a stale etag.
      const empty = stages.map((st: any, i: number) => (i === 2 ? { ...st, scaleSets: [] } : st))
      const bad = await h.call('PATCH', planPath(), { body: { properties: { stages: empty } } })
      expect([bad.status, bad.body.error.target]).toEqual([400, 'properties.stages[2].scaleSets'])
      const stale = await h.call('PATCH', planPath(), {
        body: { properties: { stages } },
        headers: { 'if-match': 'W/"1"' },
      })
      expect([stale.status, stale.body.error.code]).toEqual([412, 'PreconditionFailed'])
      expect((await plan()).etag).toBe(before.etag)
      const patched = await h.call('PATCH', planPath(), {
        body: { properties: { stages } },
        headers: { 'if-match': before.etag },
      })
      expect(patched.status, JSON.stringify(patched.body)).toBe(200)
      expect(patched.body.properties.stages[0].bakeTime).toBe('PT10M')
      json(await osroll('rollout-plan', 'resume', '-n', 'fleet'))
      const again = await h.call('POST', `${planPath()}/resume`)
      expect([again.status, again.body.error.code]).toEqual([409, 'OperationNotAllowed'])
      expect(again.body.error.message).toMatch(/not paused/)
      await waitFor(
        async () =>
          (await plan()).properties.status.stages[0].phase === 'Baking' &&
          (await plan()).properties.status.version === '1.4.0',
        'stage 1 of 1.4.0 baking',
        60_000,
      )
      const cancelled = json(await osroll('rollout-plan', 'cancel', '-n', 'fleet'))
      expect(cancelled.properties.status.phase).toBe('Cancelling')
      const end = await waveIs('1.4.0', 'Cancelled')
      expect(end.properties.status.reason.code).toBe('CancelledByUser')
      expect(end.properties.status.stages.map((s: any) => s.startTime === null)).toEqual([
        false,
        true,
        true,
      ])
      for (const [rg, name] of SETS.slice(1))
        expect(await rolloutsTo(rg, name, '1.4.0'), name).toEqual([])

      // Deleted: the sets are free again and roll to 1.4.0 on their own.
      const del = await osroll('rollout-plan', 'delete', '-n', 'fleet')
      expect(del.code, del.stderr).toBe(0)
      expect((await h.call('GET', planPath())).status).toBe(404)
      await waitFor(
        async () => (await rolloutsTo('rg2', 'e', '1.4.0'))[0]?.status === 'Completed',
        'e on 1.4.0',
        60_000,
      )
    },
  )
})
