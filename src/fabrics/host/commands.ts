/**
 * Runs one command for an instance to its end (custom data, an extension's command, a fileUris
 * download): detached in its own process group with its own spawn id, its output's last 64 KiB
 * kept, the whole group killed when it outlives its time.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { crashPoint, MARK_SPAWN } from './processes.js'

export type HostCommand = Readonly<{ command: string; args: readonly string[]; cwd: string }>

export type RunResult = {
  code: number | null
  signal: string | null
  output: string
  timedOut: boolean
}

/** Never rejects: a command that cannot start is code 127 with the reason as its output. */
export function runCommand(
  c: HostCommand,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<RunResult> {
  return new Promise((resolve) => {
    // Its own spawn id, named by no record: a command that outlives this control plane (the
    // marker's root is in `env`) is an orphan the next start stops (local/orphans.ts).
    const child = spawn(c.command, c.args, {
      cwd: c.cwd,
      env: { ...env, [MARK_SPAWN]: randomUUID() },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    child.once('spawn', () => crashPoint('command-spawned'))
    let output = ''
    const add = (d: Buffer) => {
      output = (output + d.toString()).slice(-64 * 1024)
    }
    child.stdout.on('data', add)
    child.stderr.on('data', add)
    let timedOut = false
    const timer = setTimeout(
      () => {
        timedOut = true
        try {
          process.kill(-(child.pid as number), 'SIGKILL')
        } catch {
          /* gone */
        }
      },
      Math.max(1, timeoutMs),
    )
    child.on('error', (err) => {
      clearTimeout(timer)
      resolve({ code: 127, signal: null, output: err.message, timedOut: false })
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, output, timedOut })
    })
  })
}
