/**
 * Runs `osroll serve` as a real child process (from the TypeScript sources, through tsx) for
 * end-to-end and crash tests, and talks to it over HTTP.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findMarked, stopProcess, type MarkedProcess } from '../src/fabrics/host/processes.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

export type ServeProcess = Readonly<{
  child: ChildProcess
  url: string
  token: string
  subscriptionId: string
  call: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>
  stop: (signal?: NodeJS.Signals) => Promise<void>
  /** Everything the process printed so far (stdout and stderr). */
  output: () => string
}>

export async function startServe(
  dataDir: string,
  args: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
  /** `built`: the compiled `bin/osroll.js` (npm run build), as users run it; else the sources. */
  entry: 'source' | 'built' = 'source',
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(entry === 'built'
        ? [join(ROOT, 'bin/osroll.js')]
        : ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')]),
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--prompt-jitter',
      'PT0S',
      ...(args.includes('--fabric') ? [] : ['--fabric', 'sim']),
      ...args,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, OSROLL_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  const started = Date.now()
  while (!/osroll is serving (\S+)/.test(out) || !/default subscription: (\S+)/.test(out)) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`osroll serve exited ${child.exitCode ?? child.signalCode}:\n${out}`)
    if (Date.now() - started > 30_000) throw new Error(`osroll serve did not start:\n${out}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const url = (/osroll is serving (\S+)/.exec(out) as RegExpExecArray)[1] as string
  const subscriptionId = (/default subscription: (\S+)/.exec(out) as RegExpExecArray)[1] as string
  const token = readFileSync(join(dataDir, 'token'), 'utf8').trim()
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(
      `${url}${path}${path.includes('?') ? '&' : '?'}api-version=2024-07-01`,
      {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      },
    )
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : '' }
  }
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill(signal)
    await exited
  }
  return { child, url, token, subscriptionId, call, stop, output: () => out }
}

/**
 * The instance processes (boot, custom data, extension commands and their children) started by
 * any osroll whose data dir is `dir` or under it: found by the marker they carry (processes.ts).
 */
export function instanceProcesses(dir: string): MarkedProcess[] {
  const top = resolve(dir)
  return findMarked((root) => root === top || root.startsWith(`${top}/`))
}

/**
 * Stops every instance process of `dir` (by pid and start time, its group first); returns those
 * it found. Tests and campaigns call it in a `finally`, after stopping `osroll serve`.
 */
export async function stopInstanceProcesses(dir: string): Promise<MarkedProcess[]> {
  const found = instanceProcesses(dir)
  await Promise.all(found.map((p) => stopProcess(p, 2_000)))
  return found
}

/** The `osroll serve` processes whose data dir is under `dir` (by their command line). */
export function serveProcessesUnder(dir: string): { pid: number; command: string }[] {
  const top = resolve(dir)
  const out: { pid: number; command: string }[] = []
  for (const name of readdirSync('/proc')) {
    const pid = Number(name)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    let argv: string[]
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    } catch {
      continue // gone
    }
    const data = argv[argv.indexOf('--data-dir') + 1]
    if (!argv.includes('serve') || !argv.includes('--data-dir') || data === undefined) continue
    if (resolve(data) === top || resolve(data).startsWith(`${top}/`))
      out.push({ pid, command: argv.join(' ').trim() })
  }
  return out
}
