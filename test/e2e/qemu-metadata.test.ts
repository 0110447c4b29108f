/**
 * The metadata service end to end, through the API on a real QEMU VM (issue 19 §6): the guest
 * reads its own instance document at 169.254.169.254 (the API's name and vmId, the exact image
 * version), a request without `Metadata: true` is refused, and with `osRollingUpgradeDeferral`
 * an OS rollout announces a Reimage event that the guest approves itself: the reimage goes
 * ahead long before NotBefore, with no approveRollingUpgrade call. Skipped, saying why, where
 * QEMU or the Debian kernel package is missing.
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
} from '../../test-support/arm-fixtures.js'
import { QEMU_MISSING as missing, killQemuOf, qemuSample } from '../../test-support/qemu.js'

const work = mkdtempSync(join(tmpdir(), 'osroll-e2e-imds-'))
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
    if (dir) killQemuOf(dir) // whatever happened above, no VM of this test outlives it
    rmSync(work, { recursive: true, force: true })
  }
})

/**
 * Custom data (once per OS disk): the guest asks for its document, then asks without the
 * header, writing each answer on the console; then it asks /sbin/init to approve its
 * scheduled events as they come.
 */
const CUSTOM_DATA = [
  '#!/bin/sh',
  "u='http://169.254.169.254/metadata/instance?api-version=2021-02-01'",
  'echo "IMDS-DOC $(wget -q -O - --header "Metadata: true" "$u")" > /dev/ttyS0',
  "printf 'GET /metadata/instance?api-version=2021-02-01 HTTP/1.0\\r\\n\\r\\n' | nc 169.254.169.254 80 > /tmp/r",
  'echo "IMDS-NOHEADER $(head -n 1 /tmp/r | tr -d "\\r") $(tail -n 1 /tmp/r)" > /dev/ttyS0',
  'touch /var/lib/osroll/approve-scheduled-events',
  '',
].join('\n')

describe.skipIf(missing.length > 0)(
  `the metadata service on a real VM${missing.length > 0 ? ` (skipped: ${missing.join(', ')} missing)` : ''}`,
  () => {
    it(
      'answers the VM about itself, refuses without Metadata: true, and lets the guest approve its Reimage',
      { timeout: 600_000 },
      async () => {
        const { call, sub } = h as NonNullable<typeof h>
        const p = armPaths(sub)
        const publish = async (version: string) => {
          const uri = await qemuSample(work, version)
          const r = await call('PUT', p.image(version), {
            body: { location: 'westus', properties: { source: { uri } } },
          })
          expect(r.status, JSON.stringify(r.body)).toBe(201)
        }
        await publish('1.0.0')
        await call('PUT', p.lb, { body: loadBalancerBody(HTTP_HEALTH_PROBE) })
        const body = autoUpgradeSetBody({ sub, capacity: 1, probe: 'http' }) as any
        body.properties.upgradePolicy.automaticOSUpgradePolicy.osRollingUpgradeDeferral = true
        body.properties.virtualMachineProfile.osProfile = {
          computerNamePrefix: 'web',
          adminUsername: 'osroll',
          customData: Buffer.from(CUSTOM_DATA).toString('base64'),
        }
        const created = await call('PUT', p.set(), { body })
        expect(created.status, JSON.stringify(created.body)).toBe(201)
        const get = async (path: string) => (await call('GET', path)).body
        await waitFor(() => healthyInstances(get, p.set(), 1), 'a healthy VM', 120_000)
        const consoleLog = async () =>
          String((await get(`${p.set()}/virtualMachines/0/bootDiagnostics`)).consoleLog ?? '')
        const line = async (prefix: string) =>
          waitFor(
            async () =>
              (await consoleLog())
                .split(/\r?\n/)
                .find((l) => l.startsWith(prefix))
                ?.slice(prefix.length) ?? false,
            `the console line ${prefix}`,
            60_000,
          )

        const vm = await get(`${p.set()}/virtualMachines/0`)
        const doc = JSON.parse(await line('IMDS-DOC '))
        expect(doc.compute).toMatchObject({
          name: 'web_0',
          vmId: vm.properties.vmId,
          vmScaleSetName: 'web',
          resourceGroupName: 'rg',
          subscriptionId: sub,
          version: '1.0.0',
          storageProfile: { imageReference: { exactVersion: '1.0.0' } },
        })
        expect(await line('IMDS-NOHEADER ')).toBe(
          'HTTP/1.1 400 Bad Request {"error":"Bad request. Required metadata header not specified"}',
        )

        const startedAtMs = Date.now()
        await publish('1.1.0')
        const approved = await line('osroll-guest: approving scheduled event ')
        expect(approved).toMatch(/^[0-9a-f-]{36}$/)
        const [done] = await waitFor(
          async () => {
            const v = (await get(`${p.set()}/osUpgradeHistory`)).value as any[]
            return v[0]?.properties.runningStatus.code === 'Completed' && v
          },
          'the deferred rollout, approved by the guest',
          300_000,
        )
        expect(done.properties.progress.successfulInstanceCount).toBe(1)
        // NotBefore is 15 minutes after the rollout's start: the guest's approval came first.
        expect(Date.now() - startedAtMs).toBeLessThan(15 * 60_000)
        const after = await get(`${p.set()}/virtualMachines/0`)
        expect(after.properties.storageProfile.imageReference.exactVersion).toBe('1.1.0')
        expect(after.tags?.['Platform.PendingOSUpgrade']).toBeUndefined()
      },
    )
  },
)
