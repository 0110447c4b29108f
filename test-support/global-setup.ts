/**
 * Vitest global setup (issue 16): the suite's temporary files go under one dir of its own
 * (TMPDIR, inherited by the test workers and every `osroll serve` they start), and at the end
 * any `osroll serve` with a data dir in it and any instance process started from one — one a test
 * left running — is stopped and fails the suite, listed. Suites running side by side on one machine each check only their own.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { instanceProcesses, serveProcessesUnder, stopInstanceProcesses } from './serve-process.js'

export default function setup(): () => Promise<void> {
  // vitest runs a global setup once per project (vitest.config.ts has two) in one process: the
  // first makes the suite's dir, the others keep it (nesting them would make the qemu fabric's
  // QMP socket paths longer than a unix socket allows).
  if (process.env['OSROLL_SUITE_DIR']) return async () => {}
  const dir = mkdtempSync(join(tmpdir(), 'osroll-suite-'))
  process.env['OSROLL_SUITE_DIR'] = dir
  process.env['TMPDIR'] = dir
  return async () => {
    const servers = serveProcessesUnder(dir)
    for (const s of servers) process.kill(s.pid, 'SIGKILL')
    const left = [
      ...servers.map((s) => ({ ...s, root: 'osroll serve' })),
      ...instanceProcesses(dir).map((p) => ({ ...p, command: commandOf(p.pid) })),
    ]
    await stopInstanceProcesses(dir)
    rmSync(dir, { recursive: true, force: true })
    if (left.length === 0) return
    // Vitest reports a teardown's error without failing the run: the exit code says it.
    process.exitCode = 1
    throw new Error(
      `${left.length} osroll serve or instance process(es) outlived the test suite (now stopped):\n${left
        .map((p) => `  pid ${p.pid} (${p.command}) from ${p.root}`)
        .join('\n')}`,
    )
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
  } catch {
    return 'gone'
  }
}
