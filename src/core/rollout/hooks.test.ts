/**
 * Lifecycle hooks (docs/rollouts.md § Lifecycle hooks): what one answer means (`decideHook`, a
 * table), and the pure `planStep` around it: a pre-reimage call before any reimage, a deferral
 * that holds the reimage until it ends, a skip that leaves the instance and counts it nowhere, a
 * post-healthy fail rolled back, a late answer to an older call ignored, a cancel that skips the
 * instances still waiting on the hook.
 */
import { describe, expect, it } from 'vitest'
import { fleet, spec } from '../../../test-support/builders.js'
import { decideHook, hookProgress } from './hooks.js'
import type { HookAnswer, HookResult, HookSpec } from './hooks.js'
import { planStep } from './plan.js'
import type { Step } from './plan.js'
import { progressOf } from './progress.js'
import { startRollout } from './start.js'
import type { InstanceObservation, Rollout } from './types.js'

const S = 1000
const PRE: HookSpec = { url: 'http://h/pre', timeoutMs: 5 * S, defaultAction: 'skip' }
const POST: HookSpec = { url: 'http://h/post', timeoutMs: 5 * S, defaultAction: 'continue' }
const ok = (answer: string, more: object = {}): HookResult => ({ kind: 'answer', answer, ...more })

describe('decideHook', () => {
  const p = hookProgress('preReimage', 0)
  const cases: [string, HookResult, object][] = [
    ['continue', ok('continue'), { action: 'continue', record: { source: 'webhook' } }],
    [
      'skip, quoted',
      ok('skip', { reason: ' busy ' }),
      { action: 'skip', record: { quote: 'busy' } },
    ],
    [
      'defer 30 s',
      ok('defer', { retryAfterSeconds: 30 }),
      { action: 'defer', progress: { deferrals: 1, notBeforeMs: 31_000, call: 1 } },
    ],
    ['defer, no retryAfter: 60 s', ok('defer'), { progress: { notBeforeMs: 61_000 } }],
    [
      'defer 0 s: clamped to 1 s',
      ok('defer', { retryAfterSeconds: 0 }),
      { progress: { notBeforeMs: 2_000 } },
    ],
    [
      'defer 1 day: clamped to 10 min',
      ok('defer', { retryAfterSeconds: 86_400 }),
      { record: { retryAfterMs: 600_000 } },
    ],
    [
      'defer with a string retryAfter: default',
      ok('defer', { retryAfterSeconds: 'soon' }),
      { action: 'skip', record: { source: 'default', cause: 'unparseable' } },
    ],
    [
      'fail is not a pre-reimage answer: default',
      ok('fail'),
      { action: 'skip', record: { cause: 'unparseable', quote: 'answer "fail"' } },
    ],
    [
      'timeout: default',
      { kind: 'error', cause: 'timeout', detail: 'no answer within 5000 ms' },
      { action: 'skip', record: { source: 'default', cause: 'timeout' } },
    ],
    [
      'HTTP 500: default, body quoted',
      { kind: 'error', cause: 'status', detail: 'HTTP 500: down' },
      { action: 'skip', record: { cause: 'status', quote: 'HTTP 500: down' } },
    ],
  ]
  for (const [name, result, want] of cases)
    it(name, () => expect(decideHook('preReimage', PRE, p, result, 1_000)).toMatchObject(want))

  it('a defer past maxDeferrals or maxDeferTime takes the default', () => {
    const spec = { ...PRE, maxDeferrals: 2, maxDeferMs: 100 * S }
    const twice = { ...p, call: 2, deferrals: 2 }
    expect(decideHook('preReimage', spec, twice, ok('defer'), 10 * S)).toMatchObject({
      action: 'skip',
      record: { source: 'default', cause: 'deferLimit' },
    })
    // 50 s + 60 s = 110 s after the first call: past 100 s.
    expect(decideHook('preReimage', spec, p, ok('defer'), 50 * S).record.cause).toBe('deferLimit')
    expect(decideHook('preReimage', spec, p, ok('defer'), 30 * S).action).toBe('defer')
  })

  it('post-healthy: fail quoted; skip is not its answer', () => {
    const q = hookProgress('postHealthy', 0)
    expect(decideHook('postHealthy', POST, q, ok('fail', { reason: 'smoke' }), 0)).toMatchObject({
      action: 'fail',
      record: { hook: 'postHealthy', answer: 'fail', quote: 'smoke' },
    })
    expect(decideHook('postHealthy', POST, q, ok('skip'), 0)).toMatchObject({
      action: 'continue',
      record: { source: 'default', cause: 'unparseable' },
    })
  })
})

