/**
 * Health gates in the pure core (docs/controls.md § Health gates): the verdicts' combination, the
 * cohort rule, placeholders, which instances wait for gates, and planStep's decisions on them.
 */
import { describe, expect, it } from 'vitest'
import { fleet, spec } from '../../../test-support/builders.js'
import { planStep } from '../rollout/plan.js'
import { startRollout } from '../rollout/start.js'
import type { InstanceObservation, Rollout } from '../rollout/types.js'
import type { GateInputs } from './gates.js'
import { cohortPasses, compare, gateCandidates, gateVerdictOf, renderQuery } from './gates.js'

const MIN = 60_000
const FAIL = {
  status: 'fail',
  gate: 'errors',
  reason: 'GateCohortRegressed',
  message: 'upgraded 0.5 > 0',
} as const

function begin(): Rollout {
  return startRollout({
    id: 'r1',
    spec: spec(),
    request: {
      kind: 'OSImage',
      startedBy: 'Platform',
      target: { imageVersion: '1.1.0', modelGeneration: 1 },
      pace: 'batched',
      scope: null,
    },
    healthDeadlineMs: 5 * MIN,
    nowMs: 0,
  })
}

function step(
  r: Rollout,
  instances: readonly InstanceObservation[],
  gates: GateInputs | null,
  nowMs: number,
) {
  return planStep(
    {
      spec: spec(),
      instances,
      rollout: r,
      cancelRequestedAtMs: null,
      failures: [],
      nextInstanceId: 100,
      gates,
    },
    nowMs,
  )
}

/** The fleet after batch 1's instances were reimaged to 1.1.0 and answer healthy. */
const upgraded = (ids: readonly string[]) =>
  fleet(10).map((i) =>
    ids.includes(i.instanceId) ? { ...i, osImageVersion: '1.1.0', bootedAtMs: 1000 } : i,
  )

const inputs = (o: Partial<GateInputs>): GateInputs => ({
  instanceGates: false,
  cohortGates: false,
  instances: {},
  batches: {},
  ...o,
})

describe('health gates in the core', () => {
  it('the cohort rule: upgraded ≤ baseline × (1 + tolerance); a baseline of 0 allows only 0', () => {
    expect(cohortPasses(0.011, 0.01, 0.2)).toBe(true)
    expect(cohortPasses(0.013, 0.01, 0.2)).toBe(false)
    expect(cohortPasses(0, 0, 0.5)).toBe(true)
    expect(cohortPasses(0.001, 0, 10)).toBe(false)
    expect(cohortPasses(Number.NaN, 0.01, 0.2)).toBe(false) // no data is never a pass
    expect([
      compare(1, '<', 1),
      compare(1, '<=', 1),
      compare(2, '!=', 1),
      compare(1, '==', 1),
    ]).toEqual([false, true, true, true])
  })

  it('fills placeholders, escaped for PromQL strings', () => {
    expect(
      renderQuery('x{a="{{instance}}",s="{{scaleSet}}",v="{{version}}"}', {
        instance: '3',
        scaleSet: 'we"b',
        version: '1.0.0',
      }),
    ).toBe('x{a="3",s="we\\"b",v="1.0.0"}')
  })

  it('combines: any failure fails, both kinds must pass, else pending; no gates: null', () => {
    const r = begin()
    const a = {
      ...(r.attempts[0] ?? { instanceId: '0', batch: 1 }),
      instanceId: '0',
      batch: 1,
    } as Rollout['attempts'][number]
    expect(gateVerdictOf(a, null)).toBeNull()
    expect(gateVerdictOf(a, inputs({}))).toBeNull()
    expect(gateVerdictOf(a, inputs({ instanceGates: true }))).toEqual({ status: 'pending' })
    const both = inputs({
      instanceGates: true,
      cohortGates: true,
      instances: { '0': { status: 'pass' } },
    })
    expect(gateVerdictOf(a, both)).toEqual({ status: 'pending' })
    expect(gateVerdictOf(a, { ...both, batches: { '1': { status: 'pass' } } })).toEqual({
      status: 'pass',
    })
    expect(gateVerdictOf(a, { ...both, batches: { '1': FAIL } })).toEqual(FAIL)
  })

  it('an instance healthy on the new disk waits for its gates, counts when they pass, fails when one fails', () => {
    const first = step(begin(), fleet(10), null, 0)
    const batch = first.rollout.attempts.map((a) => a.instanceId)
    expect(batch).toEqual(['0', '5'])
    const fleet1 = upgraded(batch)
    // The gates are asked in the pass that first sees them healthy on the target.
    const c = gateCandidates(first.rollout, fleet1)
    expect(c.instances.map((x) => x.attemptId)).toEqual(['0', '5'])
    expect(c.batch?.batch).toBe(1)
    const gated = inputs({ instanceGates: true, cohortGates: true })
    const pending = step(first.rollout, fleet1, gated, 2000)
    expect(pending.rollout.attempts.map((a) => a.state)).toEqual(['WaitingHealth', 'WaitingHealth'])
    // Pending is never a pass, even long after the health deadline.
    const later = step(pending.rollout, fleet1, gated, 60 * MIN)
    expect(later.rollout.attempts.map((a) => a.state)).toEqual(['WaitingHealth', 'WaitingHealth'])
    const passes = { status: 'pass' } as const
    const ok = step(
      pending.rollout,
      fleet1,
      { ...gated, instances: { '0': passes, '5': passes }, batches: { '1': passes } },
      3000,
    )
    expect(ok.rollout.attempts.slice(0, 2).map((a) => a.state)).toEqual(['Succeeded', 'Succeeded'])
    expect(ok.rollout.batchCount).toBe(2) // and the next batch starts
    expect(
      ok.events.filter((e) => e.reason === 'HealthyAndGatesPassed').map((e) => e.instanceId),
    ).toEqual(['0', '5'])
    const bad = step(
      pending.rollout,
      fleet1,
      { ...gated, instances: { '0': passes, '5': passes }, batches: { '1': FAIL } },
      3000,
    )
    expect(bad.rollout.attempts.map((a) => [a.state, a.failure])).toEqual(
      ['0', '5'].map((id) => [
        'RollingBack',
        {
          reason: 'GateFailed',
          message: `Instance ${id} failed health gate 'errors': GateCohortRegressed: upgraded 0.5 > 0`,
        },
      ]),
    )
    expect(bad.actions).toContainEqual({ type: 'restore', instanceIds: ['0'] })
    expect(bad.events.filter((e) => e.reason === 'GateFailed')).toHaveLength(2)
  })

  it('a batch is judged by its cohort gates only once all its open instances are healthy', () => {
    const first = step(begin(), fleet(10), null, 0)
    const half = upgraded(['0']).map((i) =>
      i.instanceId === '5' ? { ...i, osImageVersion: '1.1.0', health: 'unhealthy' as const } : i,
    )
    const c = gateCandidates(first.rollout, half)
    expect(c.instances.map((x) => x.attemptId)).toEqual(['0'])
    expect(c.batch).toBeNull()
  })
})
