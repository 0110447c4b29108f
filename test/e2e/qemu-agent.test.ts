/**
 * The guest agent end to end, through the API on one real QEMU VM (issue 19 §7): a Custom
 * Script runs inside the guest and its output shows in the instance view; the Application
 * Health extension, the set's health source, is probed in the guest and reported by the agent;
 * a model whose script fails shows it Failed with its exit code, and fails provisioning; the
 * instance view names the accelerator the VM runs under; Custom Script fileUris are fetched by
 * osroll and run in the guest, and one that answers 404 fails the extension. Skipped,
 * saying why, where QEMU or the Debian kernel package is missing.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import { armPaths, autoUpgradeSetBody } from '../../test-support/arm-fixtures.js'
import {
  QEMU_MISSING as missing,
  filesUnder,
  killQemuOf,
  qemuSample,
} from '../../test-support/qemu.js'

const work = mkdtempSync(join(tmpdir(), 'osroll-e2e-agent-'))
let h: Awaited<ReturnType<typeof apiHarness>> | undefined

/** The fileUris' server, on this test's loopback range (127.93.0.0/16). */
const files = { server: null as Server | null, host: '' }

beforeAll(async () => {
  if (missing.length > 0) return
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/scripts/greet.sh?'))
      res.end('echo "greet.sh ran on $(hostname) in $(pwd)"\n')
    else res.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.93.0.1', r))
  files.server = server
  files.host = `127.93.0.1:${(server.address() as AddressInfo).port}`
  h = await apiHarness({
    fabric: 'qemu',
    healthDeadline: 'PT60S',
    // The fileUris' server is on loopback, which fileUris may reach only when allowed.
    config: { qemuAccel: 'tcg', fileUriAllowLocal: 'true' },
  })
})
afterAll(async () => {
  files.server?.close()
  try {
    if (h) await h.call('DELETE', armPaths(h.sub).set())
  } finally {
    const dir = h?.dataDir
    await h?.close()
    if (dir) killQemuOf(dir) // whatever happened above, no VM of this test outlives it
    rmSync(work, { recursive: true, force: true })
  }
})

const health = {
  name: 'health',
  properties: {
    publisher: 'Microsoft.ManagedServices',
    type: 'ApplicationHealthLinux',
    typeHandlerVersion: '2.0',
    settings: { protocol: 'http', port: 8080, requestPath: '/health', intervalInSeconds: 5 },
  },
}
const script = (command: string) => ({
  name: 'install',
  properties: {
    publisher: 'Microsoft.Azure.Extensions',
    type: 'CustomScript',
    typeHandlerVersion: '2.1',
    provisionAfterExtensions: ['health'],
    settings: { commandToExecute: command },
  },
})

