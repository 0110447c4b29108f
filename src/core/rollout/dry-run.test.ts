/**
 * The dry-run plan (docs/rollouts.md § The dry-run plan) over the pure engine: worked numbers for
 * the batches, the budgets, the pre-check, deferral and the worst case.
 */
import { describe, expect, it } from 'vitest'
import { fleet, instance, spec } from '../../../test-support/builders.js'
import { DEFAULT_ROLLING_POLICY } from '../scale-set/spec.js'
import { dryRun } from './dry-run.js'
import type { DryRunInput } from './dry-run.js'
import { CODES } from './messages.js'

const MIN = 60_000
const input = (o: Partial<DryRunInput> = {}): DryRunInput => ({
  spec: spec(),
  instances: fleet(10),
  request: {
    kind: 'OSImage',
    startedBy: 'Platform',
    target: { imageVersion: '1.1.0', modelGeneration: 1 },
    pace: 'batched',
    scope: null,
  },
  healthDeadlineMs: 5 * MIN,
  nextInstanceId: 10,
  nowMs: 1_000_000,
  ...o,
})
/** A spec whose rolling policy is in force for automatic rollouts (useRollingUpgradePolicy). */
const withPolicy = (
  rolling: Partial<typeof DEFAULT_ROLLING_POLICY>,
  o: Parameters<typeof spec>[0] = {},
) =>
  spec({
    ...o,
    rolling: { ...DEFAULT_ROLLING_POLICY, ...rolling },
    rollingPolicySet: true,
    automaticOS: { ...spec().automaticOS, useRollingUpgradePolicy: true },
  })
const ids = (p: ReturnType<typeof dryRun>) =>
  p.batches.map((b) => b.instances.map((i) => i.instanceId))

describe('dry-run plan', () => {
  it('10 healthy instances, default policy: 5 batches of 2 along the update domains', () => {
    const p = dryRun(input())
    expect(ids(p)).toEqual([
      ['0', '5'],
      ['1', '6'],
      ['2', '7'],
      ['3', '8'],
      ['4', '9'],
    ])
    expect(p.precheck).toEqual({ passes: true, error: null })
    expect(p.outcome).toEqual({ status: 'Completed', error: null })
    // 20% of 10: 2 may be unhealthy before each batch, none is
    expect(p.batches[0]?.unhealthyBudget).toEqual({
      instanceCount: 10,
      unhealthyCount: 0,
      thresholdPercent: 20,
      moreAllowed: 2,
    })
    // 20% of those upgraded so far may fail: 0 of 2, 0 of 4, 1 of 6, 1 of 8, 2 of 10
    expect(p.batches.map((b) => b.upgradedFailuresAllowed)).toEqual([0, 0, 1, 1, 2])
    expect(p.batches[0]?.instances[0]?.why).toEqual([
      'on 1.0.0, behind the target',
      'update domain 0: never two update domains in one batch',
    ])
    // worst case per batch: the reimage lands just inside its 5 min, health just inside the next 5
    expect(p.worstCaseDurationMs).toBe(5 * 2 * (5 * MIN - 1))
  })

  it('adds the pause between batches to the worst case, and leaves instances on the target out', () => {
    const p = dryRun(
      input({
        spec: withPolicy({ pauseBetweenBatchesMs: MIN }),
        instances: fleet(10).map((i) =>
          i.instanceId === '0' ? { ...i, osImageVersion: '1.1.0' } : i,
        ),
      }),
    )
    expect(p.batches.flatMap((b) => b.instances.map((i) => i.instanceId))).not.toContain('0')
    expect(p.batches.length).toBe(5) // 9 to move, 2 at a time
    // the engine waits the pause after the last batch too, before it finds nothing left
    expect(p.worstCaseDurationMs).toBe(5 * 2 * (5 * MIN - 1) + 5 * MIN)
  })

  it('puts unhealthy instances first when asked, and says why', () => {
    const instances = fleet(10).map((i) =>
      i.instanceId === '3' ? { ...i, health: 'unhealthy' as const } : i,
    )
    const p = dryRun(
      input({
        spec: withPolicy({ prioritizeUnhealthy: true }),
        instances,
      }),
    )
    expect(p.batches[0]?.instances[0]?.instanceId).toBe('3')
    expect(p.batches[0]?.instances[0]?.why).toContain(
      'unhealthy first (prioritizeUnhealthyInstances)',
    )
    expect(p.batches[0]?.unhealthyBudget).toMatchObject({ unhealthyCount: 1, moreAllowed: 1 })
  })

  it('shows the pre-check failing now: 3 of 10 unhealthy is more than 20%', () => {
    const instances = fleet(10).map((i) =>
      ['1', '2', '3'].includes(i.instanceId) ? { ...i, health: 'unhealthy' as const } : i,
    )
    const p = dryRun(input({ instances }))
    expect(p.precheck.passes).toBe(false)
    expect(p.precheck.error?.code).toBe(CODES.beforeRollingUpgrade)
    expect(p.batches).toEqual([])
    expect(p.outcome.status).toBe('Faulted')
  })

  it('with deferral, lists the instances that wait for approval instead of planning them', () => {
    const s = spec({ automaticOS: { ...spec().automaticOS, deferral: true } })
    const instances = fleet(4).map((i) =>
      i.instanceId === '2' ? { ...i, osUpgradeApproved: true } : i,
    )
    const p = dryRun(input({ spec: s, instances }))
    expect(ids(p)).toEqual([['2']])
    expect([...p.awaitingApproval].sort()).toEqual(['0', '1', '3'])
    expect(p.outcome.status).toBe('RollingForward')
  })

  it('zones one at a time, and maxSurge names the replacements', () => {
    const zones = ['1', '2', '3']
    const s = withPolicy({ maxSurge: true }, { zones })
    const p = dryRun(input({ spec: s, instances: fleet(6, { zones }), nextInstanceId: 6 }))
    const first = p.batches[0]?.instances[0]
    expect(first?.why).toContain(`zone ${first?.zone}: one zone at a time`)
    expect(first?.method).toBe('surge')
    expect(first?.surgeInstanceId).toBe('6')
    expect(p.outcome.status).toBe('Completed')
    const byZone = p.batches.map((b) => new Set(b.instances.map((i) => i.zone)).size)
    expect(byZone.every((n) => n === 1)).toBe(true)
  })

  it('an empty plan when every instance is on the target', () => {
    const p = dryRun(input({ instances: fleet(3, { version: '1.1.0' }) }))
    expect(p.batches).toEqual([])
    expect(p.outcome.status).toBe('Completed')
    expect(p.worstCaseDurationMs).toBe(0)
    expect(instance('0').osImageVersion).toBe('1.0.0') // the builder's fleet was not touched
  })
})