const OS = {
  kind: 'OSImage',
  startedBy: 'Platform',
  target: { imageVersion: '1.1.0', modelGeneration: 1 },
  pace: 'batched',
  scope: null,
} as const

function begin(hooks = { preReimage: PRE, postHealthy: POST }): Rollout {
  return startRollout({
    id: 'r1',
    spec: spec(),
    request: OS,
    healthDeadlineMs: 300 * S,
    hooks,
    nowMs: 0,
  })
}

function plan(
  r: Rollout,
  instances: readonly InstanceObservation[],
  nowMs: number,
  hookAnswers: readonly HookAnswer[] = [],
  cancelRequestedAtMs: number | null = null,
): Step {
  return planStep(
    {
      spec: spec(),
      instances,
      rollout: r,
      cancelRequestedAtMs,
      failures: [],
      hookAnswers,
      nextInstanceId: 100,
    },
    nowMs,
  )
}

const answer = (
  instanceId: string,
  hook: HookAnswer['hook'],
  call: number,
  result: HookResult,
) => ({
  rolloutId: 'r1',
  instanceId,
  hook,
  call,
  result,
})
const types = (s: Step) => s.actions.map((a) => a.type)

describe('planStep with lifecycle hooks', () => {
  const f = fleet(10) // batch 1 = ['0', '5']

  it('asks the pre-reimage hook first, and reimages only after continue', () => {
    const s1 = plan(begin(), f, 0)
    expect(s1.rollout.attempts.map((a) => a.state)).toEqual(['PreReimage', 'PreReimage'])
    expect(types(s1)).toEqual(['callHook', 'callHook'])
    expect(s1.actions[0]).toMatchObject({
      hook: 'preReimage',
      instanceId: '0',
      call: 0,
      url: 'http://h/pre',
    })
    const s2 = plan(s1.rollout, f, 1 * S, [answer('0', 'preReimage', 0, ok('continue'))])
    expect(s2.rollout.attempts[0]).toMatchObject({
      state: 'Reimaging',
      deadlineAtMs: 301 * S,
      hook: null,
    })
    expect(s2.actions).toContainEqual(
      expect.objectContaining({ type: 'reimage', instanceIds: ['0'] }),
    )
    expect(s2.events.find((e) => e.instanceId === '0')).toMatchObject({
      from: 'PreReimage',
      to: 'Reimaging',
      reason: 'PreReimageContinue',
      hook: { hook: 'preReimage', answer: 'continue', source: 'webhook' },
    })
  })

  it("an answer to another rollout's call is not this one's", () => {
    // Rollout r0 asked about instance 0 and ended before its answer landed; r1 asks the same
    // call number and must not take r0's `continue` (or skip, or defer) as its own.
    const s1 = plan(begin(), f, 0)
    const stale = { ...answer('0', 'preReimage', 0, ok('continue')), rolloutId: 'r0' }
    const s2 = plan(s1.rollout, f, 1 * S, [stale])
    expect(s2.rollout.attempts[0]).toMatchObject({ state: 'PreReimage' })
    expect(s2.actions).not.toContainEqual(expect.objectContaining({ type: 'reimage' }))
  })

  it('a deferral holds the reimage and the next call until it ends; a late answer is ignored', () => {
    const s1 = plan(begin(), f, 0)
    const s2 = plan(s1.rollout, f, 0, [
      answer('0', 'preReimage', 0, ok('defer', { retryAfterSeconds: 30 })),
    ])
    expect(s2.rollout.attempts[0]!.hook).toMatchObject({
      deferrals: 1,
      notBeforeMs: 30 * S,
      call: 1,
    })
    expect(
      s2.actions.filter(
        (a) => a.type === 'reimage' || (a.type === 'callHook' && a.instanceId === '0'),
      ),
    ).toEqual([])
    expect(s2.wakeAtMs).toBe(30 * S)
    // A repeated answer to call 0 changes nothing.
    const s3 = plan(s2.rollout, f, 10 * S, [answer('0', 'preReimage', 0, ok('continue'))])
    expect(s3.rollout.attempts[0]!.state).toBe('PreReimage')
    const s4 = plan(s3.rollout, f, 30 * S)
    expect(s4.actions).toContainEqual(
      expect.objectContaining({ type: 'callHook', instanceId: '0', call: 1, deferrals: 1 }),
    )
  })

  it('a skipped instance is left alone and counted in none of the counts', () => {
    const s1 = plan(begin(), f, 0)
    const s2 = plan(s1.rollout, f, 0, [
      answer('0', 'preReimage', 0, ok('skip')),
      answer('5', 'preReimage', 0, ok('skip')),
    ])
    // The batch is over: batch 2 (the next update domain) starts in the same pass.
    expect(s2.rollout.attempts.map((a) => [a.instanceId, a.state])).toEqual([
      ['0', 'Skipped'],
      ['5', 'Skipped'],
      ['1', 'PreReimage'],
      ['6', 'PreReimage'],
    ])
    expect(progressOf(s2.rollout)).toMatchObject({
      successfulInstanceCount: 0,
      failedInstanceCount: 0,
      inProgressInstanceCount: 2,
      pendingInstanceCount: 6,
    })
    expect(types(s2).filter((t) => t === 'reimage')).toEqual([])
  })

  it('a post-healthy fail fails the instance, quoted, and restores it', () => {
    let r = plan(begin({ preReimage: PRE, postHealthy: POST }), f, 0).rollout
    r = plan(r, f, 0, [
      answer('0', 'preReimage', 0, ok('continue')),
      answer('5', 'preReimage', 0, ok('continue')),
    ]).rollout
    const up = f.map((i) =>
      i.instanceId === '0' || i.instanceId === '5'
        ? {
            ...i,
            osImageVersion: '1.1.0',
            previousOsImageVersion: '1.0.0',
            health: 'healthy' as const,
            bootedAtMs: 1 * S,
          }
        : i,
    )
    const s3 = plan(r, up, 2 * S)
    expect(s3.rollout.attempts.map((a) => a.state)).toEqual(['PostHealthy', 'PostHealthy'])
    expect(s3.actions).toContainEqual(
      expect.objectContaining({ type: 'callHook', hook: 'postHealthy', instanceId: '0' }),
    )
    const s4 = plan(s3.rollout, up, 3 * S, [
      answer('0', 'postHealthy', 0, ok('fail', { reason: 'checkout 500' })),
      answer('5', 'postHealthy', 0, ok('continue')),
    ])
    expect(s4.rollout.attempts[0]).toMatchObject({
      state: 'RollingBack',
      failure: {
        reason: 'PostHealthyHookFailed',
        message: 'The post-healthy hook failed instance 0: checkout 500',
      },
    })
    expect(s4.rollout.attempts[1]!.state).toBe('Succeeded')
    expect(s4.actions).toContainEqual({ type: 'restore', instanceIds: ['0'] })
  })

  it('a cancel skips the instances still waiting on the pre-reimage hook', () => {
    const s1 = plan(begin(), f, 0)
    const s2 = plan(s1.rollout, f, 5 * S, [], 4 * S)
    expect(s2.rollout.attempts.map((a) => a.state)).toEqual(['Skipped', 'Skipped'])
    expect(s2.rollout.status).toBe('Cancelled')
    expect(s2.events.filter((e) => e.to === 'Skipped').map((e) => e.reason)).toEqual([
      'CancelRequested',
      'CancelRequested',
    ])
  })

  it('a model rollout freezes no hooks', () => {
    const r = startRollout({
      id: 'r2',
      spec: spec(),
      request: { ...OS, kind: 'Model' },
      healthDeadlineMs: 300 * S,
      hooks: { preReimage: PRE },
      nowMs: 0,
    })
    expect(r.hooks).toBeUndefined()
  })
})
