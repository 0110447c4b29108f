/**
 * The real Azure SDK (issue 3, SPEC §8.1): unmodified @azure/arm-compute 24 drives
 * `osroll serve --tls self-signed` — create/get/patch with LRO polling, an OS rollout to
 * completion, getLatest, cancel, paged history, the image list and a 404 — and
 * @azure/arm-resources 7 the resource group around them (issue 18 §1): checkExistence, create,
 * list, the group's resources, and a delete polled to its end that takes the set with it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { startServe } from '../../test-support/serve-process.js'
import type { ServeProcess } from '../../test-support/serve-process.js'
import { runSdkScript } from '../../test-support/sdk-script.js'

const dir = mkdtempSync(join(tmpdir(), 'osroll-sdk-'))
let server: ServeProcess | null = null
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('@azure/arm-compute against osroll serve --tls self-signed', () => {
  it('works unmodified', { timeout: 120_000 }, async () => {
    server = await startServe(dir, ['--tls', 'self-signed'])
    expect(server.url).toMatch(/^https:\/\//)
    const script = fileURLToPath(new URL('./azure-sdk-client.ts', import.meta.url))
    const seen = await runSdkScript(server, dir, script)
    expect(seen).toEqual({
      groupBefore: false,
      group: {
        id: `/subscriptions/${server!.subscriptionId}/resourceGroups/rg`,
        name: 'rg',
        location: 'westus',
        tags: { by: 'sdk' },
        provisioningState: 'Succeeded',
      },
      created: { name: 'sdk', provisioningState: 'Succeeded' },
      exactVersion: '1.0.0',
      patchedTags: { team: 'sdk' },
      latest: { code: 'Completed', successful: 3 },
      cancelled: { code: 'Cancelled', lastAction: 'Cancel' },
      startAfterCancel: expect.any(String),
      history: ['Cancelled', 'Completed'],
      imageVersions: ['1.0.0', '1.1.0', '1.2.0'],
      notFound: { statusCode: 404, code: 'ResourceNotFound' },
      held: ['Microsoft.Compute/virtualMachineScaleSets/sdk', 'Microsoft.Network/loadBalancers/lb'],
      groups: ['rg'],
      groupAfter: false,
      setAfter: { statusCode: 404, code: 'ResourceGroupNotFound' },
    })
  })
})
