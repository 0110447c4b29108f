/**
 * The runtime around the core: level-triggered passes, persist-before-act, effect retries,
 * timeouts and failures fed back to the plan, capacity, and no automatic retry of a faulted
 * version.
 */
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../test-support/manual-clock.js'
import { spec, SET_KEY, scaleSetState } from '../../test-support/builders.js'
import { MemoryStore } from '../store/memory/memory-store.js'
import { MemoryCatalog } from './catalog.js'
import { SimFabric } from '../fabrics/sim/sim-fabric.js'
import { EffectRunner } from './effect-runner.js'
import { reconcile } from './reconciler.js'
import { startRollout } from '../core/rollout/start.js'
import type { ReconcilerDeps } from './reconciler.js'
import { silentLogger } from './logger.js'
import type { ScaleSetSpec } from '../core/scale-set/spec.js'
import type { Fabric } from '../fabrics/types/fabric.js'

const NO_DELAY = {
  firstDelayMinMs: 0,
  firstDelayMaxMs: 0,
  laterDelayMinMs: 0,
  laterDelayMaxMs: 0,
  retryDelayMs: 600_000,
}

async function world(o: { spec?: Partial<ScaleSetSpec>; fabric?: (f: SimFabric) => Fabric } = {}) {
  const clock = new ManualClock(0)
  const store = new MemoryStore()
  const catalog = new MemoryCatalog()
  const sim = new SimFabric({ nowMs: () => clock.nowMs() })
  const fabric = o.fabric ? o.fabric(sim) : sim
  const s = spec({ capacity: 4, ...o.spec })
  catalog.publish(s.image, '1.0.0', 'sim:?boot=1', s.location, 0)
  await store.putScaleSet(scaleSetState(s, { firstSinceEnable: true }), null)
  let settled = 0
  const deps = (): ReconcilerDeps => ({
    store,
    fabric,
    catalog,
    clock,
    effects: new EffectRunner({
      fabric,
      store,
      catalog,
      clock,
      log: silentLogger,
      onSettled: () => settled++,
      retries: 2,
      callTimeoutMs: 200,
    }),
    log: silentLogger,
    ids: (() => {
      let n = 0
      return () => `r${++n}`
    })(),
    timing: NO_DELAY,
    healthDeadlineMs: 60_000,
  })
  return { clock, store, catalog, sim, deps, settledCount: () => settled }
}

/** Passes until nothing changes at this instant, then moves the clock; returns the last pass. */
async function runFor(
  w: Awaited<ReturnType<typeof world>>,
  d: ReconcilerDeps,
  ms: number,
): Promise<void> {
  const end = w.clock.nowMs() + ms
  while (w.clock.nowMs() <= end) {
    await reconcile(SET_KEY, d)
    await d.effects.idle()
    await reconcile(SET_KEY, d)
    await d.effects.idle()
    w.clock.advanceBy(500)
  }
}

