/**
 * End to end through the API on the local fabric (issue 4): a 10-instance scale set of the
 * sample image rolls v1 → v2 automatically, then the broken v3 is rolled back — every instance
 * serves v2 again — and the rollout ends Faulted. Real processes, real probes.
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

const work = mkdtempSync(join(tmpdir(), 'osroll-e2e-local-'))
let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
let sub: string
const set = () => armPaths(sub).set()
const publish = (version: string, health: 'healthy' | 'unhealthy' = 'healthy') =>
  call('PUT', armPaths(sub).image(version), {
    body: imageBody(sampleImage(work, { version, health })),
  })

beforeAll(async () => {
  h = await apiHarness({
    fabric: 'local',
    healthDeadline: 'PT10S',
    // Its own /16, so that files running side by side never share an address.
    config: { addressRange: '127.89.0.0/16' },
  })
  call = h.call
  sub = h.sub
})
afterAll(async () => {
  await call('DELETE', set())
  await h.close()
  rmSync(work, { recursive: true, force: true })
}, 60_000) // stopping the instances and servers can take over the default 10 s on a loaded machine

describe('local fabric through the API', () => {
  it(
    'rolls 1.0.0 → 1.1.0, then rolls the broken 1.2.0 back and ends Faulted',
    { timeout: 120_000 },
    async () => {
      expect((await publish('1.0.0')).status).toBe(201)
      const noBoot = mkdtempSync(join(work, 'noboot-'))
      const bad = await call('PUT', armPaths(sub).image('0.9.0'), {
        body: imageBody(`file://${noBoot}`),
      })
      expect(bad).toMatchObject({
        status: 400,
        body: { error: { code: 'InvalidParameter', target: 'properties.source.uri' } },
      })
      expect(bad.body.error.message).toContain("no 'boot' file")
      await call('PUT', armPaths(sub).lb, {
        body: loadBalancerBody(HTTP_HEALTH_PROBE),
      })
      const created = await call('PUT', set(), {
        body: autoUpgradeSetBody({ sub, capacity: 10, probe: 'http', dataDisk: true }),
      })
      expect(created.status).toBe(201)
      const get = async (path: string) => (await call('GET', path)).body
      const healthyAll = () => healthyInstances(get, set(), 10)
      await waitFor(healthyAll, 'ten healthy instances', 60_000)
      const ips = await privateAddresses(get, set())
      const answers = async () =>
        Promise.all(ips.map(async (ip) => (await fetch(`http://${ip}:8080/`)).text()))
      expect((await answers()).every((a) => a.includes('runs image 1.0.0'))).toBe(true)

      await publish('1.1.0')
      const [done] = await waitFor(
        async () => {
          const v = (await call('GET', `${set()}/osUpgradeHistory`)).body.value as any[]
          return v[0]?.properties.runningStatus.code === 'Completed' && v
        },
        'rollout to 1.1.0',
        90_000,
      )
      expect(done.properties.progress).toMatchObject({
        successfulInstanceCount: 10,
        failedInstanceCount: 0,
      })
      const after = await answers()
      expect(after.every((a) => a.includes('runs image 1.1.0; boot 2'))).toBe(true) // data disk kept the count

      await publish('1.2.0', 'unhealthy')
      const [faulted] = await waitFor(
        async () => {
          const v = (await call('GET', `${set()}/osUpgradeHistory`)).body.value as any[]
          return v.length === 2 && v[0].properties.runningStatus.code !== 'RollingForward' && v
        },
        'rollout to 1.2.0',
        90_000,
      )
      expect(faulted.properties).toMatchObject({
        runningStatus: { code: 'Faulted' },
        rollbackInfo: { successfullyRolledbackInstanceCount: 2, failedRolledbackInstanceCount: 0 },
        error: { code: 'MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade' },
      })
      await waitFor(healthyAll, 'all healthy again', 30_000)
      const diag = await call('GET', `${set()}/virtualMachines/0/bootDiagnostics`)
      expect(diag.body.consoleLog).toMatch(/sample web 1\.1\.0 listening on 127\.89\./)
      expect((await call('GET', `${set()}/virtualMachines/99/bootDiagnostics`)).status).toBe(404)
      // The probe's last answer may predate a rolled-back instance's restart: ask until all answer.
      const back = await waitFor(
        () => answers().catch(() => false as const),
        'every instance answering',
        30_000,
      )
      expect(back.every((a) => a.includes('runs image 1.1.0'))).toBe(true)
    },
  )
})
