/**
 * The wave decision over many random plans (fast-check), with its own deterministic harness: a
 * virtual clock and a world of sets that roll once released, after a delay, and end upgraded
 * or faulted, with health that flaps. After every decision the invariants of wave.ts hold and:
 * a stage starts only when the one before it completed and stayed healthy for its bake (W2, W4);
 * after a failure no later stage starts and no later set is released the version (W5); a set is
 * released a version only when its stage starts (W3); with no faults a wave succeeds; a newer
 * version then starts from the first stage (W8). Plus a table of the rules' edge cases.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EMPTY_WAVE_STATE, checkWaveInvariants, decideWave } from './wave.js'
import type { SetFacts, WaveControls, WavePlanSpec, WavePlanState } from './wave.js'

type SetWorld = {
  delayMs: number
  durationMs: number
  faults: boolean
  /** Its rollout ends with an instance its pre-reimage hook skipped, still behind (W5). */
  skips: boolean
  /** Has health gates, asked after its stage's bake time: they answer `gateDelayMs` later. */
  gated: boolean
  gateFails: boolean
  gateDelayMs: number
  /** Unhealthy from this time for `flapMs` after it is upgraded (null: never). */
  flapAfterMs: number | null
  flapMs: number
}

/** Facts of a set at `nowMs`, for the wave's version, from when it was released that version. */
/** W4: the gates' verdict after the bake (`bakedAtMs`: when the stored bake time ends). */
function gatesAt(w: SetWorld, bakedAtMs: number | null, nowMs: number) {
  if (!w.gated) return null
  if (bakedAtMs === null || nowMs < bakedAtMs + w.gateDelayMs) return { status: 'pending' as const }
  return w.gateFails
    ? { status: 'fail' as const, message: 'errors 0.5 > 0.1' }
    : { status: 'pass' as const }
}

/** When the stored bake of `key`'s stage ends, while it bakes for `version`; else null. */
function bakedAt(spec: WavePlanSpec, state: WavePlanState, key: string, version: string) {
  const i = spec.stages.findIndex((st) => st.scaleSets.includes(key))
  const st = state.wave?.version === version ? state.wave.stages[i] : undefined
  if (st?.phase !== 'Baking' || st.bakeStartedAtMs === null) return null
  return st.bakeStartedAtMs + (spec.stages[i]?.bakeMs ?? 0)
}

function factsAt(
  w: SetWorld,
  releasedAtMs: number | null,
  nowMs: number,
  bakedAtMs: number | null = null,
): SetFacts {
  const base = {
    exists: true as const,
    followsImage: true,
    faulted: null,
    skipped: null,
    unhealthy: null,
  }
  if (releasedAtMs === null) return { ...base, rolloutId: null, behind: 1 }
  const startAt = releasedAtMs + w.delayMs
  const endAt = startAt + w.durationMs
  if (nowMs < startAt) return { ...base, rolloutId: null, behind: 1 }
  if (nowMs < endAt) return { ...base, rolloutId: 'r', behind: 1 }
  if (w.faults)
    return { ...base, rolloutId: null, behind: 1, faulted: { rolloutId: 'r', message: 'boom' } }
  if (w.skips)
    return { ...base, rolloutId: null, behind: 1, skipped: { rolloutId: 'r', instanceIds: ['1'] } }
  const flapAt = w.flapAfterMs === null ? null : endAt + w.flapAfterMs
  const unhealthy = flapAt !== null && nowMs >= flapAt && nowMs < flapAt + w.flapMs ? 'flap' : null
  return { ...base, rolloutId: null, behind: 0, unhealthy, bakeGates: gatesAt(w, bakedAtMs, nowMs) }
}

const setWorld = fc.record({
  delayMs: fc.integer({ min: 0, max: 3_000 }),
  durationMs: fc.integer({ min: 0, max: 5_000 }),
  faults: fc.boolean(),
  skips: fc.boolean(),
  gated: fc.boolean(),
  gateFails: fc.boolean(),
  gateDelayMs: fc.integer({ min: 0, max: 2_000 }),
  flapAfterMs: fc.option(fc.integer({ min: 0, max: 4_000 })),
  flapMs: fc.integer({ min: 1, max: 2_000 }),
})

