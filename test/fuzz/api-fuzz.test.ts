/**
 * The API fuzzer in CI (issue 8): a few thousand generated requests per run, with a fresh seed
 * printed on failure (`npm run proof` sends 100,000). See api-fuzz.ts for what is checked.
 */
import { describe, expect, it } from 'vitest'
import { runApiFuzz } from './api-fuzz.js'

describe('API fuzzing', () => {
  it(
    'answers every malformed request without a 5xx, with an ARM error, changing nothing',
    { timeout: 240_000 },
    async () => {
      const seed = Number(process.env['OSROLL_FUZZ_SEED'] ?? Date.now() % 1_000_000)
      const r = await runApiFuzz({ runs: Number(process.env['OSROLL_FUZZ_RUNS'] ?? 3_000), seed })
      expect(r.requests).toBeGreaterThan(0)
      expect(r.violations, `seed ${seed} (OSROLL_FUZZ_SEED=${seed} replays it)`).toEqual([])
    },
  )
})
