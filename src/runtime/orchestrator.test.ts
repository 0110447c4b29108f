import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../test-support/manual-clock.js'
import { spec, SET_KEY, scaleSetState } from '../../test-support/builders.js'
import { MemoryStore } from '../store/memory/memory-store.js'
import { MemoryCatalog } from './catalog.js'
import { SimFabric } from '../fabrics/sim/sim-fabric.js'
import { EffectRunner } from './effect-runner.js'
import { silentLogger } from './logger.js'
import { Orchestrator } from './orchestrator.js'
import type { ReconcilerDeps } from './reconciler.js'
import { reconcile } from './reconciler.js'

const tick = () => new Promise((r) => setImmediate(r))

async function setup(o: { failFirst?: number } = {}) {
  const clock = new ManualClock(0)
  const store = new MemoryStore()
  const catalog = new MemoryCatalog()
  const fabric = new SimFabric({ nowMs: () => clock.nowMs() })
  const s = spec({ capacity: 4 })
  catalog.publish(s.image, '1.0.0', 'sim:?boot=1', s.location, 0)
  await store.putScaleSet(scaleSetState(s, { firstSinceEnable: false }), null)
  let orchestrator: Orchestrator | null = null
  const effects = new EffectRunner({
    fabric,
    store,
    catalog,
    clock,
    log: silentLogger,
    onSettled: (k) => orchestrator?.enqueue(k),
  })
  const deps: ReconcilerDeps = {
    store,
    fabric,
    catalog,
    clock,
    effects,
    log: silentLogger,
    ids: () => `r${clock.nowMs()}`,
    timing: {
      firstDelayMinMs: 0,
      firstDelayMaxMs: 0,
      laterDelayMinMs: 0,
      laterDelayMaxMs: 0,
      retryDelayMs: 60_000,
    },
    healthDeadlineMs: 60_000,
  }
  let failures = o.failFirst ?? 0
  orchestrator = new Orchestrator(deps, {
    listKeys: () => store.listScaleSetKeys(),
    pass: async (key, d) => {
      if (failures-- > 0) throw new Error('store unavailable')
      return reconcile(key, d)
    },
  })
  /** Lets the loop run at this instant, then moves the clock by `ms`, `times` times. */
  const advance = async (ms: number, times: number) => {
    for (let i = 0; i < times; i++) {
      for (let j = 0; j < 20; j++) await tick()
      clock.advanceBy(ms)
    }
  }
  return { clock, store, catalog, fabric, orchestrator, advance, s }
}

describe('orchestrator loop', () => {
  it('reconciles every set at start, polls a running rollout and completes it', async () => {
    const w = await setup()
    w.orchestrator.start()
    await w.advance(500, 6)
    expect(await w.fabric.listInstances(SET_KEY)).toHaveLength(4)
    w.catalog.publish(w.s.image, '1.1.0', 'sim:?boot=1', 'westus', w.clock.nowMs())
    w.orchestrator.enqueue(SET_KEY) // what the API does after a publish
    await w.advance(500, 30)
    const [r] = await w.store.listRollouts(SET_KEY, { limit: 1 })
    expect(r).toMatchObject({ status: 'Completed', target: { imageVersion: '1.1.0' } })
    await w.orchestrator.stop()
  })

  it('a version published mid-rollout waits for the next rollout', async () => {
    const w = await setup()
    w.orchestrator.start()
    await w.advance(500, 6)
    w.catalog.publish(w.s.image, '1.1.0', 'sim:?boot=5', 'westus', w.clock.nowMs())
    w.orchestrator.enqueue(SET_KEY)
    await w.advance(500, 4)
    w.catalog.publish(w.s.image, '1.2.0', 'sim:?boot=1', 'westus', w.clock.nowMs())
    w.orchestrator.enqueue(SET_KEY)
    await w.advance(500, 80)
    const rollouts = await w.store.listRollouts(SET_KEY, { limit: 5 })
    expect(rollouts.map((r) => [r.target.imageVersion, r.status])).toEqual([
      ['1.2.0', 'Completed'],
      ['1.1.0', 'Completed'],
    ])
    expect(rollouts[1]!.endedAtMs).toBeLessThanOrEqual(rollouts[0]!.startedAtMs)
    await w.orchestrator.stop()
  })

  it('retries a failed pass with backoff', async () => {
    const w = await setup({ failFirst: 2 })
    w.orchestrator.start()
    await w.advance(250, 4) // fails at 0 and at 500 ms, succeeds at 1500 ms
    expect(await w.fabric.listInstances(SET_KEY)).toEqual([])
    await w.advance(500, 6)
    expect(await w.fabric.listInstances(SET_KEY)).toHaveLength(4)
    expect(w.orchestrator.passes).toBeGreaterThanOrEqual(3)
    await w.orchestrator.stop()
  })
})
