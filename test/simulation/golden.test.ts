/**
 * Golden transcripts of the canonical scenarios (issue 2): the engine's behaviour, readable.
 * `UPDATE_GOLDEN=1 npx vitest run test/simulation/golden.test.ts` rewrites them after a
 * deliberate change (or writes a new scenario's); without it a missing golden file fails. Review
 * the diff like code.
 */
import { describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { CANONICAL } from './canonical.js'
import { runScenario } from './harness.js'

const dir = fileURLToPath(new URL('./golden/', import.meta.url))

describe('canonical scenarios (golden transcripts)', () => {
  for (const s of CANONICAL) {
    it(s.name, async () => {
      const r = await runScenario(s)
      expect(r.violations).toEqual([])
      const text = r.transcript.join('\n') + '\n'
      const file = `${dir}${s.name}.log`
      if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(file, text)
      else if (!existsSync(file))
        throw new Error(`golden file ${file} is missing: run with UPDATE_GOLDEN=1 to write it`)
      expect(text).toBe(readFileSync(file, 'utf8'))
    })
  }

  it('healthy rollout of 10: five batches of two, all succeeded', async () => {
    const r = await runScenario(CANONICAL.find((c) => c.name === 'healthy-rollout-10')!)
    expect(r.rollouts).toHaveLength(1)
    expect(r.rollouts[0]).toMatchObject({ status: 'Completed', batchCount: 5 })
  })

  it('broken image: the first batch is rolled back and the rollout ends Faulted', async () => {
    const r = await runScenario(CANONICAL.find((c) => c.name === 'broken-image-rollback')!)
    expect(r.rollouts[0]).toMatchObject({
      status: 'Faulted',
      batchCount: 1,
      error: { code: 'MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade' },
    })
    expect(r.rollouts[0]!.attempts.map((a) => a.state)).toEqual(['RolledBack', 'RolledBack'])
  })

  it('manual trigger on a broken image: no rollback, Faulted', async () => {
    const r = await runScenario(
      CANONICAL.find((c) => c.name === 'manual-trigger-broken-no-rollback')!,
    )
    expect(r.rollouts[0]).toMatchObject({ status: 'Faulted', startedBy: 'User', rollback: false })
    expect(r.rollouts[0]!.attempts.map((a) => a.state)).toEqual(['Failed', 'Failed'])
  })

  it('cancel mid-rollout: the batch finishes, then Cancelled with lastAction Cancel', async () => {
    const r = await runScenario(CANONICAL.find((c) => c.name === 'cancel-mid-rollout')!)
    const cancelled = r.rollouts.find((x) => x.status === 'Cancelled')!
    expect(cancelled).toMatchObject({ lastAction: 'Cancel', batchCount: 2 })
    expect(cancelled.attempts.every((a) => a.state === 'Succeeded')).toBe(true)
  })

  it('durability mismatch (issue 18 gap 3): batch 1 finishes, no batch 2, Faulted with the message', async () => {
    const r = await runScenario(
      CANONICAL.find((c) => c.name === 'service-fabric-durability-mismatch')!,
    )
    expect(r.rollouts).toHaveLength(1)
    expect(r.rollouts[0]).toMatchObject({
      status: 'Faulted',
      batchCount: 1,
      error: { code: 'OperationNotAllowed' },
    })
    expect(r.rollouts[0]!.error!.message).toMatch(
      /^Durability Mismatch Detected for NodeType nt1\./,
    )
  })

  it('unrelated unhealthy instances (issue 18 gap 4): held, then retried and Completed', async () => {
    const r = await runScenario(CANONICAL.find((c) => c.name === 'unhealthy-fleet-retried')!)
    expect(r.rollouts.map((x) => [x.status, x.target.imageVersion]).reverse()).toEqual([
      ['Faulted', '1.1.0'],
      ['Completed', '1.1.0'],
    ])
  })

  it('a model that fixes the failed extension (issue 18 gap 4): one new attempt, not two', async () => {
    const r = await runScenario(CANONICAL.find((c) => c.name === 'fixed-extension-retried')!)
    const started = r.rollouts.map((x) => x.startedAtMs).sort((a, b) => a - b)
    // The model change at 60 s touched no extension; the fixed one (120 s) reaches the instances
    // by the manualupgrade at 130 s (a model rollout), and then the version is tried once more.
    expect(started).toEqual([10_000, 130_000, 200_000])
  })
})
