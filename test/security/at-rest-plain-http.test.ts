/**
 * `--host` off loopback with plain HTTP warns at start (issue 15); on loopback it does not.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startServe } from '../../test-support/serve-process.js'
import type { ServeProcess } from '../../test-support/serve-process.js'

const dir = mkdtempSync(join(tmpdir(), 'osroll-plain-'))
const servers: ServeProcess[] = []
afterAll(async () => {
  for (const s of servers) await s.stop('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
})

describe('plain HTTP', () => {
  it('off loopback is warned about at start, on loopback not', { timeout: 60_000 }, async () => {
    const open = await startServe(join(dir, 'a'), ['--host', '0.0.0.0'])
    servers.push(open)
    expect(open.output()).toContain('Serving plain HTTP on 0.0.0.0')
    const local = await startServe(join(dir, 'b'), ['--host', '127.0.0.1'])
    servers.push(local)
    expect(local.output()).toContain('osroll is serving')
    expect(local.output()).not.toContain('Serving plain HTTP')
  })
})
