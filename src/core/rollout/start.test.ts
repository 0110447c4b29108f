import { describe, expect, it } from 'vitest'
import { fleet, spec } from '../../../test-support/builders.js'
import {
  AZURE_TIMING,
  PROMPT_TIMING,
  decideTrigger,
  jitterFraction,
  startRollout,
} from './start.js'
import type { TriggerInput } from './start.js'
import { DEFAULT_ROLLING_POLICY } from '../scale-set/spec.js'
import { findCandidates } from './batch.js'

const base = (o: Partial<TriggerInput> = {}): TriggerInput => ({
  spec: spec(),
  instances: fleet(10),
  latest: { version: '1.1.0', eligibleAtMs: 1_000_000 },
  autoEnabledAtMs: 0,
  firstSinceEnable: false,
  faultedVersions: new Set(),
  lastPlatformRollout: null,
  timing: { ...PROMPT_TIMING, laterDelayMaxMs: 0, firstDelayMaxMs: 0 },
  ...o,
})

describe('§4.1 automatic OS upgrade triggers', () => {
  it('starts a Platform rollout to the latest eligible version when an instance is behind', () => {
    expect(decideTrigger(base(), 1_000_000)).toEqual({
      type: 'start',
      request: {
        kind: 'OSImage',
        startedBy: 'Platform',
        target: { imageVersion: '1.1.0', modelGeneration: 1 },
        pace: 'batched',
        scope: null,
      },
    })
  })

  it.each([
    [
      'automatic upgrades off',
      base({ spec: spec({ automaticOS: { ...spec().automaticOS, enabled: false } }) }),
    ],
    [
      'a pinned image',
      base({
        spec: spec({
          image: { kind: 'platform', publisher: 'P', offer: 'O', sku: 'S', version: '1.0.0' },
        }),
      }),
    ],
    ['nothing published', base({ latest: null })],
    ['every instance up to date', base({ instances: fleet(10, { version: '1.1.0' }) })],
    [
      'only protected instances behind',
      base({
        instances: fleet(2, { version: '1.0.0' }).map((i) => ({
          ...i,
          protectFromScaleSetActions: true,
        })),
      }),
    ],
    [
      'the version faulted before (no automatic retry)',
      base({ faultedVersions: new Set(['1.1.0']) }),
    ],
  ])('does nothing with %s', (_name, input) => {
    expect(decideTrigger(input, 2_000_000)).toEqual({ type: 'none' })
  })

  it('a newer version than a faulted one triggers a new attempt', () => {
    const input = base({
      faultedVersions: new Set(['1.1.0']),
      latest: { version: '1.2.0', eligibleAtMs: 1_000_000 },
    })
    expect(decideTrigger(input, 1_000_000).type).toBe('start')
  })

  it('waits for the delay of the timing profile: the first rollout after enabling uses the first delay', () => {
    const input = base({ timing: AZURE_TIMING, firstSinceEnable: true, autoEnabledAtMs: 5_000_000 })
    const d = decideTrigger(input, 5_000_000)
    expect(d.type).toBe('wait')
    const wake = (d as { wakeAtMs: number }).wakeAtMs
    expect(wake).toBeGreaterThanOrEqual(5_000_000)
    expect(wake).toBeLessThanOrEqual(5_000_000 + 3 * 3_600_000)
    expect(decideTrigger(input, wake).type).toBe('start')
  })

  it('later rollouts come 30–60 minutes after eligibility in the azure profile', () => {
    const d = decideTrigger(base({ timing: AZURE_TIMING }), 1_000_000) as {
      type: 'wait'
      wakeAtMs: number
    }
    expect(d.wakeAtMs - 1_000_000).toBeGreaterThanOrEqual(30 * 60_000)
    expect(d.wakeAtMs - 1_000_000).toBeLessThanOrEqual(60 * 60_000)
  })

  it('prompt timing spreads sets with a stable jitter of at most 30 s', () => {
    const at = (key: string): number =>
      (
        decideTrigger(base({ spec: spec({ key }), timing: PROMPT_TIMING }), 0) as {
          wakeAtMs: number
        }
      ).wakeAtMs
    const wakes = ['a', 'b', 'c', 'd', 'e'].map(at)
    for (const w of wakes) expect(w - 1_000_000).toBeLessThanOrEqual(30_000)
    expect(new Set(wakes).size).toBeGreaterThan(1)
    expect(at('a')).toBe(at('a'))
    expect(jitterFraction('x')).toBeGreaterThanOrEqual(0)
    expect(jitterFraction('x')).toBeLessThan(1)
  })

  it('after a rollout to V ended without faulting, the retry waits the retry delay', () => {
    const input = base({ lastPlatformRollout: { version: '1.1.0', endedAtMs: 2_000_000 } })
    expect(decideTrigger(input, 2_000_000)).toEqual({
      type: 'wait',
      wakeAtMs: 2_000_000 + PROMPT_TIMING.retryDelayMs,
    })
  })
})

describe('§4.8 model rollout triggers', () => {
  it.each([
    ['Rolling', 'batched'],
    ['Automatic', 'allAtOnce'],
  ] as const)(
    'mode %s starts a %s model rollout when instances run an older generation',
    (mode, pace) => {
      const input = base({
        spec: spec({
          mode,
          modelGeneration: 2,
          automaticOS: { ...spec().automaticOS, enabled: false },
        }),
      })
      expect(decideTrigger(input, 0)).toMatchObject({
        type: 'start',
        request: { kind: 'Model', pace, target: { modelGeneration: 2 } },
      })
    },
  )

  it('mode Manual never starts one (only manualupgrade does)', () => {
    const input = base({
      spec: spec({
        mode: 'Manual',
        modelGeneration: 2,
        automaticOS: { ...spec().automaticOS, enabled: false },
      }),
    })
    expect(decideTrigger(input, 0)).toEqual({ type: 'none' })
  })
})

