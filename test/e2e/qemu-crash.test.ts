/**
 * SIGKILL of `osroll serve` in the middle of a rollout on real QEMU VMs (issue 19): the VMs keep
 * running and answering while osroll is down (they are detached, like VMs), the restarted
 * server adopts them, the rollout resumes and completes once, and no VM runs twice or is
 * reimaged twice (each guest counts its boots on its data disk: boot 2 means one reimage).
 * Then the two windows of a reimage, hit on purpose (OSROLL_TEST_CRASH_AT): the new disk
 * recorded before the old VM stopped, and a VM spawned before its pid was recorded.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { startServe } from '../../test-support/serve-process.js'
import type { ServeProcess } from '../../test-support/serve-process.js'
import { waitFor } from '../../test-support/api-harness.js'
import {
  armPaths,
  autoUpgradeSetBody,
  createResourceGroup,
  loadBalancerBody,
  HTTP_HEALTH_PROBE,
  healthyInstances,
  privateAddresses,
} from '../../test-support/arm-fixtures.js'
import { QEMU_MISSING, killQemuOf, qemuProcessesOf, qemuSample } from '../../test-support/qemu.js'

const dir = mkdtempSync(join(tmpdir(), 'osroll-qemu-crash-'))
const dir2 = mkdtempSync(join(tmpdir(), 'osroll-qemu-crash-points-'))
const work = mkdtempSync(join(tmpdir(), 'osroll-qemu-crash-src-'))
const work2 = mkdtempSync(join(tmpdir(), 'osroll-qemu-crash-points-src-'))
let server: ServeProcess | null = null
const ARGS = ['--fabric', 'qemu', '--qemu-accel', 'tcg', '--health-deadline', 'PT60S']

afterEach(async () => {
  await server?.stop('SIGKILL')
  server = null
})

afterAll(async () => {
  try {
    await server?.stop('SIGKILL')
  } finally {
    killQemuOf(dir)
    killQemuOf(dir2)
    rmSync(dir, { recursive: true, force: true })
    rmSync(dir2, { recursive: true, force: true })
    rmSync(work, { recursive: true, force: true })
    rmSync(work2, { recursive: true, force: true })
  }
})

/** The VM's answer on its address, or null when it does not answer. */
async function answer(ip: string): Promise<string | null> {
  try {
    const res = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(3000) })
    return await res.text()
  } catch {
    return null
  }
}

/**
 * Starts osroll on `data` and brings up a set of `capacity` VMs (a data disk each, an HTTP probe)
 * on the sample image 1.0.0 built under `src`; `publish` builds and publishes a later version.
 */
async function fleetOn(data: string, src: string, capacity: number) {
  server = await startServe(data, ARGS)
  const sub = server.subscriptionId
  const p = armPaths(sub)
  await createResourceGroup(server.call, sub)
  const publish = async (version: string) => {
    const uri = await qemuSample(src, version)
    const r = await server!.call('PUT', p.image(version), {
      location: 'westus',
      properties: { source: { uri } },
    })
    expect(r.status, JSON.stringify(r.body)).toBe(201)
  }
  await publish('1.0.0')
  await server.call('PUT', p.lb, loadBalancerBody(HTTP_HEALTH_PROBE))
  const body = autoUpgradeSetBody({ sub, capacity, probe: 'http', dataDisk: true })
  const created = await server.call('PUT', p.set(), body)
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  const get = async (path: string) => (await server!.call('GET', path)).body
  await waitFor(() => healthyInstances(get, p.set(), capacity), `${capacity} healthy VMs`, 180_000)
  return { p, publish, ips: await privateAddresses(get, p.set()) }
}