describe('reconciler', () => {
  it('scales out to capacity from the latest eligible version', async () => {
    const w = await world()
    const d = w.deps()
    await runFor(w, d, 2000)
    const views = await w.sim.listInstances(SET_KEY)
    expect(views.map((v) => [v.instanceId, v.osImageVersion, v.power])).toEqual([
      ['0', '1.0.0', 'running'],
      ['1', '1.0.0', 'running'],
      ['2', '1.0.0', 'running'],
      ['3', '1.0.0', 'running'],
    ])
    expect(w.settledCount()).toBeGreaterThan(0)
  })

  it('persists each decision before acting: a crash right after the save loses nothing', async () => {
    const w = await world()
    await runFor(w, w.deps(), 2000)
    w.catalog.publish(spec().image, '1.1.0', 'sim:?boot=1', 'westus', w.clock.nowMs())
    const dying = w.deps()
    dying.effects.close() // the process dies after saving, before any effect runs
    await reconcile(SET_KEY, dying)
    const saved = await w.store.getActiveRollout(SET_KEY)
    expect(saved?.attempts.map((a) => [a.instanceId, a.state])).toEqual([['0', 'Reimaging']])
    expect((await w.sim.listInstances(SET_KEY)).every((v) => v.osImageVersion === '1.0.0')).toBe(
      true,
    )
    await runFor(w, w.deps(), 10_000) // a new process resumes from the store
    const done = await w.store.getRollout(saved!.id)
    expect(done).toMatchObject({ status: 'Completed', batchCount: 4 })
    expect(done!.attempts.map((a) => a.instanceId)).toEqual(['0', '1', '2', '3'])
    expect((await w.sim.listInstances(SET_KEY)).every((v) => v.osImageVersion === '1.1.0')).toBe(
      true,
    )
  })

  it('retries retryable fabric errors with backoff, and feeds final failures to the plan', async () => {
    const w = await world()
    await runFor(w, w.deps(), 2000)
    w.sim.failNext('reimage', 1, 'fabric busy', true)
    w.catalog.publish(spec().image, '1.1.0', 'sim:?boot=1', 'westus', w.clock.nowMs())
    const d = w.deps()
    await reconcile(SET_KEY, d)
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setImmediate(r))
      w.clock.advanceBy(250)
    }
    await d.effects.idle()
    expect(
      (await w.sim.listInstances(SET_KEY)).find((v) => v.instanceId === '0')?.osImageVersion,
    ).toBe('1.1.0')

    w.sim.failNext('reimage', 1, 'disk image corrupt', false)
    await runFor(w, d, 3000)
    const r =
      (await w.store.getActiveRollout(SET_KEY)) ??
      (await w.store.listRollouts(SET_KEY, { limit: 1 }))[0]
    expect(
      r!.attempts.find((a) => a.failure?.reason === 'ReimageFailed')?.failure?.message,
    ).toContain('disk image corrupt')
  })

  it('times out a fabric call that hangs', async () => {
    const hang: Partial<Fabric> = { reimage: () => new Promise<void>(() => {}) }
    const w = await world({ fabric: (sim) => Object.assign(Object.create(sim), hang) as Fabric })
    const d = w.deps()
    await runFor(w, d, 2000)
    w.catalog.publish(spec().image, '1.1.0', 'sim:?boot=1', 'westus', w.clock.nowMs())
    await reconcile(SET_KEY, d)
    await Promise.resolve()
    // The call's deadline is the injected clock's time: nothing times out until it moves.
    expect(d.effects.busy(SET_KEY)).toBe(1)
    w.clock.advanceBy(200)
    await d.effects.idle()
    const failures = d.effects.takeFailures(SET_KEY)
    expect(failures).toEqual([
      { instanceId: '0', action: 'reimage', message: 'timed out after 200 ms' },
    ])
  })

  it('never retries a faulted version automatically; a newer version starts a new rollout', async () => {
    const w = await world({ spec: { capacity: 2 } })
    await runFor(w, w.deps(), 2000)
    w.catalog.publish(
      spec().image,
      '1.1.0',
      'sim:?boot=1&health=unhealthy',
      'westus',
      w.clock.nowMs(),
    )
    const d = w.deps()
    await runFor(w, d, 70_000)
    const [faulted] = await w.store.listRollouts(SET_KEY, { limit: 5 })
    expect(faulted).toMatchObject({ status: 'Faulted', target: { imageVersion: '1.1.0' } })
    expect((await w.store.getScaleSet(SET_KEY))?.faultedVersions).toEqual(['1.1.0'])
    await runFor(w, d, 20 * 60_000)
    expect(await w.store.listRollouts(SET_KEY, { limit: 5 })).toHaveLength(1)
    w.catalog.publish(spec().image, '1.2.0', 'sim:?boot=1', 'westus', w.clock.nowMs())
    await runFor(w, d, 5000)
    const rollouts = await w.store.listRollouts(SET_KEY, { limit: 5 })
    expect(rollouts.map((r) => [r.target.imageVersion, r.status])).toEqual([
      ['1.2.0', 'Completed'],
      ['1.1.0', 'Faulted'],
    ])
  })

  /**
   * A store whose set write after the rollout ended goes wrong once, as `breakEnd` says: the
   * rollout's end is saved, the set's write of it is not.
   */
  function breakingEndWrite(w: Awaited<ReturnType<typeof world>>, breakEnd: () => Promise<void>) {
    let broken = false
    const store = Object.create(w.store) as MemoryStore
    store.putScaleSet = async (state, expected, o) => {
      const rollouts = await w.store.listRollouts(SET_KEY, { limit: 1 })
      const ended = rollouts[0] !== undefined && rollouts[0].status !== 'RollingForward'
      if (!broken && ended && state.faultedVersions.length > 0) {
        broken = true
        await breakEnd()
      }
      return w.store.putScaleSet(state, expected, o)
    }
    return store
  }

  async function faultVersion(w: Awaited<ReturnType<typeof world>>, d: ReconcilerDeps) {
    await runFor(w, w.deps(), 2000)
    w.catalog.publish(
      spec().image,
      '1.1.0',
      'sim:?boot=1&health=unhealthy',
      'westus',
      w.clock.nowMs(),
    )
    await runFor(w, d, 70_000)
  }

  it("records a rollout's end on its set when a set PUT races the write", async () => {
    const w = await world({ spec: { capacity: 2 } })
    let raced = 0
    const store = breakingEndWrite(w, async () => {
      // A set PUT lands between the reconciler's read of the set and its write of the end.
      const current = (await w.store.getScaleSet(SET_KEY))!
      await w.store.putScaleSet({ ...current, firstSinceEnable: false }, current.revision)
      raced++
    })
    await faultVersion(w, { ...w.deps(), store })
    expect(raced).toBe(1)
    const set = (await w.store.getScaleSet(SET_KEY))!
    expect(set.faultedVersions).toEqual(['1.1.0'])
    expect(set.quarantine?.map((q) => q.version)).toEqual(['1.1.0'])
    expect(set.openRollout).toBeNull()
  })

  it("records a rollout's end that a crash kept from its set, on the next pass", async () => {
    const w = await world({ spec: { capacity: 2 } })
    const store = breakingEndWrite(w, async () => {
      throw new Error('the control plane died here')
    })
    await expect(faultVersion(w, { ...w.deps(), store })).rejects.toThrow('died here')
    const [faulted] = await w.store.listRollouts(SET_KEY, { limit: 1 })
    expect(faulted).toMatchObject({ status: 'Faulted', target: { imageVersion: '1.1.0' } })
    const lost = (await w.store.getScaleSet(SET_KEY))!
    expect(lost.faultedVersions).toEqual([])
    expect(lost.openRollout).toBe(faulted!.id)
    // A new process: its first pass records the end, and the version is never retried.
    const d = w.deps()
    await runFor(w, d, 20 * 60_000)
    const set = (await w.store.getScaleSet(SET_KEY))!
    expect(set.faultedVersions).toEqual(['1.1.0'])
    expect(set.quarantine?.[0]).toMatchObject({ version: '1.1.0', rolloutId: faulted!.id })
    expect(set.openRollout).toBeNull()
    expect(await w.store.listRollouts(SET_KEY, { limit: 5 })).toHaveLength(1)
  })

  it("records the end of a rollout the API started, across a crash at the end's write", async () => {
    const s = spec({ capacity: 2 })
    const w = await world({
      spec: { capacity: 2, automaticOS: { ...s.automaticOS, enabled: false } },
    })
    await runFor(w, w.deps(), 2000)
    w.catalog.publish(s.image, '1.1.0', 'sim:?boot=1&health=unhealthy', 'westus', w.clock.nowMs())
    // As osRollingUpgrade / rollouts/start create it: only the rollout, no note on the set.
    const state = (await w.store.getScaleSet(SET_KEY))!
    const user = startRollout({
      id: 'u1',
      spec: state.spec,
      request: {
        kind: 'OSImage',
        startedBy: 'User',
        target: { imageVersion: '1.1.0', modelGeneration: state.spec.modelGeneration },
        pace: 'batched',
        scope: null,
        rollback: true,
      },
      healthDeadlineMs: 60_000,
      nowMs: w.clock.nowMs(),
    })
    await w.store.createRollout(user)
    const store = breakingEndWrite(w, async () => {
      throw new Error('the control plane died here')
    })
    await expect(runFor(w, { ...w.deps(), store }, 70_000)).rejects.toThrow('died here')
    expect((await w.store.getRollout('u1'))?.status).toBe('Faulted')
    expect((await w.store.getScaleSet(SET_KEY))!.openRollout).toBe('u1')
    await runFor(w, w.deps(), 2000)
    const set = (await w.store.getScaleSet(SET_KEY))!
    expect(set.quarantine?.[0]).toMatchObject({ version: '1.1.0', rolloutId: 'u1' })
    expect(set.openRollout).toBeNull()
  })

  it('never creates more instances than the capacity while slow creates are in flight', async () => {
    let created = 0
    let release!: () => void
    const copying = new Promise<void>((resolve) => (release = resolve))
    const w = await world({
      fabric: (sim) => {
        const slow = Object.create(sim) as Fabric
        slow.createInstances = async (model, specs, o) => {
          created += specs.length
          await copying // a real fabric copies a disk and boots: held until the test says
          return sim.createInstances(model, specs, o)
        }
        return slow
      },
    })
    const d = w.deps()
    for (let i = 0; i < 10; i++) {
      await reconcile(SET_KEY, d) // passes keep coming while the creates run
      await new Promise((r) => setImmediate(r))
    }
    expect(created).toBe(4) // every create is still in flight, and none was started twice
    expect(await w.sim.listInstances(SET_KEY)).toEqual([])
    release()
    await d.effects.idle()
    await reconcile(SET_KEY, d)
    await d.effects.idle()
    expect(await w.sim.listInstances(SET_KEY)).toHaveLength(4)
    expect(created).toBe(4)
  })

  it('prunes the history beyond the retention when a rollout ends, keeping the last N', async () => {
    const w = await world({ spec: { capacity: 2 } })
    const d = { ...w.deps(), history: { retentionMs: 0, keepLast: 1 } }
    await runFor(w, d, 2000)
    for (const v of ['1.1.0', '1.2.0', '1.3.0']) {
      w.catalog.publish(spec().image, v, 'sim:?boot=1', 'westus', w.clock.nowMs())
      await runFor(w, d, 5000)
    }
    const left = await w.store.listRollouts(SET_KEY, { limit: 10 })
    expect(left.map((r) => r.target.imageVersion)).toEqual(['1.3.0'])
  })

  it('refuses effects for a set after close (shutdown)', async () => {
    const w = await world()
    const d = w.deps()
    d.effects.close()
    await reconcile(SET_KEY, d)
    await d.effects.idle()
    expect(d.effects.busy(SET_KEY)).toBe(0)
    expect(await w.sim.listInstances(SET_KEY)).toEqual([]) // no instance was created
  })
})

describe('a deleted set', () => {
  it("a pass over a set that is gone drops what the gates and effects keep of it; an idle set's gates too", async () => {
    const w = await world()
    const forgotten: string[] = []
    const base = w.deps()
    const d: ReconcilerDeps = {
      ...base,
      gates: { inputs: () => null, forget: (k) => forgotten.push(`gates ${k}`) },
      effects: Object.assign(Object.create(base.effects) as EffectRunner, {
        forget: (k: string) => forgotten.push(`effects ${k}`),
      }),
    }
    await reconcile(SET_KEY, d) // idle (scaling out): no rollout, so no gate evaluation kept
    expect(forgotten).toEqual([`gates ${SET_KEY}`])
    await w.store.deleteScaleSet(SET_KEY)
    await reconcile(SET_KEY, d)
    expect(forgotten).toEqual([`gates ${SET_KEY}`, `gates ${SET_KEY}`, `effects ${SET_KEY}`])
  })
})
