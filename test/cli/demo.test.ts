/**
 * `osroll demo` runs to completion (issue 6): a real server on a temporary data dir, ten real
 * instances, the automatic rollout of 1.1.0 and the rollback of the broken 1.2.0 — and exits 0
 * only because every check it prints held. It leaves no instance and no data dir behind.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runCommand } from '../../test-support/run-command.js'

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

describe('osroll demo', () => {
  it(
    'tours an automatic upgrade and a rollback, checks each claim, cleans up',
    { timeout: 150_000 },
    async () => {
      const { code, stdout, stderr } = await runCommand(
        process.execPath,
        ['--import', 'tsx', MAIN, 'demo', '--address-range', '127.80.0.0/16'],
        { timeout: 140_000 },
      )
      expect(stderr).not.toMatch(/at .*\.ts:\d+/) // no stack trace
      expect(stdout).toContain('The demo behaved as described')
      expect(code).toBe(0)
      expect(stdout).not.toContain('✗')
      for (const claim of [
        '✓ 10 instances running and healthy',
        '✓ the rollout completed (Completed)',
        '✓ data disks survived the reimage',
        '✓ the rollout ended Faulted (Faulted)',
        '✓ every instance serves 1.1.0 again',
      ])
        expect(stdout).toContain(claim)
      expect(stdout).toMatch(/dashboard http:\/\/127\.0\.0\.1:\d+\/#token=/)
      const dataDir = /fresh data dir \(([^)]+)\)/.exec(stdout)?.[1] as string
      expect(existsSync(dataDir)).toBe(false)
      // No instance process of the demo is left running.
      expect((await runCommand('ps', ['-eo', 'args'])).stdout).not.toContain(dataDir)
    },
  )
})
