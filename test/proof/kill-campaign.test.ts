/**
 * A short kill campaign in CI (issue 8): three SIGKILLs of `osroll serve` at random points of
 * local-fabric rollouts (`npm run proof` runs fifty). See kill-campaign.ts for what is checked.
 */
import { describe, expect, it } from 'vitest'
import { runKillCampaign } from './kill-campaign.js'

describe('kill campaign', () => {
  it(
    'resumes every rollout after a SIGKILL, exactly once, instances serving meanwhile',
    { timeout: 180_000 },
    async () => {
      const seed = Number(process.env['OSROLL_KILL_SEED'] ?? Date.now() % 1_000_000)
      const r = await runKillCampaign({ kills: 3, seed, addressRange: '127.83.0.0/16' })
      expect(r.kills).toBe(3)
      expect(r.violations, `seed ${seed} (OSROLL_KILL_SEED=${seed} replays the timing)`).toEqual([])
    },
  )
})