describe('§4.2 the policy in force is frozen into the rollout', () => {
  const custom = { ...DEFAULT_ROLLING_POLICY, batchPercentMax: 50 }
  it.each([
    ['Platform, useRollingUpgradePolicy false → defaults', false, 'Platform', 20],
    ['Platform, useRollingUpgradePolicy true → the set policy', true, 'Platform', 50],
    ['User (manual trigger) with a set policy → the set policy', false, 'User', 50],
  ] as const)('%s', (_name, useSet, startedBy, percent) => {
    const s = spec({
      rolling: custom,
      rollingPolicySet: true,
      automaticOS: { ...spec().automaticOS, useRollingUpgradePolicy: useSet },
    })
    const r = startRollout({
      id: 'r',
      spec: s,
      request: {
        kind: 'OSImage',
        startedBy,
        target: { imageVersion: '1.1.0', modelGeneration: 1 },
        pace: 'batched',
        scope: null,
      },
      healthDeadlineMs: 1,
      nowMs: 0,
    })
    expect(r.policy.batchPercentMax).toBe(percent)
  })

  it('maxSurge is Uniform-only', () => {
    const s = spec({
      orchestrationMode: 'Flexible',
      rolling: { ...custom, maxSurge: true },
      rollingPolicySet: true,
    })
    const r = startRollout({
      id: 'r',
      spec: s,
      request: {
        kind: 'OSImage',
        startedBy: 'User',
        target: { imageVersion: '1.1.0', modelGeneration: 1 },
        pace: 'batched',
        scope: null,
      },
      healthDeadlineMs: 1,
      nowMs: 0,
    })
    expect(r.policy.maxSurge).toBe(false)
  })
})

describe('R1.3 a rollout stopped by unrelated unhealthy instances is retried once the set is healthy (issue 18, seed gap 4)', () => {
  // The seed: "If more than 20% of the scale set's instances become unhealthy, the scale set
  // upgrade stops"; the instances were unhealthy for another reason, so the image is not to blame.
  const held = { version: '1.1.0', endedAtMs: 1_000_000, held: true }
  const unhealthy = (n: number) =>
    fleet(10).map((i, k) => (k < n ? { ...i, health: 'unhealthy' as const } : i))

  it('waits while more than 20% are unhealthy: 3 of 10', () => {
    const t = base({ lastPlatformRollout: held, instances: unhealthy(3) })
    expect(decideTrigger(t, 1_000_001)).toEqual({ type: 'none' })
  })

  it('starts again at once, without the retry delay, when 2 of 10 are unhealthy', () => {
    const t = base({ lastPlatformRollout: held, instances: unhealthy(2) })
    expect(decideTrigger(t, 1_000_001)).toMatchObject({ type: 'start' })
  })

  it('a held durability mismatch waits until the cluster and the extension agree', () => {
    const s = spec({
      serviceFabric: true,
      healthSource: 'none',
      serviceFabricNodeType: { clusterId: '/c', nodeTypeRef: 'nt1', durability: 'Silver' },
    })
    const t = base({ spec: s, lastPlatformRollout: held })
    expect(decideTrigger({ ...t, clusterDurability: 'Gold' }, 1_000_001)).toEqual({ type: 'none' })
    expect(decideTrigger({ ...t, clusterDurability: 'Silver' }, 1_000_001)).toMatchObject({
      type: 'start',
    })
  })
})

describe('R1.7 upgrade mode Manual: an OS rollout moves only instances on the latest model', () => {
  const manual = spec({ mode: 'Manual', modelGeneration: 2 })
  const mixed = fleet(4).map((i) => ({ ...i, modelGeneration: i.instanceId < '2' ? 2 : 1 }))

  it('starts for the instances on the latest model, and not when none of them is behind', () => {
    expect(decideTrigger(base({ spec: manual, instances: mixed }), 1_000_000).type).toBe('start')
    const behindModel = fleet(4).map((i) => ({ ...i, modelGeneration: 1 }))
    expect(decideTrigger(base({ spec: manual, instances: behindModel }), 1_000_000)).toEqual({
      type: 'none',
    })
    // Rolling and Automatic apply the latest model with the new disk: every instance counts.
    const rolling = spec({ mode: 'Rolling', modelGeneration: 2 })
    expect(decideTrigger(base({ spec: rolling, instances: behindModel }), 1_000_000).type).toBe(
      'start',
    )
  })

  it('leaves the instances behind the model out of the candidates, for manualupgrade', () => {
    const request = {
      kind: 'OSImage',
      startedBy: 'Platform',
      target: { imageVersion: '1.1.0', modelGeneration: 2 },
      pace: 'batched',
      scope: null,
    } as const
    const r = startRollout({
      id: 'r1',
      spec: manual,
      request,
      healthDeadlineMs: 300_000,
      nowMs: 0,
    })
    expect(r.latestModelOnly).toBe(true)
    const c = findCandidates(r, mixed)
    expect(c.eligible.map((i) => i.instanceId)).toEqual(['0', '1'])
    expect(c.behindModel.map((i) => i.instanceId)).toEqual(['2', '3'])
    // A model rollout (manualupgrade) is not restricted: it is what brings them up.
    const model = startRollout({
      id: 'r2',
      spec: manual,
      request: { ...request, kind: 'Model', startedBy: 'User', pace: 'allAtOnce' },
      healthDeadlineMs: 300_000,
      nowMs: 0,
    })
    expect(model.latestModelOnly).toBeUndefined()
  })
})
