/**
 * Prometheus metrics of waves (issue 21 §5, docs/operations.md § Metrics): waves started and
 * ended by outcome, failures by typed reason, stage transitions, how long stages take, and the
 * plans by phase now. On the process registry of metrics.ts, registered once per registry.
 */
import { Counter, Gauge, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'
import type { WaveNote, WavePlanState } from '../core/waves/wave.js'

export type WaveMetrics = ReturnType<typeof createWaveMetrics>

const STAGE_SECONDS = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600, 86400]

export function createWaveMetrics(registry: Registry) {
  const m = waveMetricSet(registry)
  const bakingPlans = new Set<string>()
  return {
    /** Records what one saved decision of a plan says. */
    waveStep(
      planKey: string,
      before: WavePlanState,
      after: WavePlanState,
      notes: readonly WaveNote[],
    ): void {
      for (const n of notes) {
        if (n.kind === 'WaveStarted') m.waves.inc({ status: 'Started' })
        else if (n.kind === 'WaveSucceeded') m.waves.inc({ status: 'Succeeded' })
        else if (n.kind === 'WaveCancelled') m.waves.inc({ status: 'Cancelled' })
        else if (n.kind === 'WaveFailed') {
          m.waves.inc({ status: 'Failed' })
          m.failures.inc({ reason: after.wave?.reason?.code ?? 'Unknown' })
        } else m.stages.inc({ transition: TRANSITIONS[n.kind] })
      }
      const wave = after.wave
      for (const [i, st] of (wave?.stages ?? []).entries()) {
        const was = before.wave?.version === wave?.version ? before.wave?.stages[i] : undefined
        if (st.endedAtMs !== null && was?.endedAtMs == null && st.startedAtMs !== null)
          m.stageSeconds.observe((st.endedAtMs - st.startedAtMs) / 1000)
      }
      const isBaking = wave?.phase === 'Rolling' && wave.stages[wave.stage]?.phase === 'Baking'
      if (isBaking) bakingPlans.add(planKey)
      else bakingPlans.delete(planKey)
      m.baking.set(bakingPlans.size)
    },
  }
}

/** The wave metrics on `registry`: the ones registered there already, else new ones. */
function waveMetricSet(registry: Registry) {
  const waves = once(
    registry,
    'osroll_waves_total',
    () =>
      new Counter({
        name: 'osroll_waves_total',
        help: 'Waves of rollout plans started and ended, by status (Started, Succeeded, Failed, Cancelled)',
        labelNames: ['status'],
        registers: [registry],
      }),
  )
  const failures = once(
    registry,
    'osroll_wave_failures_total',
    () =>
      new Counter({
        name: 'osroll_wave_failures_total',
        help: 'Waves stopped by a failed stage, by typed reason (ScaleSetRolloutFaulted, ScaleSetUnhealthy, ...)',
        labelNames: ['reason'],
        registers: [registry],
      }),
  )
  const stages = once(
    registry,
    'osroll_wave_stage_transitions_total',
    () =>
      new Counter({
        name: 'osroll_wave_stage_transitions_total',
        help: 'Stage transitions of waves (started, baking, bake_restarted, completed)',
        labelNames: ['transition'],
        registers: [registry],
      }),
  )
  const stageSeconds = once(
    registry,
    'osroll_wave_stage_duration_seconds',
    () =>
      new Histogram({
        name: 'osroll_wave_stage_duration_seconds',
        help: 'From a stage start (its sets released) to its end, bake included',
        buckets: STAGE_SECONDS,
        registers: [registry],
      }),
  )
  const baking = once(
    registry,
    'osroll_wave_stages_baking',
    () =>
      new Gauge({
        name: 'osroll_wave_stages_baking',
        help: 'Stages baking now, across the plans this replica drives',
        registers: [registry],
      }),
  )
  return { waves, failures, stages, stageSeconds, baking }
}

const TRANSITIONS: Record<string, string> = {
  StageStarted: 'started',
  StageBaking: 'baking',
  BakeRestarted: 'bake_restarted',
  StageCompleted: 'completed',
}

/** The metric already registered under `name` (another system on the same registry), or a new one. */
function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}
