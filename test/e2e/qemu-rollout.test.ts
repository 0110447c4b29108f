/**
 * End to end through the API on real QEMU VMs (issue 19): a 4-instance set with a data disk and
 * an HTTP probe rolls 1.0.0 → 1.1.0 automatically (every VM then serves 1.1.0 and boot 2, on the
 * same private address: its data disk survived), a broken 1.2.0 is rolled back and the rollout
 * ends Faulted with every VM serving 1.1.0 again, and deleting the set leaves no QEMU process and
 * no disk behind. Skipped, saying why, where QEMU or the Debian kernel package is missing.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import {
  armPaths,
  autoUpgradeSetBody,
  loadBalancerBody,
  HTTP_HEALTH_PROBE,
  healthyInstances,
  privateAddresses,
} from '../../test-support/arm-fixtures.js'
import {
  QEMU_MISSING as missing,
  filesUnder,
  killQemuOf,
  qemuProcessesOf,
  qemuSample,
} from '../../test-support/qemu.js'

const work = mkdtempSync(join(tmpdir(), 'osroll-e2e-qemu-'))
let h: Awaited<ReturnType<typeof apiHarness>> | undefined

beforeAll(async () => {
  if (missing.length > 0) return
  h = await apiHarness({ fabric: 'qemu', healthDeadline: 'PT60S', config: { qemuAccel: 'tcg' } })
})
afterAll(async () => {
  try {
    if (h) await h.call('DELETE', armPaths(h.sub).set())
  } finally {
    const dir = h?.dataDir
    await h?.close()
    // Whatever happened above, no VM of this test outlives it.
    if (dir) killQemuOf(dir)
    rmSync(work, { recursive: true, force: true })
  }
})

describe.skipIf(missing.length > 0)(
  `qemu fabric through the API${missing.length > 0 ? ` (skipped: ${missing.join(', ')} missing)` : ''}`,
  () => {
    it(
      'rolls 1.0.0 → 1.1.0 on 4 VMs, rolls the broken 1.2.0 back, and deletes without a trace',
      { timeout: 900_000 },
      async () => {
        const { call, sub, dataDir } = h as NonNullable<typeof h>
        const p = armPaths(sub)
        const publish = async (version: string, health: 'healthy' | 'unhealthy' = 'healthy') => {
          const uri = await qemuSample(work, version, health)
          const r = await call('PUT', p.image(version), {
            body: { location: 'westus', properties: { source: { uri } } },
          })
          expect(r.status, JSON.stringify(r.body)).toBe(201)
        }
        await publish('1.0.0')
        await call('PUT', p.lb, {
          body: loadBalancerBody(HTTP_HEALTH_PROBE),
        })
        const created = await call('PUT', p.set(), {
          body: autoUpgradeSetBody({ sub, capacity: 4, probe: 'http', dataDisk: true }),
        })
        expect(created.status, JSON.stringify(created.body)).toBe(201)
        /** A wait that, when it times out, says where the rollout and the VMs were. */
        const explained = async <T>(wait: Promise<T>): Promise<T> => {
          try {
            return await wait
          } catch (err) {
            const latest = (await call('GET', `${p.set()}/rollingUpgrades/latest`)).body
            const vms = (await call('GET', `${p.set()}/virtualMachines?$expand=instanceView`)).body
              .value as any[]
            const states = vms.map((v) => ({
              id: v.instanceId,
              version: v.properties.storageProfile?.imageReference?.exactVersion,
              health: v.properties.instanceView?.vmHealth?.status?.code,
              statuses: v.properties.instanceView?.statuses?.map((x: any) => x.code),
            }))
            throw new Error(
              `${(err as Error).message}: latest ${JSON.stringify(latest.properties ?? latest)}; VMs ${JSON.stringify(states)}`,
            )
          }
        }
        const get = async (path: string) => (await call('GET', path)).body
        const healthyAll = () => healthyInstances(get, p.set(), 4)
        await waitFor(healthyAll, 'four healthy VMs', 120_000)
        const addresses = () => privateAddresses(get, p.set())
        const ips = await addresses()
        expect(new Set(ips).size).toBe(4)
        const answers = async () =>
          Promise.all(ips.map(async (ip) => (await fetch(`http://${ip}:8080/`)).text()))
        expect((await answers()).every((a) => a.includes('runs image 1.0.0; boot 1'))).toBe(true)
        expect(qemuProcessesOf(dataDir)).toHaveLength(4)

        await publish('1.1.0')
        const history = async () =>
          (await call('GET', `${p.set()}/osUpgradeHistory`)).body.value as any[]
        const [done] = await explained(
          waitFor(
            async () => {
              const v = await history()
              return v[0]?.properties.runningStatus.code === 'Completed' && v
            },
            'rollout to 1.1.0',
            360_000,
          ),
        )
        expect(done.properties.progress).toMatchObject({
          successfulInstanceCount: 4,
          failedInstanceCount: 0,
        })
        expect(await addresses()).toEqual(ips)
        // boot 2: each VM's data disk kept the count across the reimage
        expect((await answers()).every((a) => a.includes('runs image 1.1.0; boot 2'))).toBe(true)

        await publish('1.2.0', 'unhealthy')
        const [faulted] = await explained(
          waitFor(
            async () => {
              const v = await history()
              return v.length === 2 && v[0].properties.runningStatus.code !== 'RollingForward' && v
            },
            'rollout to 1.2.0',
            360_000,
          ),
        )
        expect(faulted.properties).toMatchObject({
          runningStatus: { code: 'Faulted' },
          rollbackInfo: {
            successfullyRolledbackInstanceCount: 1,
            failedRolledbackInstanceCount: 0,
          },
          error: { code: 'MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade' },
        })
        await waitFor(healthyAll, 'all healthy again', 120_000)
        expect((await answers()).every((a) => a.includes('runs image 1.1.0'))).toBe(true)
        const diag = await call('GET', `${p.set()}/virtualMachines/0/bootDiagnostics`)
        expect(diag.status).toBe(200)
        expect(qemuProcessesOf(dataDir)).toHaveLength(4)

        const deleted = await call('DELETE', p.set())
        expect(deleted.status).toBeLessThan(300)
        await waitFor(
          async () => (await call('GET', p.set())).status === 404,
          'the set deleted',
          60_000,
        )
        await waitFor(async () => qemuProcessesOf(dataDir).length === 0, 'no QEMU process', 30_000)
        expect(filesUnder(join(dataDir, 'vms'), '.qcow2')).toEqual([])
        expect(filesUnder(join(dataDir, 'vms'), '.iso')).toEqual([])
      },
    )
  },
)
