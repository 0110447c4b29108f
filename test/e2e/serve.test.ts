/**
 * `osroll serve` start-up failures end in a message that says what to fix, not a stack trace.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startServe } from '../../test-support/serve-process.js'
import type { ServeProcess } from '../../test-support/serve-process.js'

const dir = mkdtempSync(join(tmpdir(), 'osroll-serve-'))
let first: ServeProcess | null = null
afterAll(async () => {
  await first?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('osroll serve', () => {
  it('reports a port already in use and exits 1', { timeout: 60_000 }, async () => {
    first = await startServe(join(dir, 'a'))
    const port = new URL(first.url).port
    const second = startServe(join(dir, 'b'), ['--port', port])
    await expect(second).rejects.toThrow(/exited 1:[\s\S]*127\.0\.0\.1:\d+ is already in use/)
    await expect(second).rejects.not.toThrow(/at Server\.|EADDRINUSE/)
  })

  it('refuses --log-level bogus, naming the levels, and exits 2', { timeout: 60_000 }, async () => {
    const bad = startServe(join(dir, 'c'), ['--log-level', 'bogus'])
    await expect(bad).rejects.toThrow(
      /exited 2:[\s\S]*--log-level \(OSROLL_LOG_LEVEL\): 'bogus' is not one of fatal, error, warn, info, debug, trace, silent/,
    )
  })
})
