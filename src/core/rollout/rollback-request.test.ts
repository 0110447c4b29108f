/**
 * Rollback on every path (docs/rollouts.md § Rollback on every path): a manual OS rollout that
 * asks for rollback restores its failed instances as an automatic one does; one that does not
 * ask keeps Azure's rule (R1.4: no rollback). Model rollouts have no previous disk to return to.
 */
import { describe, expect, it } from 'vitest'
import { fleet, spec } from '../../../test-support/builders.js'
import type { ScaleSetSpec } from '../scale-set/spec.js'
import { planStep } from './plan.js'
import { startRollout } from './start.js'
import type { StartRequest } from './start.js'
import type { InstanceObservation, Rollout } from './types.js'

const MIN = 60_000
const MANUAL: StartRequest = {
  kind: 'OSImage',
  startedBy: 'User',
  target: { imageVersion: '1.1.0', modelGeneration: 1 },
  pace: 'batched',
  scope: null,
}
const begin = (s: ScaleSetSpec, request: Partial<StartRequest>): Rollout =>
  startRollout({
    id: 'r1',
    spec: s,
    request: { ...MANUAL, ...request },
    healthDeadlineMs: 5 * MIN,
    nowMs: 0,
  })
const step = (s: ScaleSetSpec, r: Rollout, f: readonly InstanceObservation[], nowMs: number) =>
  planStep(
    {
      spec: s,
      instances: f,
      rollout: r,
      cancelRequestedAtMs: null,
      failures: [],
      nextInstanceId: 10,
    },
    nowMs,
  )

describe('rollback on every path', () => {
  it.each([
    ['omitted: Azure default for a manual start', {}, spec(), false],
    ['asked for', { rollback: true }, spec(), true],
    ['refused', { rollback: false }, spec(), false],
    [
      'asked for on a set with disableAutomaticRollback (the request wins)',
      { rollback: true },
      spec({ automaticOS: { ...spec().automaticOS, disableAutomaticRollback: true } }),
      true,
    ],
    ['a model rollout: nothing to roll back to', { kind: 'Model', rollback: true }, spec(), false],
  ] as const)('%s → rollback %s', (_, request, s, expected) => {
    expect(begin(s, request as Partial<StartRequest>).rollback).toBe(expected)
  })

  it('a manual start with rollback restores the failed instances of its batch', () => {
    const s = spec()
    const f = fleet(10)
    const first = step(s, begin(s, { rollback: true }), f, 0)
    const ids = first.rollout.attempts.map((a) => a.instanceId)
    const upgraded = f.map((i) =>
      ids.includes(i.instanceId)
        ? {
            ...i,
            osImageVersion: '1.1.0',
            previousOsImageVersion: '1.0.0',
            bootedAtMs: 0,
            health: 'unhealthy' as const,
          }
        : i,
    )
    const failed = step(s, first.rollout, upgraded, 5 * MIN)
    expect(failed.rollout.attempts.map((a) => a.state)).toEqual(['RollingBack', 'RollingBack'])
    expect(failed.actions).toEqual([
      { type: 'restore', instanceIds: [ids[0]] },
      { type: 'restore', instanceIds: [ids[1]] },
    ])
    // restored: back on 1.0.0 and running → RolledBack; the after-batch rule faults (100% > 20%)
    const done = step(s, failed.rollout, f, 5 * MIN + 1000)
    expect(done.rollout.attempts.map((a) => a.state)).toEqual(['RolledBack', 'RolledBack'])
    expect(done.rollout.status).toBe('Faulted')
  })
})
