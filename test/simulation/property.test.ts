/**
 * Property runs of the whole orchestrator (issue 2): random fleets, policies and fault schedules
 * from seeds, every invariant checked after every step. CI runs 500 seeds per run; a failure
 * names the seed, which `npm run sim -- --seed S` replays with its transcript.
 * Seeds that once failed are kept in REGRESSIONS forever.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { runScenario } from './harness.js'
import { generateScenario } from './generate.js'

const SEEDS = Number(process.env['OSROLL_SIM_SEEDS'] ?? 500)
/** Seeds that found bugs while the engine was written (see the commit history). */
const REGRESSIONS = [95, 107, 130, 169, 225, 335, 728, 1802, 2312, 11245, 25624, 77023]

async function violationsOf(seed: number): Promise<string[]> {
  const r = await runScenario(generateScenario(seed))
  return r.violations.map((v) => `seed ${seed}: ${v}`)
}

describe('simulated orchestrator', () => {
  it('regression seeds hold every invariant', async () => {
    for (const seed of REGRESSIONS) expect(await violationsOf(seed)).toEqual([])
  })

  const halves = [0, 1]
  for (const half of halves) {
    it(
      `${SEEDS / 2} consecutive seeds hold every invariant (part ${half + 1})`,
      { timeout: 120_000 },
      async () => {
        const all: string[] = []
        const from = 10_000 + half * (SEEDS / 2)
        for (let seed = from; seed < from + SEEDS / 2; seed++)
          all.push(...(await violationsOf(seed)))
        expect(all).toEqual([])
      },
    )
  }

  it(
    'fast-check picks further seeds (shrinks to the first failing one)',
    { timeout: 120_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
          expect(await violationsOf(seed)).toEqual([])
        }),
        { numRuns: 50 },
      )
    },
  )

  it('is deterministic: the same seed gives the same transcript', async () => {
    const a = await runScenario(generateScenario(4242))
    const b = await runScenario(generateScenario(4242))
    expect(a.transcript).toEqual(b.transcript)
  })
})
