import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Spawner } from './spawner.js'

const dir = mkdtempSync(join(tmpdir(), 'osroll-spawner-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('spawner (instance processes started from a worker thread)', () => {
  it('starts a detached process with its environment and log, and tells its exit', async () => {
    const script = join(dir, 'boot')
    writeFileSync(script, '#!/bin/sh\necho "hello $GREETING from $(pwd)"\nsleep 0.2\n')
    chmodSync(script, 0o755)
    const log = join(dir, 'console.log')
    const spawner = new Spawner()
    const { pid, exited } = await spawner.spawn({
      command: script,
      cwd: dir,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', GREETING: 'osroll' },
      logFile: log,
    })
    expect(pid).toBeGreaterThan(0)
    // Detached: its own session (and process group), as instances must outlive osroll.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    expect(Number(fields[3])).toBe(pid) // session id (field 6)
    await exited
    expect(readFileSync(log, 'utf8')).toBe(`hello osroll from ${dir}\n`)
  })

  it('refuses what cannot start, with the reason', async () => {
    const spawner = new Spawner()
    await expect(
      spawner.spawn({ command: join(dir, 'missing'), cwd: dir, env: {}, logFile: join(dir, 'x') }),
    ).rejects.toThrow(/ENOENT/)
    const notExecutable = join(dir, 'plain')
    writeFileSync(notExecutable, 'not a program')
    await expect(
      spawner.spawn({ command: notExecutable, cwd: dir, env: {}, logFile: join(dir, 'x') }),
    ).rejects.toThrow(/EACCES/)
  })
})
