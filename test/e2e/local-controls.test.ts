/**
 * osroll's rollout controls end to end on the local fabric, through the API and the CLI
 * (issue 20, "What it must show"): the dry-run plan, pause and resume, `wait`'s exit codes, a
 * batch soak, the per-instance timeline, a faulted version quarantined, a newer one rolling
 * forward from it, and the release. Real processes, real probes; its own /16 (127.92).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import { cliRunner } from '../../test-support/cli-runner.js'
import { sampleImage } from '../../test-support/sample-images.js'
import {
  armPaths,
  autoUpgradeSetBody,
  imageBody,
  loadBalancerBody,
  HTTP_HEALTH_PROBE,
  healthyInstances,
} from '../../test-support/arm-fixtures.js'
import type { Rollout } from '../../src/core/rollout/types.js'

const work = mkdtempSync(join(tmpdir(), 'osroll-e2e-controls-'))
let h: Awaited<ReturnType<typeof apiHarness>>
let endpoint = ''
const osroll = cliRunner(() => ({ endpoint, token: h.sys.adminToken }))
const set = () => armPaths(h.sub).set()
const key = () => set().toLowerCase()
const publish = (version: string, health: 'healthy' | 'unhealthy' = 'healthy') =>
  h.call('PUT', armPaths(h.sub).image(version), {
    body: imageBody(sampleImage(work, { version, health })),
  })
const latest = async () => (await h.sys.deps.store.listRollouts(key(), { limit: 1 }))[0] as Rollout
const ended = (version: string) =>
  waitFor(
    async () => {
      const r = await latest()
      return r?.target.imageVersion === version && r.status !== 'RollingForward' && r
    },
    `the ${version} rollout ended`,
    90_000,
  )
const SET = ['-g', 'rg', '-n', 'web']

beforeAll(async () => {
  h = await apiHarness({
    fabric: 'local',
    healthDeadline: 'PT10S',
    config: { addressRange: '127.92.0.0/16' },
  })
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  endpoint = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
})
afterAll(async () => {
  await h.call('DELETE', set())
  await h.close()
  rmSync(work, { recursive: true, force: true })
}, 60_000) // stopping the instances and servers can take over the default 10 s on a loaded machine

describe('rollout controls on the local fabric', () => {
  it(
    'plan, pause/resume, soak, wait, timeline, quarantine, roll forward, release',
    { timeout: 240_000 },
    async () => {
      expect((await publish('1.0.0')).status).toBe(201)
      await h.call('PUT', armPaths(h.sub).lb, { body: loadBalancerBody(HTTP_HEALTH_PROBE) })
      const body = autoUpgradeSetBody({ sub: h.sub, capacity: 4, probe: 'http' })
      expect((await h.call('PUT', set(), { body })).status).toBe(201)
      const get = async (path: string) => (await h.call('GET', path)).body
      await waitFor(() => healthyInstances(get, set(), 4), 'four healthy instances', 60_000)
      const soak = await osroll(
        ...['vmss', 'upgrade-settings', 'set', ...SET, '--batch-soak-min', 'PT1S'],
        ...['--batch-soak-max', 'PT20S'],
      )
      expect(soak.code, soak.stderr).toBe(0)

      expect((await publish('1.1.0')).status).toBe(201)
      const running = await waitFor(
        async () => {
          const r = await h.sys.deps.store.getActiveRollout(key())
          return r?.target.imageVersion === '1.1.0' && r.batchCount >= 1 && r
        },
        'batch 1 of 1.1.0',
        30_000,
      )
      const paused = await osroll('vmss', 'rolling-upgrade', 'pause', ...SET)
      expect(paused.code, paused.stderr).toBe(0)
      const held = await waitFor(
        async () => {
          const r = (await h.call('GET', `${set()}/providers/Osroll.Upgrades/rollouts/current`))
            .body
          return r.properties.paused === true && r
        },
        'paused',
        60_000,
      )
      const atPause = held.properties.batchesStarted as number
      const plan = await osroll(
        ...['vmss', 'rolling-upgrade', 'plan', ...SET, '--version', '1.1.0'],
      )
      expect(plan.code, plan.stderr).toBe(0)
      // What a rollout to 1.1.0 would do now: one instance a batch, for those not on it yet.
      expect(JSON.parse(plan.stdout).properties.batches.length).toBe(4 - atPause)
      await h.settle()
      expect((await latest()).batchCount).toBe(atPause) // no batch starts while paused
      expect((await osroll('vmss', 'rolling-upgrade', 'resume', ...SET)).code).toBe(0)
      const waited = await osroll(...['vmss', 'rolling-upgrade', 'wait', ...SET, '-o', 'none'])
      expect(waited.code, waited.stderr).toBe(0) // Completed
      const done = await ended('1.1.0')
      expect(done).toMatchObject({ id: running.id, status: 'Completed', batchCount: 4 })
      const events = await h.sys.deps.store.listEvents(done.id)
      expect(events.filter((e) => e.reason === 'SoakPassed').length).toBeGreaterThanOrEqual(3)

      const timeline = await osroll(
        ...['vmss', 'rolling-upgrade', 'show', ...SET, '--timeline', '--rollout', done.id],
      )
      expect(timeline.code, timeline.stderr).toBe(0)
      const t = JSON.parse(timeline.stdout).properties
      expect(t.instances).toHaveLength(4)
      for (const i of t.instances)
        expect(i.steps.map((s: { step: string }) => s.step)).toEqual(
          expect.arrayContaining(['requested', 'diskSwapped', 'firstHealthy', 'succeeded']),
        )

      // A broken version faults and is quarantined; `wait` exits 1.
      expect((await publish('1.2.0', 'unhealthy')).status).toBe(201)
      const faulted = await ended('1.2.0')
      expect(faulted.status).toBe('Faulted')
      const failedWait = await osroll(...['vmss', 'rolling-upgrade', 'wait', ...SET, '-o', 'none'])
      expect(failedWait.code).toBe(1)
      const listed = await osroll(...['vmss', 'quarantine', 'list', ...SET, '--query', '[].name'])
      expect(JSON.parse(listed.stdout)).toEqual(['1.2.0'])

      // A newer version rolls forward from it; then the operator releases it.
      expect((await publish('1.3.0')).status).toBe(201)
      const forward = await ended('1.3.0')
      expect(forward).toMatchObject({ status: 'Completed', rollForwardFrom: ['1.2.0'] })
      const vms = (await h.call('GET', `${set()}/virtualMachines`)).body.value as any[]
      expect(
        vms.map((v) => v.properties.storageProfile.imageReference.exactVersion as string),
      ).toEqual(['1.3.0', '1.3.0', '1.3.0', '1.3.0'])
      const released = await osroll(
        ...['vmss', 'quarantine', 'release', ...SET, '--version', '1.2.0'],
      )
      expect(released.code, released.stderr).toBe(0)
      const none = await osroll(...['vmss', 'quarantine', 'list', ...SET, '--query', '[].name'])
      expect(JSON.parse(none.stdout)).toEqual([])
    },
  )
})