const scenario = fc
  .array(
    fc.record({ sets: fc.integer({ min: 1, max: 3 }), bakeMs: fc.integer({ min: 0, max: 4_000 }) }),
    {
      minLength: 1,
      maxLength: 4,
    },
  )
  .chain((stages) => {
    const n = stages.reduce((a, s) => a + s.sets, 0)
    return fc.record({
      stages: fc.constant(stages),
      worlds: fc.array(setWorld, { minLength: n, maxLength: n }),
      steps: fc.array(fc.integer({ min: 1, max: 1_500 }), { minLength: 5, maxLength: 120 }),
      pauses: fc.array(fc.boolean(), { minLength: 120, maxLength: 120 }),
      cancelAt: fc.option(fc.integer({ min: 0, max: 119 })),
    })
  })

function planOf(stages: readonly { sets: number; bakeMs: number }[]): WavePlanSpec {
  let n = 0
  return {
    image: { kind: 'platform', publisher: 'p', offer: 'o', sku: 's', version: 'latest' },
    stages: stages.map((s, i) => ({
      name: `stage${i}`,
      scaleSets: Array.from({ length: s.sets }, () => `/set${n++}`),
      bakeMs: s.bakeMs,
    })),
  }
}

describe('decideWave over random plans', () => {
  it('orders stages, bakes, stops on failure, gates releases (1000 plans)', () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        const spec = planOf(sc.stages)
        const keys = spec.stages.flatMap((s) => s.scaleSets)
        const world = new Map(keys.map((k, i) => [k, sc.worlds[i] as SetWorld]))
        let state: WavePlanState = EMPTY_WAVE_STATE
        let nowMs = 0
        /** Per stage: the last time a decision saw a set of it not upgraded and healthy. */
        const lastBad = new Map<number, number>()
        let failedAt: number | null = null
        for (const [step, dt] of sc.steps.entries()) {
          const controls: WaveControls = {
            paused: sc.pauses[step] === true && step % 3 === 0,
            cancelRequested: sc.cancelAt !== null && step >= sc.cancelAt ? '1.1.0' : null,
          }
          const sets: Record<string, SetFacts> = {}
          for (const k of keys) {
            const r = state.released[k]
            sets[k] = factsAt(
              world.get(k) as SetWorld,
              r?.version === '1.1.0' ? r.atMs : null,
              nowMs,
              bakedAt(spec, state, k, '1.1.0'),
            )
          }
          const before = state
          const d = decideWave({ spec, state, controls, latest: '1.1.0', sets }, nowMs)
          state = d.state
          checkWaveInvariants(spec, state)
          const wave = state.wave
          if (wave === null) {
            expect(controls.paused).toBe(true) // W7: a paused plan starts no wave
            nowMs += dt
            continue
          }
          // What this decision saw of each stage in flight.
          for (const [i, st] of spec.stages.entries()) {
            // In flight at this decision: started (now or before) and not yet completed before it.
            const ph = before.wave?.stages[i]?.phase
            const reached =
              (wave.stages[i]?.startedAtMs ?? null) !== null &&
              ph !== 'Completed' &&
              ph !== 'Failed'
            const bad = st.scaleSets.some((k) => {
              const f = sets[k] as SetFacts
              return !f.exists || f.behind > 0 || f.rolloutId !== null || f.unhealthy !== null
            })
            if (reached && bad) lastBad.set(i, nowMs)
          }
          for (let i = 1; i < wave.stages.length; i++) {
            const started = wave.stages[i]?.startedAtMs ?? null
            if (started === null) continue
            const prev = wave.stages[i - 1]
            const bake = spec.stages[i - 1]?.bakeMs ?? 0
            // W2/W4: the previous stage baked for its whole bake time after its last bad sight.
            expect(prev?.phase).toBe('Completed')
            expect(started).toBeGreaterThanOrEqual((prev?.bakeStartedAtMs ?? Infinity) + bake)
            const bad = lastBad.get(i - 1)
            if (bad !== undefined) expect(prev?.bakeStartedAtMs ?? -1).toBeGreaterThan(bad)
          }
          // W3: a set is released the version exactly when its stage starts.
          for (const [i, st] of spec.stages.entries())
            for (const k of st.scaleSets) {
              const r = state.released[k]
              const start = wave.stages[i]?.startedAtMs ?? null
              if (start === null) expect(r).toBeUndefined()
              else expect(r).toEqual({ version: '1.1.0', atMs: start })
            }
          // W5: a set of the stage in flight whose rollout ended with skipped instances still
          // behind never leaves the wave Rolling: the decision that sees it ends the wave.
          const inFlight = before.wave?.phase === 'Rolling' ? before.wave.stage : null
          const skipping =
            inFlight !== null &&
            before.wave?.version === '1.1.0' &&
            before.wave.stages[inFlight]?.phase !== 'Pending' &&
            (spec.stages[inFlight]?.scaleSets ?? []).some((k) => {
              const f = sets[k] as SetFacts
              return f.exists && f.rolloutId === null && f.skipped !== null && f.faulted === null
            })
          if (skipping && wave.phase === 'Rolling')
            expect.fail(`wave Rolling at ${nowMs} with a set of stage ${inFlight} skipped`)
          // W4, gates included: a stage completes only after each gated set's gates, asked once
          // its bake time passed, answered pass; a set whose gates fail never lets it complete.
          for (const [i, st] of spec.stages.entries()) {
            const done = wave.stages[i]
            if (done?.phase !== 'Completed' || done.bakeStartedAtMs === null) continue
            for (const k of st.scaleSets) {
              const w = world.get(k) as SetWorld
              if (!w.gated) continue
              expect(w.gateFails, `stage ${i} completed with ${k}'s gates failing`).toBe(false)
              expect(done.endedAtMs ?? -1).toBeGreaterThanOrEqual(
                done.bakeStartedAtMs + st.bakeMs + w.gateDelayMs,
              )
            }
          }
          // W5: once failed, it stays failed and nothing after the failed stage ever starts.
          if (wave.phase === 'Failed' && failedAt === null) failedAt = wave.stage
          if (failedAt !== null) {
            expect(wave.phase).toBe('Failed')
            expect(wave.stage).toBe(failedAt)
            for (let i = failedAt + 1; i < wave.stages.length; i++)
              expect(wave.stages[i]?.startedAtMs).toBeNull()
          }
          if (wave.phase === 'Cancelled') expect(sc.cancelAt).not.toBeNull()
          nowMs += dt
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('with no fault and no flap, every wave succeeds; a newer version starts at stage 0', () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        const spec = planOf(sc.stages)
        const keys = spec.stages.flatMap((s) => s.scaleSets)
        const world = new Map(
          keys.map((k, i) => [
            k,
            {
              ...(sc.worlds[i] as SetWorld),
              faults: false,
              skips: false,
              gateFails: false,
              flapAfterMs: null,
            },
          ]),
        )
        let state: WavePlanState = EMPTY_WAVE_STATE
        let nowMs = 0
        const controls = { paused: false, cancelRequested: null }
        const run = (version: string): void => {
          // Bounded (STYLE R6): each stage needs at most delay + duration + bake + gates ≤ 14 s
          // of 500 ms steps.
          for (let step = 0; step < 34 * spec.stages.length + 5; step++) {
            const sets: Record<string, SetFacts> = {}
            for (const k of keys) {
              const r = state.released[k]
              sets[k] = factsAt(
                world.get(k) as SetWorld,
                r?.version === version ? r.atMs : null,
                nowMs,
                bakedAt(spec, state, k, version),
              )
            }
            state = decideWave({ spec, state, controls, latest: version, sets }, nowMs).state
            if (state.wave?.phase === 'Succeeded') return
            nowMs += 500
          }
        }
        run('1.1.0')
        expect(state.wave).toMatchObject({ version: '1.1.0', phase: 'Succeeded' })
        const sets = Object.fromEntries(
          keys.map((k) => [k, factsAt(world.get(k) as SetWorld, null, nowMs)]),
        )
        const d = decideWave({ spec, state, controls, latest: '1.2.0', sets }, nowMs)
        expect(d.state.wave).toMatchObject({ version: '1.2.0', phase: 'Rolling', stage: 0 })
        expect(d.released).toEqual(spec.stages[0]?.scaleSets)
        expect(d.state.history[0]).toMatchObject({ version: '1.1.0', phase: 'Succeeded' })
        run('1.2.0')
        expect(state.wave).toMatchObject({ version: '1.2.0', phase: 'Succeeded' })
      }),
      { numRuns: 300 },
    )
  })
})

