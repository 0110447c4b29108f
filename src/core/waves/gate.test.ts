/**
 * The plan gate of W3 as an input of `decideTrigger`: a set in a plan rolls automatically only
 * to the version its plan released to its stage, with its own delays counted from the release.
 * And the facts a wave reads of a set (set-facts.ts).
 */
import { describe, expect, it } from 'vitest'
import { fleet, spec } from '../../../test-support/builders.js'
import { PROMPT_TIMING, decideTrigger, gatedLatest } from '../rollout/start.js'
import type { TriggerInput } from '../rollout/start.js'
import { setFacts, skippedBehind, unhealthyWhy } from './set-facts.js'

const base = (o: Partial<TriggerInput> = {}): TriggerInput => ({
  spec: spec(),
  instances: fleet(10),
  latest: { version: '1.2.0', eligibleAtMs: 1_000 },
  autoEnabledAtMs: 0,
  firstSinceEnable: false,
  faultedVersions: new Set(),
  lastPlatformRollout: null,
  timing: { ...PROMPT_TIMING, laterDelayMaxMs: 0, firstDelayMaxMs: 0 },
  ...o,
})

describe('W3: the plan gate', () => {
  it.each([
    ['no gate: latest as it is', undefined, { version: '1.2.0', eligibleAtMs: 1_000 }],
    ['in a plan, nothing released yet', { release: null }, null],
    [
      'released the latest, later than it was eligible',
      { release: { version: '1.2.0', atMs: 5_000 } },
      { version: '1.2.0', eligibleAtMs: 5_000 },
    ],
    [
      'released an older version',
      { release: { version: '1.1.0', atMs: 9_000 } },
      { version: '1.1.0', eligibleAtMs: 9_000 },
    ],
    [
      'released a version the region lacks yet',
      { release: { version: '1.3.0', atMs: 9_000 } },
      null,
    ],
  ] as const)('%s', (_, gate, expected) => {
    expect(gatedLatest(base().latest, gate)).toEqual(expected)
  })

  it('holds the automatic rollout until the release, then starts it to the released version', () => {
    expect(decideTrigger(base({ planGate: { release: null } }), 50_000)).toEqual({ type: 'none' })
    const gated = base({ planGate: { release: { version: '1.1.0', atMs: 40_000 } } })
    const d = decideTrigger(gated, 50_000)
    expect(d.type === 'start' && d.request.target.imageVersion).toBe('1.1.0')
    // The set's own delay counts from the release (here the later delay, at most 30 s).
    const delayed = base({
      timing: PROMPT_TIMING,
      planGate: { release: { version: '1.2.0', atMs: 40_000 } },
    })
    const w = decideTrigger(delayed, 40_000)
    if (w.type === 'wait') expect(w.wakeAtMs).toBeGreaterThanOrEqual(40_000)
    else expect(w.type).toBe('start')
  })
})

describe('set facts for a wave', () => {
  const image = {
    kind: 'platform',
    publisher: 'P',
    offer: 'O',
    sku: 'S',
    version: 'latest',
  } as const
  const s = spec({ image })
  it('counts the instances behind, the running rollout and a fault of the version', () => {
    const f = setFacts({
      spec: s,
      instances: fleet(4, { version: '1.0.0' }),
      image,
      version: '1.1.0',
      activeRolloutId: 'r1',
      faultedVersions: ['1.1.0'],
      fault: { rolloutId: 'r1', message: 'Upgrade failed on 2 instances.' },
    })
    expect(f).toMatchObject({ exists: true, followsImage: true, rolloutId: 'r1', behind: 4 })
    expect(f.exists && f.faulted?.message).toContain('Upgrade failed on 2 instances.')
  })
  it('a set that left the image or turned automatic upgrades off does not follow it', () => {
    const other = spec({ image: { ...image, sku: 'T' } })
    const off = spec({ image, automaticOS: { ...s.automaticOS, enabled: false } })
    for (const x of [other, off]) {
      const f = setFacts({
        spec: x,
        instances: [],
        image,
        version: '1.1.0',
        activeRolloutId: null,
        faultedVersions: [],
        fault: null,
      })
      expect(f.exists && f.followsImage).toBe(false)
    }
  })
  it('names the instances a hook skipped that are still behind, once the rollout ended (W5)', () => {
    const instances = fleet(3, { version: '1.1.0' }).map((i) =>
      i.instanceId === '1' ? { ...i, osImageVersion: '1.0.0' } : i,
    )
    const attempts = ['0', '1', '2'].map((instanceId) => ({
      instanceId,
      state: instanceId === '1' ? 'Skipped' : 'Succeeded',
    }))
    const last = {
      id: 'r1',
      kind: 'OSImage',
      status: 'Completed',
      target: { imageVersion: '1.1.0', modelGeneration: 1 },
      attempts,
    } as never
    expect(skippedBehind(last, instances, '1.1.0')).toEqual({ rolloutId: 'r1', instanceIds: ['1'] })
    expect(skippedBehind(last, instances, '1.2.0')).toBeNull() // another version's rollout
    expect(
      skippedBehind({ ...(last as object), status: 'RollingForward' } as never, instances, '1.1.0'),
    ).toBeNull()
    const caughtUp = instances.map((i) => ({ ...i, osImageVersion: '1.1.0' }))
    expect(skippedBehind(last, caughtUp, '1.1.0')).toBeNull() // upgraded since
    expect(skippedBehind(null, instances, '1.1.0')).toBeNull()
  })
  it('is unhealthy past the policy limit (the fleet pre-check rule)', () => {
    expect(unhealthyWhy(s, fleet(10))).toBeNull()
    const sick = fleet(10).map((i, n) => (n < 3 ? { ...i, health: 'unhealthy' as const } : i))
    expect(unhealthyWhy(s, sick)).toMatch(/^3 of 10 instances/)
  })
})
