/**
 * Rollout rules of issue 18's seed letter, through the API on the sim fabric, each written from
 * the seed's sentence it enforces (docs/rollouts.md R1.3, R3.4).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import {
  armPaths,
  autoUpgradeSetBody,
  createSimFleet,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'
import type { SimFabric } from '../../src/fabrics/sim/sim-fabric.js'

// A fresh osroll per test: the platform image catalog is shared by every set of one.
let h: Awaited<ReturnType<typeof apiHarness>>
beforeEach(async () => {
  h = await apiHarness({ healthDeadline: 'PT10S' })
})
afterEach(() => h.close())

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function history(set: string): Promise<string[]> {
  const r = await h.call('GET', `${set}/osUpgradeHistory`)
  return (r.body.value as any[]).map(
    (e) => `${e.properties.targetImageReference.version} ${e.properties.runningStatus.code}`,
  )
}

async function put(path: string, body: unknown): Promise<void> {
  const r = await h.call('PUT', path, { body })
  if (r.status >= 300) throw new Error(`PUT ${path}: ${r.status} ${JSON.stringify(r.body)}`)
}

describe('gap 3: a durability mismatch that appears after the rollout started', () => {
  // The seed: "Ensure that durability settings are not mismatched on the Service Fabric cluster
  // and Service Fabric extension, as a mismatch will result in upgrade errors."
  it(
    'the node type changed to Gold while the extension still says Silver: the next batch does not start and the rollout ends Faulted with the mismatch message',
    { timeout: 60_000 },
    async () => {
      const p = armPaths(h.sub)
      const cluster = `/subscriptions/${h.sub}/resourceGroups/rg/providers/Microsoft.ServiceFabric/clusters/sf`
      const nodeTypes = (durabilityLevel: string) => ({
        location: 'westus',
        properties: { nodeTypes: [{ name: 'nt1', durabilityLevel, isPrimary: true }] },
      })
      await put(cluster, nodeTypes('Silver'))
      await put(p.image('1.0.0'), imageBody('sim:?boot=0'))
      const body = autoUpgradeSetBody({ sub: h.sub, capacity: 3, probe: 'none' }) as any
      delete body.properties.virtualMachineProfile.networkProfile
      body.properties.virtualMachineProfile.extensionProfile = {
        extensions: [
          {
            name: 'sf',
            properties: {
              publisher: 'Microsoft.Azure.ServiceFabric',
              type: 'ServiceFabricNode',
              typeHandlerVersion: '1.1',
              settings: { clusterEndpoint: cluster, nodeTypeRef: 'nt1', durabilityLevel: 'Silver' },
            },
          },
        ],
      }
      const set = p.set('sfweb')
      await put(set, body)
      await put(p.image('1.1.0'), imageBody('sim:?boot=3'))
      await waitFor(
        async () => (await history(set))[0] === '1.1.0 RollingForward',
        'the rollout to start',
      )
      await put(cluster, nodeTypes('Gold')) // during batch 1 (update domain 0)
      await waitFor(async () => (await history(set))[0] === '1.1.0 Faulted', 'the fault', 30_000)
      const latest = await h.call('GET', `${set}/rollingUpgrades/latest`)
      expect(latest.body.properties.error).toMatchObject({
        code: 'OperationNotAllowed',
        message:
          'Durability Mismatch Detected for NodeType nt1. VMSS Durability Silver does not match the current SFRP NodeType durability level Gold',
      })
      expect(latest.body.properties.progress).toMatchObject({
        successfulInstanceCount: 1,
        pendingInstanceCount: 2,
      })
    },
  )
})

describe('gap 4: what a fault leaves, and what releases it', () => {
  it(
    'a rollout stopped by unrelated unhealthy instances is retried once the set is healthy again',
    { timeout: 90_000 },
    async () => {
      // The seed: "If more than 20% of the scale set's instances become unhealthy [for any
      // reason], the scale set upgrade stops" — and the issue: it must be retried once the set
      // is healthy again, not blocked as if the image had failed.
      const p = armPaths(h.sub)
      await createSimFleet((m, path, body) => h.call(m, path, { body }), h.sub, {
        capacity: 5,
        name: 'maint',
      })
      const set = p.set('maint')
      const key = set.toLowerCase()
      await waitFor(
        async () => (await h.call('GET', `${set}/virtualMachines`)).body.value?.length === 5,
        'five instances',
      )
      const fabric = h.sys.deps.fabric as SimFabric
      for (const id of ['0', '1']) await fabric.setHealthOverride(key, id, 'unhealthy') // 40%
      await put(p.image('1.1.0'), imageBody('sim:?boot=0'))
      await waitFor(async () => (await history(set))[0] === '1.1.0 Faulted', 'the stop', 20_000)
      const latest = await h.call('GET', `${set}/rollingUpgrades/latest`)
      expect(latest.body.properties.error.code).toBe(
        'MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade',
      )
      await sleep(1000)
      expect(await history(set)).toEqual(['1.1.0 Faulted']) // held while they are unhealthy
      for (const id of ['0', '1']) await fabric.setHealthOverride(key, id, null)
      await waitFor(
        async () => (await history(set)).join() === '1.1.0 Completed,1.1.0 Faulted',
        // Sim instances report health as state, not events: the set sees it at its next
        // pass, at the latest the orchestrator's 30 s resync (a prober's change wakes it at once).
        'the retry once healthy',
        45_000,
      )
    },
  )

  it(
    'a model change that fixes the failed extension releases the faulted version for one new attempt; another change does not',
    { timeout: 60_000 },
    async () => {
      // The seed's recovery path: "Update the extensions in the scale set model with the new
      // tokens. Deploy the updated scale set, which will update all VM instances."
      const p = armPaths(h.sub)
      await put(p.image('1.0.0'), imageBody('sim:?boot=0'))
      await put(p.lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }))
      const body = autoUpgradeSetBody({ sub: h.sub, capacity: 2, probe: 'tcp' }) as any
      const withModel = (sig: string, customData?: string) => {
        const vmp = body.properties.virtualMachineProfile
        return {
          ...body,
          properties: {
            ...body.properties,
            virtualMachineProfile: {
              ...vmp,
              ...(customData ? { osProfile: { customData } } : {}),
              extensionProfile: {
                extensions: [
                  {
                    name: 'install',
                    properties: {
                      publisher: 'Microsoft.Azure.Extensions',
                      type: 'CustomScript',
                      typeHandlerVersion: '2.1',
                      settings: { fileUris: [`https://example.invalid/install.sh?sig=${sig}`] },
                    },
                  },
                ],
              },
            },
          },
        }
      }
      const set = p.set('ext')
      await put(set, withModel('expired'))
      const v = '1.2.0'
      await put(p.image(v), imageBody('sim:?boot=0&extfail=install'))
      const mine = async () => (await history(set)).filter((e) => e.startsWith(v))
      await waitFor(async () => (await mine())[0] === `${v} Faulted`, 'the first fault', 20_000)
      const latest = await h.call('GET', `${set}/rollingUpgrades/latest`)
      expect(latest.body.properties.error.message).toContain("processing extension 'install'")

      await put(set, withModel('expired', Buffer.from('#!/bin/sh\ntrue\n').toString('base64')))
      await sleep(1500)
      expect(await mine()).toEqual([`${v} Faulted`]) // a change elsewhere releases nothing

      await put(set, withModel('fresh'))
      await waitFor(
        async () => (await mine()).join() === `${v} Faulted,${v} Faulted`,
        'the one new attempt',
        20_000,
      )
      await sleep(1500)
      expect(await mine()).toEqual([`${v} Faulted`, `${v} Faulted`]) // and only one
    },
  )
})

describe('gap 6: upgrade mode Manual', () => {
  // The seed: "After configuring automatic OS image upgrades for your scale set, you must also
  // bring the scale set VMs to the latest scale set model if your scale set uses the 'Manual'
  // upgrade policy." An OS upgrade does not do it for them (docs/rollouts.md R1.7).
  it(
    'an OS rollout moves only the instances on the latest model; the others wait for manualupgrade, and the plan says so',
    { timeout: 60_000 },
    async () => {
      const p = armPaths(h.sub)
      await put(p.image('1.0.0'), imageBody('sim:?boot=0'))
      await put(p.lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }))
      const body = autoUpgradeSetBody({ sub: h.sub, capacity: 3, probe: 'tcp' }) as any
      body.properties.upgradePolicy.mode = 'Manual'
      const set = p.set('manual')
      await put(set, body)
      await waitFor(
        async () =>
          ((await h.call('GET', `${set}/virtualMachines`)).body.value as any[]).length === 3,
        'three instances',
      )
      // A model change: in Manual it reaches instance 0 only, by manualupgrade.
      body.properties.virtualMachineProfile.osProfile = {
        customData: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'),
      }
      await put(set, body)
      const upgrade = await h.call('POST', `${set}/manualupgrade`, { body: { instanceIds: ['0'] } })
      expect(upgrade.status).toBe(202)
      await h.settle()
      const plan = async () =>
        (await h.call('GET', `${set}/providers/Osroll.Upgrades/plans/default`)).body.properties
      await put(p.image('1.1.0'), imageBody('sim:?boot=0'))
      await waitFor(async () => (await history(set))[0] === '1.1.0 Completed', 'the rollout')
      const vms = (await h.call('GET', `${set}/virtualMachines`)).body.value as any[]
      expect(
        vms.map((v) => [
          v.instanceId,
          v.properties.storageProfile.imageReference.exactVersion,
          v.properties.latestModelApplied,
        ]),
      ).toEqual([
        ['0', '1.1.0', true],
        ['1', '1.0.0', false],
        ['2', '1.0.0', false],
      ])
      const latest = await h.call('GET', `${set}/rollingUpgrades/latest`)
      expect(latest.body.properties.progress).toMatchObject({
        successfulInstanceCount: 1,
        pendingInstanceCount: 0,
      })
      expect((await plan()).awaitingManualUpgrade).toEqual(['1', '2'])
      // Brought to the latest model by the operator, they are the next rollout's candidates.
      await h.call('POST', `${set}/manualupgrade`, { body: { instanceIds: ['1', '2'] } })
      await waitFor(
        async () =>
          ((await h.call('GET', `${set}/virtualMachines`)).body.value as any[]).every(
            (v) => v.properties.latestModelApplied,
          ),
        'the manual upgrade',
      )
      const after = await plan()
      expect(after.awaitingManualUpgrade).toEqual([])
      expect(after.batches.flatMap((b: any) => b.instances.map((i: any) => i.instanceId))).toEqual([
        '1',
        '2',
      ])
    },
  )
})

describe('gap 8: vmHealth before the health extension reports', () => {
  // The seed: "The Application Health extension is deployed inside a Virtual Machine Scale Set
  // instance and reports on VM health from inside the scale set instance": no report, no health.
  it(
    'an instance whose Application Health extension failed to provision reads Initializing, not Healthy',
    { timeout: 30_000 },
    async () => {
      const p = armPaths(h.sub)
      await put(p.image('1.0.0'), imageBody('sim:?boot=0&extfail=health'))
      const body = autoUpgradeSetBody({ sub: h.sub, capacity: 1, probe: 'none' }) as any
      delete body.properties.virtualMachineProfile.networkProfile
      body.properties.upgradePolicy = { mode: 'Manual' }
      body.properties.virtualMachineProfile.extensionProfile = {
        extensions: [
          {
            name: 'health',
            properties: {
              publisher: 'Microsoft.ManagedServices',
              type: 'ApplicationHealthLinux',
              typeHandlerVersion: '2.0',
              settings: { protocol: 'http', port: 8080, requestPath: '/health' },
            },
          },
        ],
      }
      const set = p.set('apphealth')
      await put(set, body)
      const view = await waitFor(async () => {
        const r = await h.call('GET', `${set}/virtualMachines/0/instanceView`)
        const ext = (r.body.extensions ?? []).find((e: any) => e.name === 'health')
        return ext?.statuses[0].code === 'ProvisioningState/failed' && r.body
      }, 'the extension to fail')
      expect(view.vmHealth.status.code).toBe('HealthState/initializing')
    },
  )
})
