/**
 * A declarative tool's run against osroll (issue 18, "What it must show"): the unmodified
 * @azure/arm-resources, @azure/arm-network and @azure/arm-compute create a group, a VNet with a
 * subnet, a load balancer with a probe and a backend pool, and a scale set in that subnet behind
 * that pool; read everything back and re-apply it, which changes nothing; scale the set, enable
 * automatic OS upgrades; and delete the group with everything in it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { startServe } from '../../test-support/serve-process.js'
import type { ServeProcess } from '../../test-support/serve-process.js'
import { runSdkScript } from '../../test-support/sdk-script.js'

const dir = mkdtempSync(join(tmpdir(), 'osroll-sdk-decl-'))
let server: ServeProcess | null = null
afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('a declarative run through the Azure SDK for JS', () => {
  it(
    'creates, re-applies as a no-op, scales, enables upgrades and deletes',
    { timeout: 120_000 },
    async () => {
      server = await startServe(dir, ['--tls', 'self-signed'])
      const script = fileURLToPath(new URL('./azure-sdk-declarative-client.ts', import.meta.url))
      const seen = await runSdkScript(server, dir, script)
      const net = `/subscriptions/${server.subscriptionId}/resourceGroups/decl/providers/Microsoft.Network`
      const subnet = `${net}/virtualNetworks/vnet/subnets/web`
      const gone = { statusCode: 404, code: 'ResourceGroupNotFound' }
      expect(seen).toEqual({
        published: 201,
        created: {
          vnet: ['Succeeded', [subnet]],
          lb: ['Succeeded', [`${net}/loadBalancers/lb/backendAddressPools/pool`]],
          set: ['Succeeded', 'Standard'],
        },
        // Applying what was read back changes nothing: same etags, no rollout, `latest` kept.
        reapplied: {
          vnet: true,
          lb: true,
          set: true,
          imageReference: {
            publisher: 'Canonical',
            offer: 'UbuntuServer',
            sku: '18.04-LTS',
            version: 'latest',
          },
        },
        rolloutsAfterReapply: 0,
        enabled: true,
        instances: 3,
        // Instance addresses come from the subnet's prefix, from .4 up, as on Azure.
        addresses: ['10.1.0.4', '10.1.0.5', '10.1.0.6'].map((address) => ({ subnet, address })),
        groupAfter: false,
        after: [gone, gone, gone],
      })
    },
  )
})
