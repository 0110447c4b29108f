import { describe, expect, it } from 'vitest'
import { runFabricContract } from '../fabric.contract.js'
import { SimFabric } from './sim-fabric.js'
import { diskIsBad, parseSimUri } from './sim-behaviour.js'
import { ManualClock } from '../../../test-support/manual-clock.js'
import { fabricModel } from '../../../test-support/builders.js'
import type { InstanceView } from '../types/fabric.js'
import { MemorySimState } from './sim-state.js'
import { runSimStateContract } from './sim-state.contract.js'

runFabricContract('sim', async () => {
  const clock = new ManualClock(1_000)
  const fabric = new SimFabric({ nowMs: () => clock.nowMs() })
  const model = fabricModel()
  return {
    fabric,
    model,
    images: {
      v1: { version: '1.0.0', label: 'v1', sourceUri: 'sim:?boot=2' },
      v2: { version: '1.1.0', label: 'v2', sourceUri: 'sim:?boot=2' },
      broken: { version: '1.2.0', label: 'broken', sourceUri: 'sim:?boot=2&health=unhealthy' },
    },
    until: async (check: (v: readonly InstanceView[]) => boolean, what: string) => {
      for (let i = 0; i < 100; i++) {
        const views = await fabric.listInstances(model.scaleSetKey)
        if (check(views)) return views
        clock.advanceBy(500)
      }
      throw new Error(`sim fabric never reached: ${what}`)
    },
    close: async () => {},
  }
})

describe('sim fabric', () => {
  it('parses sim: URIs and refuses bad ones with a clear message', () => {
    expect(parseSimUri('sim:?boot=2.5&health=flaky:0.25&extfail=install')).toEqual({
      bootMs: 2500,
      health: { kind: 'flaky', p: 0.25 },
      extfail: 'install',
    })
    expect(parseSimUri('sim:')).toEqual({
      bootMs: 1000,
      health: { kind: 'healthy' },
      extfail: null,
    })
    expect(() => parseSimUri('file:///x')).toThrow(/not a sim: image/)
    expect(() => parseSimUri('sim:?health=sick')).toThrow(/healthy, unhealthy or flaky/)
    expect(() => parseSimUri('sim:?boot=-1')).toThrow(/boot/)
    expect(() => parseSimUri('sim:?colour=red')).toThrow(/Unknown sim: image parameter 'colour'/)
  })

  it('is Initializing while it boots, then follows the image (rich health states)', async () => {
    const clock = new ManualClock(0)
    const fabric = new SimFabric({ nowMs: () => clock.nowMs() })
    const model = fabricModel({ healthSource: 'extension' })
    await fabric.createInstances(model, [
      {
        instanceId: '0',
        zone: null,
        updateDomain: 0,
        faultDomain: 0,
        image: { version: '1.0.0', label: 'x', sourceUri: 'sim:?boot=3' },
      },
    ])
    expect((await fabric.listInstances(model.scaleSetKey))[0]).toMatchObject({
      power: 'starting',
      provisioning: 'updating',
      health: 'initializing',
    })
    clock.advanceTo(3000)
    expect((await fabric.listInstances(model.scaleSetKey))[0]).toMatchObject({
      power: 'running',
      provisioning: 'succeeded',
      health: 'healthy',
    })
  })

  it('fails the named extension (extfail) with an Azure-style provisioning error', async () => {
    const clock = new ManualClock(0)
    const fabric = new SimFabric({ nowMs: () => clock.nowMs() })
    const ext = {
      name: 'install',
      publisher: 'Microsoft.Azure.Extensions',
      type: 'CustomScript',
      typeHandlerVersion: '2.1',
      settings: {},
      protectedSettings: {},
      provisionAfterExtensions: [],
      suppressFailures: false,
    }
    const model = fabricModel({ extensions: [ext] })
    await fabric.createInstances(model, [
      {
        instanceId: '0',
        zone: null,
        updateDomain: 0,
        faultDomain: 0,
        image: { version: '1.0.0', label: 'x', sourceUri: 'sim:?boot=0&extfail=install' },
      },
    ])
    const [v] = await fabric.listInstances(model.scaleSetKey)
    expect(v).toMatchObject({
      provisioning: 'failed',
      provisioningError: expect.stringContaining("processing extension 'install'"),
    })
    expect(v!.extensions).toEqual([
      {
        name: 'install',
        type: 'install',
        state: 'failed',
        message: 'Simulated failure (extfail).',
      },
    ])
  })

  it('flaky health is a deterministic coin per disk and seed', () => {
    const flaky = { kind: 'flaky' as const, p: 0.5 }
    const a = Array.from({ length: 200 }, (_, i) => diskIsBad(flaky, `${i}.2`, 7))
    expect(a).toEqual(Array.from({ length: 200 }, (_, i) => diskIsBad(flaky, `${i}.2`, 7)))
    const bad = a.filter(Boolean).length
    expect(bad).toBeGreaterThan(60)
    expect(bad).toBeLessThan(140)
  })

  it('keeps its instances in the state store: a new fabric on the same state sees them', async () => {
    const clock = new ManualClock(0)
    const state = new MemorySimState()
    const model = fabricModel()
    await new SimFabric({ nowMs: () => clock.nowMs(), state }).createInstances(model, [
      {
        instanceId: '0',
        zone: null,
        updateDomain: 0,
        faultDomain: 0,
        image: { version: '1.0.0', label: 'x', sourceUri: 'sim:?boot=1' },
      },
    ])
    clock.advanceTo(5000)
    const again = await new SimFabric({ nowMs: () => clock.nowMs(), state }).listInstances(
      model.scaleSetKey,
    )
    expect(again).toHaveLength(1)
    expect(again[0]!.power).toBe('running')
  })

  it('injected faults throw retryable or final errors, then stop', async () => {
    const fabric = new SimFabric({ nowMs: () => 0 })
    fabric.failNext('release', 1, 'boom', true)
    await expect(fabric.release('k', ['0'])).rejects.toMatchObject({
      code: 'FabricUnavailable',
      retryable: true,
    })
    await expect(fabric.release('k', ['0'])).resolves.toBeUndefined()
  })
})

runSimStateContract('memory', async () => ({ state: new MemorySimState(), close: async () => {} }))
