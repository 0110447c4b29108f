import { describe, expect, it } from 'vitest'
import { fabricModel, spec, SET_KEY } from '../../test-support/builders.js'
import { MemoryStore } from '../store/memory/memory-store.js'
import { MemoryCatalog } from './catalog.js'
import { SimFabric } from '../fabrics/sim/sim-fabric.js'
import { EffectRunner } from './effect-runner.js'
import { ManualClock } from '../../test-support/manual-clock.js'
import { silentLogger } from './logger.js'
import { Errors } from '../errors.js'
import type { Fabric } from '../fabrics/types/fabric.js'

/** A fabric whose reimage hangs for some instances (until aborted) and fails first for others. */
function fabricWith(clock: ManualClock, o: { hang: string[]; failOnce: string[] }) {
  const signals = new Map<string, AbortSignal[]>()
  const failed = new Set<string>()
  const sim = new SimFabric({ nowMs: () => clock.nowMs() })
  const fabric = Object.assign(Object.create(sim) as Fabric, {
    reimage: async (
      _m: unknown,
      ids: readonly string[],
      _i: unknown,
      c?: { signal?: AbortSignal },
    ) => {
      const id = ids[0] as string
      signals.set(id, [...(signals.get(id) ?? []), c!.signal!])
      if (o.failOnce.includes(id) && !failed.has(id)) {
        failed.add(id)
        throw Errors.FabricUnavailable('try again')
      }
      if (o.hang.includes(id)) await new Promise<void>(() => {})
    },
  })
  return { fabric, signals }
}

/** Lets pending callbacks run until `done` holds (bounded: STYLE R6). */
async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 100 && !done(); turn++) await new Promise((r) => setImmediate(r))
  if (!done()) throw new Error('condition not reached in 100 turns')
}

describe('effect runner', () => {
  it('times out only the calls that hang, aborting their signal; a retry gets a fresh one', async () => {
    const clock = new ManualClock(0)
    const { fabric, signals } = fabricWith(clock, { hang: ['0'], failOnce: ['2'] })
    const catalog = new MemoryCatalog()
    const s = spec()
    catalog.publish(s.image, '1.1.0', 'sim:?boot=0', s.location, 0)
    const runner = new EffectRunner({
      fabric,
      store: new MemoryStore(),
      catalog,
      clock,
      log: silentLogger,
      onSettled: () => undefined,
      callTimeoutMs: 100,
      retries: 1,
    })
    runner.run(
      {
        scaleSetKey: SET_KEY,
        model: fabricModel(),
        image: s.image,
        location: s.location,
      },
      [
        {
          type: 'reimage',
          instanceIds: ['0', '1', '2'],
          imageVersion: '1.1.0',
          modelGeneration: 1,
        },
      ],
    )
    // The calls' shared deadline (100) and instance 2's retry backoff (250) wait on the clock.
    await until(() => clock.sleeperCount() === 2)
    clock.advanceTo(99)
    await new Promise((r) => setImmediate(r))
    expect(signals.get('0')![0]!.aborted).toBe(false) // the clock decides, not the wall
    clock.advanceTo(100)
    await until(() => runner.busy(SET_KEY) === 1) // instance 0 timed out; 2 waits for its retry
    clock.advanceTo(250)
    await runner.idle()
    expect(runner.takeFailures(SET_KEY)).toEqual([
      { instanceId: '0', action: 'reimage', message: 'timed out after 100 ms' },
    ])
    expect(signals.get('0')![0]!.aborted).toBe(true)
    expect(String(signals.get('0')![0]!.reason)).toContain('timed out after 100 ms')
    // Instance 2's first call failed (retryable) and was retried after 250 ms on a signal of its
    // own: the first calls' deadline had passed, the retry's had not.
    expect(signals.get('2')).toHaveLength(2)
    expect(signals.get('2')![1]).not.toBe(signals.get('2')![0])
    expect(signals.get('2')![1]!.aborted).toBe(false)
    expect(signals.get('1')).toHaveLength(1)
  })
})

describe('effect runner: a deleted set', () => {
  it('forget drops its waiting hook answers and failures, and an answer landing after it', async () => {
    const clock = new ManualClock(0)
    const s = spec()
    let answerNow: (() => void) | null = null
    const runner = new EffectRunner({
      fabric: new SimFabric({ nowMs: () => clock.nowMs() }),
      store: new MemoryStore(),
      catalog: new MemoryCatalog(),
      clock,
      log: silentLogger,
      onSettled: () => undefined,
      hooks: {
        call: (a) =>
          a.instanceId === '0'
            ? Promise.resolve({ kind: 'answer', answer: { answer: 'continue' } } as never)
            : new Promise((resolve) => {
                answerNow = () => resolve({ kind: 'answer', answer: { answer: 'skip' } } as never)
              }),
      },
    })
    const ctx = {
      scaleSetKey: SET_KEY,
      model: fabricModel(),
      image: s.image,
      location: s.location,
      rolloutId: 'r1',
    }
    const hook = (instanceId: string) => ({
      type: 'callHook' as const,
      hook: 'preReimage' as const,
      instanceId,
      call: 1,
      url: 'http://127.0.0.1:1/',
      timeoutMs: 1_000,
      batch: 1,
      fromVersion: '1.0.0',
      targetVersion: '1.1.0',
      deferrals: 0,
    })
    runner.run(ctx, [hook('0'), hook('1')])
    await until(() => runner.busy(SET_KEY) === 1) // 0 answered at once; 1 is still asked
    runner.forget(SET_KEY) // the set is deleted
    answerNow!()
    await runner.idle()
    expect(runner.takeHookAnswers(SET_KEY)).toEqual([])
    // Driven again (re-created), the set's answers are kept as before.
    runner.run(ctx, [hook('0')])
    await runner.idle()
    expect(runner.takeHookAnswers(SET_KEY).map((a) => a.instanceId)).toEqual(['0'])
  })
})
