/**
 * No orphan instance, ever (issue 16): `osroll serve` on the local fabric SIGKILLs itself
 * (OSROLL_TEST_CRASH_AT) right after it spawned an instance process and before it recorded it —
 * the boot process of a reimage, or the custom data command that runs before it. The process
 * outlives it, named by no record. After the restart the orphan is gone (stopped before any
 * address was handed out), every instance runs exactly once — the spawn its record names — and
 * the rollout completes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import Sqlite from 'better-sqlite3'
import {
  instanceProcesses,
  startServe,
  stopInstanceProcesses,
  type ServeProcess,
} from '../../test-support/serve-process.js'
import { sampleImage } from '../../test-support/sample-images.js'
import { waitFor } from '../../test-support/api-harness.js'
import {
  armPaths,
  autoUpgradeSetBody,
  createResourceGroup,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'
import { isAlive } from '../../src/fabrics/host/processes.js'

const CAPACITY = 2

type Record_ = {
  instanceId: string
  process: { pid: number; spawnId?: string } | null
  spawning?: { spawnId: string; osDisk: number; privateIp: string } | null
}

function records(dataDir: string): Record_[] {
  const db = new Sqlite(join(dataDir, 'osroll.db'), { readonly: true })
  try {
    const rows = db.prepare('select instance from local_instances').all() as { instance: string }[]
    return rows.map((r) => JSON.parse(r.instance) as Record_)
  } finally {
    db.close()
  }
}

async function crashAndRestart(
  point: 'boot-spawned' | 'command-spawned',
  range: string,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `osroll-orphans-${point}-`))
  const data = join(dir, 'data')
  const args = ['--fabric', 'local', '--health-deadline', 'PT30S', '--address-range', range]
  // The custom data command sleeps while the test's flag listener answers: long enough to be
  // found as an orphan. A listener, not a file: a sandboxed command sees only its own folder,
  // but shares the host's network.
  const flag = createServer()
  await new Promise<void>((r) => flag.listen(0, '127.0.0.1', r))
  const flagPort = (flag.address() as AddressInfo).port
  let flagUp = false
  flag.on('connection', (c) => c.end(flagUp ? '1' : '0'))
  const probe = `require('net').connect(${flagPort},'127.0.0.1').on('data',(d)=>process.exit(String(d)[0]==='1'?0:1)).on('error',()=>process.exit(1)).on('end',()=>process.exit(1))`
  const script = `#!/bin/sh\nif /usr/bin/node -e "${probe}"; then sleep 60; fi\nexit 0\n`
  let server: ServeProcess | null = null
  try {
    server = await startServe(data, args)
    const sub = server.subscriptionId
    const p = armPaths(sub)
    await createResourceGroup(server.call, sub)
    const publish = (version: string) =>
      server!.call('PUT', p.image(version), imageBody(sampleImage(join(dir, 'img'), { version })))
    await publish('1.0.0')
    await server.call(
      'PUT',
      p.lb,
      loadBalancerBody({
        name: 'http',
        protocol: 'Http',
        port: 8080,
        requestPath: '/health',
        intervalInSeconds: 5,
      }),
    )
    const body = autoUpgradeSetBody({ sub, capacity: CAPACITY, probe: 'http' }) as any
    body.properties.virtualMachineProfile.osProfile = {
      customData: Buffer.from(script).toString('base64'),
    }
    expect((await server.call('PUT', p.set(), body)).status).toBe(201)
    const healthy = async () => {
      const vms =
        (await server!.call('GET', `${p.set()}/virtualMachines?$expand=instanceView`)).body.value ??
        []
      return (
        vms.length === CAPACITY &&
        vms.every(
          (v: any) => v.properties.instanceView?.vmHealth?.status?.code === 'HealthState/healthy',
        )
      )
    }
    await waitFor(healthy, 'the first instances healthy', 60_000)
    await server.stop('SIGTERM')

    // The crash: at the first spawn of the rollout to 1.1.0.
    if (point === 'command-spawned') flagUp = true
    server = await startServe(data, args, { OSROLL_TEST_CRASH_AT: point })
    await publish('1.1.0')
    const crashed = server.child
    await waitFor(async () => crashed.signalCode === 'SIGKILL', 'the crash point', 60_000)
    if (point === 'command-spawned') {
      // The orphan must have reached its sleep before the flag goes down (a loaded machine may
      // still be starting its sandbox).
      const command = (pid: number) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        } catch {
          return '' // gone
        }
      }
      const sleeping = () => instanceProcesses(data).some((o) => command(o.pid).startsWith('sleep'))
      await waitFor(async () => sleeping(), 'the orphaned command asleep', 30_000)
      flagUp = false
    }
    const named = new Set(records(data).flatMap((r) => r.process?.spawnId ?? []))
    const orphans = instanceProcesses(data).filter((o) => !named.has(o.spawnId))
    expect(orphans.length, 'a process no record names outlived the crash').toBeGreaterThan(0)
    if (point === 'boot-spawned') {
      // Intent before action: the orphan's spawn was recorded as intended before it started.
      const intents = records(data).flatMap((r) => r.spawning?.spawnId ?? [])
      expect(intents).toEqual([...new Set(orphans.map((o) => o.spawnId))])
    }

    server = await startServe(data, args)
    const history = await waitFor(
      async () => {
        const h = await server!.call('GET', `${p.set()}/osUpgradeHistory`)
        const top = h.body.value?.[0]?.properties
        return top?.targetImageReference?.version === '1.1.0' &&
          top.runningStatus.code === 'Completed'
          ? top
          : null
      },
      'the rollout to 1.1.0 completed after the restart',
      90_000,
    )
    expect(history.progress.successfulInstanceCount).toBe(CAPACITY)
    for (const o of orphans) expect(isAlive(o), `orphan pid ${o.pid} stopped`).toBe(false)
    // Each instance runs exactly once: the spawns running are those the records name, one each.
    const after = records(data)
    const spawns = new Set(instanceProcesses(data).map((o) => o.spawnId))
    expect([...spawns].sort()).toEqual(after.map((r) => r.process?.spawnId).sort())
    expect(spawns.size).toBe(CAPACITY)
    expect(after.every((r) => !r.spawning)).toBe(true)
    expect(server.output()).toMatch(/Stopped instance processes no record named/)
  } finally {
    await server?.stop('SIGTERM')
    await stopInstanceProcesses(dir)
    flag.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('a crash between spawning an instance process and recording it', () => {
  it(
    'boot: after the restart the orphan is gone, each instance runs once, the rollout completes',
    { timeout: 240_000 },
    () => crashAndRestart('boot-spawned', '127.85.0.0/16'),
  )
  it(
    'custom data command: after the restart the orphan is gone, each instance runs once, the rollout completes',
    { timeout: 240_000 },
    () => crashAndRestart('command-spawned', '127.86.0.0/16'),
  )
})