describe('decideWave rules', () => {
  const spec = planOf([
    { sets: 1, bakeMs: 1000 },
    { sets: 2, bakeMs: 0 },
    { sets: 1, bakeMs: 0 },
  ])
  const up = {
    exists: true as const,
    followsImage: true,
    rolloutId: null,
    faulted: null,
    skipped: null,
    behind: 0,
    unhealthy: null,
  }
  const behind: SetFacts = { ...up, behind: 2 }
  const all = (f: SetFacts) => ({ '/set0': f, '/set1': f, '/set2': f, '/set3': f })
  const controls = { paused: false, cancelRequested: null }
  const first = decideWave(
    { spec, state: EMPTY_WAVE_STATE, controls, latest: '1.1.0', sets: all(behind) },
    0,
  )

  it('starts a wave at stage 0 and releases only its sets', () => {
    expect(first.released).toEqual(['/set0'])
    expect(first.notes.map((n) => n.kind)).toEqual(['WaveStarted', 'StageStarted'])
    expect(first.state.wave?.stages.map((s) => s.phase)).toEqual(['Rolling', 'Pending', 'Pending'])
  })

  it('bakes, restarts the bake when a set moves again, then starts the next stage', () => {
    const baking = decideWave(
      { spec, state: first.state, controls, latest: '1.1.0', sets: all(up) },
      100,
    )
    expect(baking.state.wave?.stages[0]?.phase).toBe('Baking')
    expect(baking.wakeAtMs).toBe(1100)
    const moved = decideWave(
      { spec, state: baking.state, controls, latest: '1.1.0', sets: all(behind) },
      600,
    )
    expect(moved.notes.map((n) => n.kind)).toEqual(['BakeRestarted'])
    const again = decideWave(
      { spec, state: moved.state, controls, latest: '1.1.0', sets: all(up) },
      700,
    )
    const early = decideWave(
      { spec, state: again.state, controls, latest: '1.1.0', sets: all(up) },
      1100,
    )
    expect(early.state.wave?.stage).toBe(0)
    const next = decideWave(
      {
        spec,
        state: early.state,
        controls,
        latest: '1.1.0',
        sets: { ...all(up), '/set1': behind },
      },
      1700,
    )
    expect(next.state.wave?.stage).toBe(1)
    expect(next.released).toEqual(['/set1', '/set2'])
  })

  it('fails with the typed reason and never starts the later stages', () => {
    const s1 = decideWave({ spec, state: first.state, controls, latest: '1.1.0', sets: all(up) }, 0)
    const s2 = decideWave({ spec, state: s1.state, controls, latest: '1.1.0', sets: all(up) }, 1000)
    expect(s2.state.wave?.stage).toBe(2) // stage 1 had no bake: it completed at once
    const faulted = {
      ...up,
      behind: 1,
      faulted: { rolloutId: 'r9', message: 'The rollout of 1.1.0 faulted: x' },
    }
    const s1b = decideWave(
      { spec, state: s1.state, controls, latest: '1.1.0', sets: { ...all(behind), '/set0': up } },
      1000,
    )
    const f = decideWave(
      {
        spec,
        state: s1b.state,
        controls,
        latest: '1.1.0',
        sets: { ...all(behind), '/set0': up, '/set2': faulted },
      },
      1500,
    )
    expect(f.state.wave).toMatchObject({
      phase: 'Failed',
      stage: 1,
      reason: { code: 'ScaleSetRolloutFaulted', scaleSet: '/set2', stage: 1 },
    })
    expect(f.state.released['/set3']).toBeUndefined()
    const later = decideWave(
      { spec, state: f.state, controls, latest: '1.1.0', sets: all(up) },
      9000,
    )
    expect(later.state).toEqual(f.state)
    const gone = decideWave(
      {
        spec,
        state: first.state,
        controls,
        latest: '1.1.0',
        sets: { ...all(up), '/set0': { exists: false } },
      },
      5,
    )
    expect(gone.state.wave?.reason?.code).toBe('ScaleSetNotFound')
    const sick = decideWave(
      {
        spec,
        state: first.state,
        controls,
        latest: '1.1.0',
        sets: { ...all(up), '/set0': { ...up, unhealthy: '3 of 10' } },
      },
      5,
    )
    expect(sick.state.wave?.reason).toMatchObject({ code: 'ScaleSetUnhealthy', message: '3 of 10' })
    // W5: a rollout that ended with an instance its hook skipped, still behind, ends the wave;
    // while the set's rollout still runs, it waits.
    const skipped = { ...up, behind: 1, skipped: { rolloutId: 'r9', instanceIds: ['1'] } }
    const running = decideWave(
      {
        spec,
        state: first.state,
        controls,
        latest: '1.1.0',
        sets: { ...all(up), '/set0': { ...skipped, rolloutId: 'r9' } },
      },
      5,
    )
    expect(running.state.wave?.phase).toBe('Rolling')
    const ended = decideWave(
      {
        spec,
        state: first.state,
        controls,
        latest: '1.1.0',
        sets: { ...all(up), '/set0': skipped },
      },
      5,
    )
    expect(ended.state.wave).toMatchObject({
      phase: 'Failed',
      reason: { code: 'ScaleSetInstancesSkipped', scaleSet: '/set0', stage: 0 },
    })
    expect(ended.state.wave?.reason?.message).toMatch(
      /r9 of \/set0 ended with instance\(s\) 1 skipped/,
    )
    expect(ended.state.wave?.stages[1]?.startedAtMs).toBeNull()
  })

  it('pause holds the next stage and a new wave; resume goes on; cancel ends the wave', () => {
    const paused = { paused: true, cancelRequested: null }
    expect(
      decideWave(
        { spec, state: EMPTY_WAVE_STATE, controls: paused, latest: '1.1.0', sets: all(up) },
        0,
      ).state,
    ).toEqual(EMPTY_WAVE_STATE)
    const b = decideWave(
      { spec, state: first.state, controls: paused, latest: '1.1.0', sets: all(up) },
      2000,
    )
    const held = decideWave(
      { spec, state: b.state, controls: paused, latest: '1.1.0', sets: all(up) },
      5000,
    )
    expect(held.state.wave?.stages.map((s) => s.phase)).toEqual(['Completed', 'Pending', 'Pending'])
    expect(held.released).toEqual([])
    const resumed = decideWave(
      { spec, state: held.state, controls, latest: '1.1.0', sets: all(behind) },
      6000,
    )
    expect(resumed.released).toEqual(['/set1', '/set2'])
    const cancelled = decideWave(
      {
        spec,
        state: resumed.state,
        controls: { paused: false, cancelRequested: '1.1.0' },
        latest: '1.2.0',
        sets: all(behind),
      },
      7000,
    )
    expect(cancelled.state.wave).toMatchObject({
      version: '1.1.0',
      phase: 'Cancelled',
      reason: { code: 'CancelledByUser' },
    })
    expect(cancelled.state.released['/set3']).toBeUndefined()
    // The newer version starts on the next decision, from stage 0.
    const next = decideWave(
      {
        spec,
        state: cancelled.state,
        controls: { paused: false, cancelRequested: '1.1.0' },
        latest: '1.2.0',
        sets: all(behind),
      },
      7001,
    )
    expect(next.state.wave).toMatchObject({ version: '1.2.0', stage: 0 })
    expect(next.released).toEqual(['/set0'])
  })

  it('a failed version is not waved again; a version not newer starts nothing', () => {
    const f = decideWave(
      {
        spec,
        state: first.state,
        controls,
        latest: '1.1.0',
        sets: { ...all(up), '/set0': { exists: false } },
      },
      5,
    )
    expect(
      decideWave({ spec, state: f.state, controls, latest: '1.1.0', sets: all(up) }, 10).state,
    ).toEqual(f.state)
    expect(
      decideWave({ spec, state: f.state, controls, latest: '1.0.0', sets: all(up) }, 10).state,
    ).toEqual(f.state)
  })
})