describe.skipIf(QEMU_MISSING.length > 0)(
  `SIGKILL mid-rollout on the qemu fabric${QEMU_MISSING.length > 0 ? ` (skipped: ${QEMU_MISSING.join(', ')} missing)` : ''}`,
  () => {
    it(
      'VMs keep answering while osroll is down; the rollout resumes and completes once',
      { timeout: 900_000 },
      async () => {
        const { p, publish, ips } = await fleetOn(dir, work, 4)

        await publish('1.1.0')
        await waitFor(
          async () => {
            const latest = await server!.call('GET', `${p.set()}/rollingUpgrades/latest`)
            return (
              latest.status === 200 &&
              latest.body.properties.runningStatus.code === 'RollingForward' &&
              latest.body.properties.progress.successfulInstanceCount >= 1
            )
          },
          'rollout under way',
          360_000,
        )
        await server!.stop('SIGKILL')
        // osroll is down: the VMs are not its children and keep serving (batches are of one VM,
        // so at most one is between disks).
        const whileDown = await Promise.all(ips.map(answer))
        expect(whileDown.filter((a) => a !== null).length).toBeGreaterThanOrEqual(3)

        server = await startServe(dir, ARGS)
        const entries = await waitFor(
          async () => {
            const h = await server!.call('GET', `${p.set()}/osUpgradeHistory`)
            return h.body.value?.[0]?.properties.runningStatus.code === 'Completed' && h.body.value
          },
          'rollout completed after restart',
          360_000,
        )
        expect(entries).toHaveLength(1)
        expect(entries[0].properties.progress).toMatchObject({
          successfulInstanceCount: 4,
          failedInstanceCount: 0,
        })
        const after = await Promise.all(ips.map(answer))
        expect(
          after.every((a) => a?.includes('runs image 1.1.0; boot 2')),
          JSON.stringify(after),
        ).toBe(true)
        // one QEMU process per VM: none was started twice
        expect(qemuProcessesOf(dir)).toHaveLength(4)
        expect((await server.call('DELETE', p.set())).status).toBeLessThan(300)
        await waitFor(async () => qemuProcessesOf(dir).length === 0, 'VMs deleted', 60_000)
      },
    )

    it(
      'a crash between the steps of a reimage boots the new disk once, and adopts a VM spawned unrecorded',
      { timeout: 900_000 },
      async () => {
        const { p, publish, ips } = await fleetOn(dir2, work2, 2)
        await server!.stop('SIGTERM')

        // 1. Killed right after the first reimage recorded its new disk: the old VM still runs.
        server = await startServe(dir2, ARGS, { OSROLL_TEST_CRASH_AT: 'reimage-recorded' })
        await publish('1.1.0')
        const first = server.child
        await waitFor(
          async () => first.signalCode === 'SIGKILL',
          'the reimage-recorded crash',
          120_000,
        )
        const pidsOf = () => qemuProcessesOf(dir2).map((l) => l.split(' ')[0])
        const oldPids = pidsOf()
        expect(oldPids).toHaveLength(2)
        const before = await Promise.all(ips.map(answer))
        expect(
          before.every((a) => a?.includes('runs image 1.0.0; boot 1')),
          JSON.stringify(before),
        ).toBe(true)

        // 2. Killed again as the restart spawned the VM on the new disk, before it recorded it
        // (at start, before serving).
        await expect(
          startServe(dir2, ARGS, { OSROLL_TEST_CRASH_AT: 'boot-spawned' }),
        ).rejects.toThrow(/exited SIGKILL/)
        server = null
        const spawned = pidsOf().filter((pid) => !oldPids.includes(pid))
        expect(spawned).toHaveLength(1)

        // 3. A clean start adopts that VM (no third boot) and finishes the rollout.
        server = await startServe(dir2, ARGS)
        const entries = await waitFor(
          async () => {
            const h = await server!.call('GET', `${p.set()}/osUpgradeHistory`)
            return h.body.value?.[0]?.properties.runningStatus.code === 'Completed' && h.body.value
          },
          'rollout completed after two crashes',
          360_000,
        )
        expect(entries).toHaveLength(1)
        const after = await Promise.all(ips.map(answer))
        expect(
          after.every((a) => a?.includes('runs image 1.1.0; boot 2')),
          JSON.stringify(after),
        ).toBe(true)
        // the VM spawned unrecorded was adopted, not stopped and started again
        expect(pidsOf()).toHaveLength(2)
        expect(pidsOf()).toContain(spawned[0])
        expect((await server.call('DELETE', p.set())).status).toBeLessThan(300)
        await waitFor(async () => qemuProcessesOf(dir2).length === 0, 'VMs deleted', 60_000)
      },
    )
  },
)
