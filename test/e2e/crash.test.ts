/**
 * Crash safety (issue 3, SPEC §11.2): `osroll serve` is SIGKILLed in the middle of a rollout and
 * started again on the same data dir. The rollout resumes and completes with one history entry;
 * every instance got exactly one new OS disk (the sim fabric's disk count, kept in SQLite).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import Sqlite from 'better-sqlite3'
import { startServe } from '../../test-support/serve-process.js'
import type { ServeProcess } from '../../test-support/serve-process.js'
import { waitFor } from '../../test-support/api-harness.js'
import {
  armPaths,
  autoUpgradeSetBody,
  createResourceGroup,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'

const dir = mkdtempSync(join(tmpdir(), 'osroll-crash-'))
let server: ServeProcess | null = null
afterAll(async () => {
  await server?.stop('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

describe('SIGKILL mid-rollout', () => {
  it(
    'resumes after restart: one history entry, every instance upgraded exactly once',
    { timeout: 120_000 },
    async () => {
      server = await startServe(dir)
      const sub = server.subscriptionId
      const paths = armPaths(sub)
      await createResourceGroup(server.call, sub)
      const set = paths.set()
      expect(
        (await server.call('PUT', paths.image('1.0.0'), imageBody('sim:?boot=0'))).status,
      ).toBe(201)
      await server.call(
        'PUT',
        paths.lb,
        loadBalancerBody({ name: 'http', protocol: 'Tcp', port: 80 }),
      )
      const created = await server.call(
        'PUT',
        set,
        autoUpgradeSetBody({ sub, capacity: 10, probe: 'http' }),
      )
      expect(created.status).toBe(201)
      await waitFor(
        async () =>
          (await server!.call('GET', set)).body.properties?.provisioningState === 'Succeeded',
        'set created',
        30_000,
      )
      // Each batch of 2 takes ~1 s to boot: 5 batches, ~5 s. Kill it in the middle.
      await server.call('PUT', paths.image('1.1.0'), imageBody('sim:?boot=1'))
      await waitFor(
        async () => {
          const latest = await server!.call('GET', `${set}/rollingUpgrades/latest`)
          return (
            latest.status === 200 && latest.body.properties.progress.successfulInstanceCount >= 2
          )
        },
        'rollout under way',
        30_000,
      )
      await server.stop('SIGKILL')
      const mid = readState(dir)
      expect(mid.rollouts).toHaveLength(1)
      expect(mid.rollouts[0]!.status).toBe('RollingForward')

      server = await startServe(dir)
      const entries = await waitFor(
        async () => {
          const h = await server!.call('GET', `${set}/osUpgradeHistory`)
          return h.body.value?.[0]?.properties.runningStatus.code === 'Completed' && h.body.value
        },
        'rollout completed after restart',
        60_000,
      )
      expect(entries).toHaveLength(1)
      expect(entries[0].properties.progress).toEqual({
        successfulInstanceCount: 10,
        failedInstanceCount: 0,
        inProgressInstanceCount: 0,
        pendingInstanceCount: 0,
      })
      await server.stop('SIGTERM')
      const end = readState(dir)
      expect(end.rollouts).toHaveLength(1)
      expect(end.disks).toEqual(Array.from({ length: 10 }, (_, i) => [String(i), '1.1.0', 2]))
    },
  )
})

function readState(dataDir: string): {
  rollouts: { status: string }[]
  disks: [string, string, number][]
} {
  const db = new Sqlite(join(dataDir, 'osroll.db'), { readonly: true })
  try {
    const rollouts = db.prepare('select status from rollouts').all() as { status: string }[]
    const disks = (db.prepare('select instance from sim_instances').all() as { instance: string }[])
      .map(
        (r) =>
          JSON.parse(r.instance) as {
            instanceId: string
            disk: { version: string }
            diskCount: number
          },
      )
      .map((i) => [i.instanceId, i.disk.version, i.diskCount] as [string, string, number])
      .sort((a, b) => Number(a[0]) - Number(b[0]))
    return { rollouts, disks }
  } finally {
    db.close()
  }
}
