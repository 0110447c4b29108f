/**
 * Maintenance windows end to end on the local fabric (issue 21 §2, docs/rollouts.md
 * § Maintenance windows): real instance processes and real probes, and a short window — every
 * 20 seconds for 5 (a six-field cron, seconds first) — so that the test takes well under a
 * minute of wall clock. A 2-instance set rolls one instance per batch; the new version takes
 * longer to become healthy than the window stays open. Shown: every batch starts inside a
 * window, the batch in flight when its window closes completes, the rollout then waits (status
 * and event say until when) and resumes in the next window. Own loopback range 127.113.0.0/16.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import type { Call } from '../../test-support/api-harness.js'
import { sampleImage } from '../../test-support/sample-images.js'
import {
  armPaths,
  autoUpgradeSetBody,
  imageBody,
  loadBalancerBody,
  HTTP_HEALTH_PROBE,
  healthyInstances,
  privateAddresses,
} from '../../test-support/arm-fixtures.js'

const EVERY_MS = 20_000
const OPEN_MS = 5_000
const work = mkdtempSync(join(tmpdir(), 'osroll-e2e-windows-'))
let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
let sub: string
const set = () => armPaths(sub).set()

beforeAll(async () => {
  h = await apiHarness({
    fabric: 'local',
    healthDeadline: 'PT30S',
    config: { addressRange: '127.113.0.0/16' },
  })
  call = h.call
  sub = h.sub
})
afterAll(async () => {
  try {
    await call('DELETE', set())
  } finally {
    await h.close()
    rmSync(work, { recursive: true, force: true })
  }
}, 60_000) // stopping the instances and servers can take over the default 10 s on a loaded machine

/** Inside a window of `*\/20 * * * * *` for PT5S (UTC): 0–5 s past each 20 s of the epoch. */
const inWindow = (ms: number) => ms % EVERY_MS < OPEN_MS

describe('maintenance windows on the local fabric', () => {
  it(
    'waits outside, resumes in the next window, finishes the batch in flight',
    { timeout: 120_000 },
    async () => {
      const publish = (version: string, initializingSeconds = 0) =>
        call('PUT', armPaths(sub).image(version), {
          body: imageBody(sampleImage(work, { version, initializingSeconds })),
        })
      expect((await publish('1.0.0')).status).toBe(201)
      await call('PUT', armPaths(sub).lb, { body: loadBalancerBody(HTTP_HEALTH_PROBE) })
      expect(
        (
          await call('PUT', set(), {
            body: autoUpgradeSetBody({ sub, capacity: 2, probe: 'http' }),
          })
        ).status,
      ).toBe(201)
      const get = async (path: string) => (await call('GET', path)).body
      await waitFor(() => healthyInstances(get, set(), 2), 'two healthy instances', 60_000)
      const windows = await call(
        'PUT',
        `${set()}/providers/Osroll.Upgrades/maintenanceWindows/default`,
        {
          body: {
            properties: {
              timeZone: 'UTC',
              windows: [{ cron: '*/20 * * * * *', duration: 'PT5S' }],
            },
          },
        },
      )
      expect(windows.status, JSON.stringify(windows.body)).toBe(201)

      // 1.1.0 answers its probe only 6 s after it starts: longer than the window stays open.
      expect((await publish('1.1.0', 6)).status).toBe(201)
      const key = set().toLowerCase()
      const done = await waitFor(
        async () => {
          const r = (await h.sys.deps.store.listRollouts(key, { limit: 1 }))[0]
          return r?.status !== 'RollingForward' && r?.target.imageVersion === '1.1.0' && r
        },
        'the rollout to 1.1.0',
        90_000,
      )
      expect(done).toMatchObject({ status: 'Completed', batchCount: 2 })
      const [first, second] = [1, 2].map((b) => done.attempts.find((a) => a.batch === b)!)
      // Every batch started inside a window.
      expect(inWindow(first!.startedAtMs), new Date(first!.startedAtMs).toISOString()).toBe(true)
      expect(inWindow(second!.startedAtMs), new Date(second!.startedAtMs).toISOString()).toBe(true)
      // Batch 1 was still in flight when its window closed, and completed.
      const closedAt = first!.startedAtMs - (first!.startedAtMs % EVERY_MS) + OPEN_MS
      expect(first).toMatchObject({ state: 'Succeeded' })
      expect(first!.endedAtMs!).toBeGreaterThan(closedAt)
      // Then the rollout waited, until the next window, and batch 2 started in it.
      const events = await h.sys.deps.store.listEvents(done.id)
      const wait = events.find(
        (e) => e.reason === 'MaintenanceWindowClosed' && e.atMs >= first!.endedAtMs!,
      )
      expect(wait, JSON.stringify(events.filter((e) => e.instanceId === null))).toMatchObject({
        from: 'RollingForward',
        to: 'WaitingForWindow',
      })
      expect(wait!.untilMs! % EVERY_MS).toBe(0)
      expect(wait!.untilMs!).toBeGreaterThan(closedAt)
      expect(second!.startedAtMs).toBeGreaterThanOrEqual(wait!.untilMs!)
      expect(second!.startedAtMs - wait!.untilMs!).toBeLessThan(OPEN_MS)
      const opened = events.find(
        (e) => e.reason === 'MaintenanceWindowOpened' && e.atMs >= wait!.atMs,
      )
      expect(opened?.atMs).toBe(second!.startedAtMs)
      // Both instances serve the new version.
      const ips = await privateAddresses(get, set())
      const answers = await Promise.all(
        ips.map(async (ip) => (await fetch(`http://${ip}:8080/`)).text()),
      )
      expect(answers.every((a) => a.includes('runs image 1.1.0'))).toBe(true)
    },
  )
})
