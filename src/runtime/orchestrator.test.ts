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
  return { clock, store, catalog, fabric, orchestrator, advance, s, deps }
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

/** A clock that counts its sleeps and stops answering after `cap` of them (a spinning loop). */
class CountingClock extends ManualClock {
  sleeps = 0
  override sleepUntil(atMs: number, signal?: AbortSignal): Promise<void> {
    if (++this.sleeps > 1000) return new Promise(() => {})
    return super.sleepUntil(atMs, signal)
  }
}

/** An orchestrator over scripted passes: each pass of a key waits for `release(key)`. */
async function scripted(o: { concurrency?: number; keys: string[] }) {
  const w = await setup()
  const clock = new CountingClock(0)
  const started: string[] = []
  const gates = new Map<string, () => void>()
  const orchestrator = new Orchestrator(
    { ...w.deps, clock },
    {
      listKeys: async () => o.keys,
      ...(o.concurrency ? { concurrency: o.concurrency } : {}),
      pass: async (key) => {
        started.push(`${key}@${clock.nowMs()}`)
        await new Promise<void>((resolve) => gates.set(key, resolve))
        return { wakeAtMs: null, rollout: null }
      },
    },
  )
  const release = async (key: string) => {
    for (let i = 0; i < 100 && !gates.has(key); i++) await tick()
    const open = gates.get(key)
    if (!open) throw new Error(`no pass of ${key} is running`)
    gates.delete(key)
    open()
  }
  return { clock, orchestrator, started, release }
}

describe('orchestrator queue', () => {
  it('idle() waits for the passes due now, not for later ones; enqueues while running make one pass', async () => {
    const q = await scripted({ keys: ['a'] })
    q.orchestrator.start()
    let idle = false
    const first = q.orchestrator.idle().then(() => (idle = true))
    await tick()
    expect(q.started).toEqual(['a@0'])
    expect(idle).toBe(false) // the resync's pass of `a` runs
    q.orchestrator.enqueue('a')
    q.orchestrator.enqueue('a')
    q.orchestrator.enqueue('a', 5000) // a later time loses to the earlier one
    await q.release('a')
    await q.release('a') // the three requests made while it ran: one more pass
    await first
    expect(q.started).toEqual(['a@0', 'a@0'])
    q.orchestrator.enqueue('a', 2000)
    await q.orchestrator.idle() // due later: nothing to wait for now
    expect(q.started).toHaveLength(2)
    q.clock.advanceTo(2000)
    const second = q.orchestrator.idle()
    await q.release('a')
    await second
    expect(q.started).toEqual(['a@0', 'a@0', 'a@2000'])
    await q.orchestrator.stop()
  })

  it('settled() also waits for the effects a pass started, and for the pass they wake', async () => {
    const w = await setup()
    w.orchestrator.start()
    await w.orchestrator.settled() // at t=0: the scale-out's creates ran, and a pass after them
    expect(await w.fabric.listInstances(SET_KEY)).toHaveLength(4)
    expect(w.orchestrator.passes).toBe(2)
    expect(w.clock.nowMs()).toBe(0)
    await w.orchestrator.stop()
  })

  it('backs a failing pass off exponentially from 500 ms, capped at 30 s', async () => {
    const w = await setup()
    const clock = new ManualClock(0)
    const started: number[] = []
    const orchestrator = new Orchestrator(
      { ...w.deps, clock },
      {
        listKeys: async () => ['a'],
        resyncMs: 10 ** 9,
        pass: async () => {
          started.push(clock.nowMs())
          throw new Error('store unavailable')
        },
      },
    )
    orchestrator.start()
    for (let i = 0; i < 8; i++) {
      await orchestrator.idle()
      clock.advanceTo(clock.nextSleeperAtMs()!)
    }
    await orchestrator.idle()
    expect(started).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500, 61500, 91500])
    await orchestrator.stop()
  })

  it('with every slot taken, a due key waits for a pass to end without spinning', async () => {
    const q = await scripted({ concurrency: 1, keys: ['a', 'b'] })
    q.orchestrator.start()
    await tick()
    expect(q.started).toEqual(['a@0']) // b is due, but the one slot is a's
    const sleeps = q.clock.sleeps
    for (let i = 0; i < 5; i++) await tick()
    expect(q.clock.sleeps - sleeps).toBeLessThanOrEqual(1) // one sleep, until a's pass ends
    await q.release('a')
    await q.release('b')
    await q.orchestrator.idle()
    expect(q.started).toEqual(['a@0', 'b@0'])
    await q.orchestrator.stop()
  })
})