describe.skipIf(missing.length > 0)(
  `the guest agent on a real VM${missing.length > 0 ? ` (skipped: ${missing.join(', ')} missing)` : ''}`,
  () => {
    it(
      'runs Custom Script and its fetched fileUris in the guest, reports in-guest Application Health, and fails a failing script and a failed download',
      { timeout: 300_000 },
      async () => {
        const { call, sub, dataDir } = h as NonNullable<typeof h>
        const p = armPaths(sub)
        const uri = await qemuSample(work, '1.0.0')
        const image = await call('PUT', p.image('1.0.0'), {
          body: { location: 'westus', properties: { source: { uri } } },
        })
        expect(image.status, JSON.stringify(image.body)).toBe(201)
        // No load-balancer probe: the Application Health extension is the health source.
        const body = autoUpgradeSetBody({ sub, capacity: 1, probe: 'none' }) as any
        const vmp = body.properties.virtualMachineProfile
        delete vmp.networkProfile
        vmp.osProfile = { computerNamePrefix: 'web', adminUsername: 'osroll' }
        const withScript = (command: string) => {
          vmp.extensionProfile = { extensions: [health, script(command)] }
          return body
        }
        const ok = 'echo "installed on $(hostname), in $(pwd)"'
        const created = await call('PUT', p.set(), { body: withScript(ok) })
        expect(created.status, JSON.stringify(created.body)).toBe(201)
        const view = async () =>
          (await call('GET', `${p.set()}/virtualMachines/0/instanceView`)).body as any
        const statusOf = (v: any, name: string) =>
          v.extensions?.find((e: any) => e.name === name)?.statuses?.[0]
        const provisioned = await waitFor(
          async () => {
            const v = await view()
            return v.vmHealth?.status?.code === 'HealthState/healthy' && v
          },
          'a healthy VM whose extensions the agent ran',
          120_000,
        )
        expect(statusOf(provisioned, 'install')).toMatchObject({
          code: 'ProvisioningState/succeeded',
          message: 'Enable succeeded: installed on web000000, in /var/lib/osroll/extensions/1\n',
        })
        expect(statusOf(provisioned, 'health')).toMatchObject({
          code: 'ProvisioningState/succeeded',
        })
        // The accelerator, after Azure's own statuses (docs/api.md § Instances and their views).
        expect(provisioned.statuses.map((s: any) => s.code)).toEqual([
          'ProvisioningState/succeeded',
          'PowerState/running',
          'Osroll/Accelerator/tcg',
        ])
        expect(provisioned.statuses[2]).toEqual({
          code: 'Osroll/Accelerator/tcg',
          level: 'Info',
          displayStatus: 'VM under TCG (software emulation)',
          message: 'asked for (--qemu-accel tcg)',
        })
        const setView = (await call('GET', `${p.set()}/instanceView`)).body as any
        expect(setView.virtualMachine.statusesSummary).toContainEqual({
          code: 'Osroll/Accelerator/tcg',
          count: 1,
        })
        // The health is the agent's own, probed in the guest.
        // (The host's probe can say healthy before the agent's first report: wait for that.)
        const agent = await waitFor(
          async () => {
            const [file] = filesUnder(join(dataDir, 'vms'), 'agent.json')
            const a = file && JSON.parse(readFileSync(join(dataDir, 'vms', file), 'utf8'))
            return a?.health?.state === 'healthy' && a
          },
          'the agent reporting its in-guest probe',
          30_000,
        )
        expect(agent.health).toMatchObject({ state: 'healthy', last: 'healthy' })

        // A new model whose script fails: run again in place by the agent, Failed with its code.
        const bad = 'echo "cannot install" >&2; exit 7'
        const updated = await call('PUT', p.set(), { body: withScript(bad) })
        expect(updated.status, JSON.stringify(updated.body)).toBeLessThan(300)
        await call('POST', `${p.set()}/manualupgrade`, { body: { instanceIds: ['0'] } })
        const failed = await waitFor(
          async () => {
            const v = await view()
            return statusOf(v, 'install')?.code === 'ProvisioningState/failed' && v
          },
          'the failing script, reported by the agent',
          90_000,
        )
        expect(statusOf(failed, 'install').message).toBe(
          'The command exited with code 7: cannot install\n',
        )
        expect(failed.statuses[0]).toMatchObject({
          code: 'ProvisioningState/failed',
          message: `VM has reported a failure when processing extension 'install'. Error message: "The command exited with code 7: cannot install\n"`,
        })

        // fileUris: osroll fetches them on the host, the agent copies them in, the command runs
        // them in the guest; then a URI that answers 404 fails the extension as on local.
        const withFiles = (uri: string) => {
          const b = withScript('sh greet.sh')
          b.properties.virtualMachineProfile.extensionProfile.extensions[1].properties.settings.fileUris =
            [uri]
          return b
        }
        const applyModel = async (b: unknown, state: string, what: string) => {
          const put = await call('PUT', p.set(), { body: b })
          expect(put.status, JSON.stringify(put.body)).toBeLessThan(300)
          await call('POST', `${p.set()}/manualupgrade`, { body: { instanceIds: ['0'] } })
          return waitFor(
            async () => {
              const v = await view()
              return statusOf(v, 'install')?.code === `ProvisioningState/${state}` && v
            },
            what,
            90_000,
          )
        }
        const fetched = await applyModel(
          withFiles(`http://${files.host}/scripts/greet.sh?sig=secret-token`),
          'succeeded',
          'the fetched script, run in the guest',
        )
        expect(statusOf(fetched, 'install').message).toBe(
          'Enable succeeded: greet.sh ran on web000000 in /var/lib/osroll/extensions/1\n',
        )
        const missingFile = await applyModel(
          withFiles(`http://${files.host}/scripts/missing.sh?sig=secret-token`),
          'failed',
          'the extension whose file answers 404',
        )
        const why = `Failed to download file 'http://${files.host}/scripts/missing.sh?***': the server answered HTTP 404`
        expect(statusOf(missingFile, 'install').message).toBe(why)
        expect(missingFile.statuses[0]).toMatchObject({
          code: 'ProvisioningState/failed',
          message: `VM has reported a failure when processing extension 'install'. Error message: "${why}"`,
        })
        expect(JSON.stringify(missingFile)).not.toContain('secret-token')
      },
    )
  },
)
