/**
 * Secrets are never returned and never logged (issue 8, docs/security.md): a real `osroll serve`
 * at debug log level is given an admin password, an extension's protectedSettings and custom
 * data, is called with good and bad tokens, and refuses a malformed request; neither its
 * answers nor anything it printed holds the password, the protected settings or a token.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startServe } from '../../test-support/serve-process.js'
import type { ServeProcess } from '../../test-support/serve-process.js'
import {
  armPaths,
  autoUpgradeSetBody,
  createResourceGroup,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'
import { waitFor } from '../../test-support/api-harness.js'

const dir = mkdtempSync(join(tmpdir(), 'osroll-secrets-'))
let server: ServeProcess | null = null
afterAll(async () => {
  await server?.stop('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
})

describe('secrets', () => {
  it('are never returned nor logged', { timeout: 60_000 }, async () => {
    server = await startServe(dir, [], { OSROLL_LOG_LEVEL: 'debug' })
    const s = server
    const p = armPaths(s.subscriptionId)
    await createResourceGroup(s.call, s.subscriptionId)
    await s.call('PUT', p.image('1.0.0'), imageBody('sim:?boot=0'))
    await s.call('PUT', p.lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }))
    const body = autoUpgradeSetBody({ sub: s.subscriptionId, capacity: 2, probe: 'tcp' }) as any
    const vmp = body.properties.virtualMachineProfile
    vmp.osProfile = {
      computerNamePrefix: 'web',
      adminUsername: 'azure',
      adminPassword: 'Pa55-w0rd-XYZZY',
    }
    vmp.extensionProfile = {
      extensions: [
        {
          name: 'script',
          properties: {
            publisher: 'Microsoft.Azure.Extensions',
            type: 'CustomScript',
            typeHandlerVersion: '2.1',
            settings: { commandToExecute: 'true' },
            protectedSettings: { storageAccountKey: 'PROTECTED-KEY-PLUGH' },
          },
        },
      ],
    }
    expect((await s.call('PUT', p.set(), body)).status).toBe(201)
    await waitFor(
      async () => (await s.call('GET', p.set())).body.properties?.provisioningState === 'Succeeded',
      'set',
      30_000,
    )
    const answers = [
      await s.call('GET', p.set()),
      await s.call(
        'GET',
        `/subscriptions/${s.subscriptionId}/providers/Microsoft.Compute/virtualMachineScaleSets`,
      ),
      await s.call('GET', `${p.set()}/virtualMachines?$expand=instanceView`),
      await s.call('PATCH', p.set(), { sku: { capacity: 'three' } }),
    ]
    // A bad token and a malformed body, sent by hand.
    await fetch(`${s.url}${p.set()}?api-version=2024-07-01`, {
      headers: { authorization: 'Bearer osr_WRONG-TOKEN-QUUX' },
    })
    await fetch(`${s.url}${p.set()}?api-version=2024-07-01`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
      body: '{"adminPassword": "Pa55-w0rd-XYZZY"',
    })
    const said = JSON.stringify(answers.map((a) => a.body))
    for (const secret of ['Pa55-w0rd-XYZZY', 'PROTECTED-KEY-PLUGH'])
      expect(said).not.toContain(secret)
    const log = s.output()
    expect(log.length).toBeGreaterThan(0)
    for (const secret of [
      'Pa55-w0rd-XYZZY',
      'PROTECTED-KEY-PLUGH',
      s.token,
      'osr_WRONG-TOKEN-QUUX',
    ])
      expect(log).not.toContain(secret)
  })
})
