/**
 * The dry-run plan against the simulator (issue 20 §1): for many seeds, a quiet fleet (nothing
 * happens but one new healthy version), the batches `dryRun` predicts when the rollout starts
 * are the batches the real orchestrator then runs, in order, and it ends as predicted.
 */
import { describe, expect, it } from 'vitest'
import { dryRun } from '../../src/core/rollout/dry-run.js'
import { observe } from '../../src/runtime/reconciler.js'
import { windowStateAt } from '../../src/runtime/maintenance-window.js'
import type { Rollout } from '../../src/core/rollout/types.js'
import { generateScenario } from './generate.js'
import { runScenario } from './harness.js'
import type { PassView } from './harness.js'
import { NO_DELAY } from './scenario.js'
import type { Scenario } from './scenario.js'

const SEEDS = Number(process.env['OSROLL_DRY_RUN_SEEDS'] ?? 300)
const T = 600_000 // the new version comes once the first fleet has settled

/** The seed's fleet and policy, with nothing happening but `1.1.0` (healthy) at T. */
function quiet(seed: number): Scenario {
  // Nothing changes: no health gates (they would judge the new version) and no lifecycle hook
  // (their answers change the batches).
  const { gates: _gates, hooks: _hooks, ...g } = generateScenario(seed)
  const spec = { ...g.spec, automaticOS: { ...g.spec.automaticOS, deferral: false } }
  const publish = { kind: 'publish', version: '1.1.0', uri: 'sim:?boot=1' } as const
  return {
    ...g,
    spec,
    timing: NO_DELAY,
    faults: [
      { atMs: T, fault: publish },
      ...(spec.automaticOS.enabled
        ? []
        : [{ atMs: T + 1000, fault: { kind: 'manualStart' } as const }]),
    ],
  }
}

const batchesOf = (r: Rollout) =>
  Array.from({ length: r.batchCount }, (_, b) =>
    r.attempts.filter((a) => a.batch === b + 1).map((a) => a.instanceId),
  )

describe('dry-run plan = execution when nothing changes', () => {
  it(`holds for ${SEEDS} seeds`, { timeout: 120_000 }, async () => {
    const mismatches: string[] = []
    let compared = 0
    let withWindows = 0
    for (let seed = 0; seed < SEEDS; seed++) {
      const views: PassView[] = []
      const run = await runScenario(quiet(seed), { beforePass: (v) => views.push(v) })
      expect(run.violations, `seed ${seed}`).toEqual([])
      const r = [...run.rollouts]
        .sort((a, b) => a.startedAtMs - b.startedAtMs)
        .find((x) => x.startedAtMs >= T)
      if (!r) continue // nothing to move (e.g. pinned), or the fleet never came up
      // The world the rollout was created on: the last pass before it, or its own first pass.
      const at =
        views.find((v) => v.active?.id === r.id && v.active.batchCount === 0) ??
        views.filter((v) => v.active === undefined && v.nowMs <= r.startedAtMs).at(-1)
      if (!at) throw new Error(`seed ${seed}: no pass saw the fleet before rollout ${r.id}`)
      const windows = at.state.maintenanceWindows ?? null
      const plan = dryRun({
        spec: at.state.spec,
        instances: observe(at.instances, at.records),
        request: {
          kind: r.kind,
          startedBy: r.startedBy,
          target: r.target,
          pace: r.pace,
          scope: r.scope,
        },
        healthDeadlineMs: r.healthDeadlineMs,
        ...(r.minHealthyTimeMs ? { minHealthyTimeMs: r.minHealthyTimeMs } : {}),
        batchSoak: r.batchSoak ?? null,
        progressDeadlineMs: r.progressDeadlineMs ?? null,
        ...(r.rollForwardFrom ? { rollForwardFrom: r.rollForwardFrom } : {}),
        adaptiveRamp: at.state.upgradeSettings?.adaptiveRamp === true,
        nextInstanceId: at.state.nextInstanceId,
        nowMs: r.startedAtMs,
        ...(windows ? { windowAt: (ms: number) => windowStateAt(windows, ms) } : {}),
      })
      compared++
      if (windows) {
        withWindows++
        // Each batch's latest start (the worst case) falls in the window shown; a batch the worst
        // case never reaches (its progressDeadline stops it first) shows none, but the first
        // always starts.
        for (const b of plan.batches) {
          const w = b.window
          if (
            w === undefined
              ? b.batch === 1
              : !(w.openedAtMs <= w.estimatedStartAtMs && w.estimatedStartAtMs < w.closesAtMs)
          )
            mismatches.push(`seed ${seed}: batch ${b.batch}: window ${JSON.stringify(w)}`)
        }
      }
      const predicted = plan.batches.map((b) => b.instances.map((i) => i.instanceId))
      if (
        JSON.stringify(predicted) !== JSON.stringify(batchesOf(r)) ||
        plan.outcome.status !== r.status
      )
        mismatches.push(
          `seed ${seed}: planned ${JSON.stringify(predicted)} → ${plan.outcome.status}, ran ${JSON.stringify(batchesOf(r))} → ${r.status}`,
        )
    }
    expect(mismatches).toEqual([])
    expect(compared).toBeGreaterThan(SEEDS / 2) // most seeds do roll
    expect(withWindows).toBeGreaterThan(SEEDS / 10) // and some of them inside windows
  })
})
