/**
 * Instance processes: started detached in their own session (they outlive the control plane, like
 * VMs), identified by pid *and* start time so a recycled pid is never mistaken for an instance,
 * stopped with SIGTERM to the whole process group and SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { Readable } from 'node:stream'
import { closeSync, openSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs'

export type ProcessRef = Readonly<{ pid: number; startTicks: number }>

/**
 * The marker every process osroll starts for an instance carries in its environment (boot, custom
 * data, extension commands, and whatever they start, which inherit it): the instances dir of the
 * control plane that started it, and the id of that one spawn. At start a control plane stops
 * every process marked with its own dir whose spawn no record names (`findMarked`).
 */
export const MARK_ROOT = 'OSROLL_FABRIC_ROOT'
export const MARK_SPAWN = 'OSROLL_SPAWN_ID'

export type MarkedProcess = Readonly<{
  pid: number
  startTicks: number
  /** Its process group: the pid of the spawn's leader unless it left the group. */
  pgid: number
  root: string
  spawnId: string
}>

/**
 * Every live process whose environment carries the marker with a root `accept` takes, read from
 * /proc/<pid>/environ (the environment it was started with: a process cannot take the marker off
 * what it started with, nor, unprivileged, read or fake another user's).
 */
export function findMarked(accept: (root: string) => boolean): MarkedProcess[] {
  const out: MarkedProcess[] = []
  for (const name of readdirSync('/proc')) {
    const pid = Number(name)
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue
    const mark = markerOf(pid)
    if (mark === null || !accept(mark.root)) continue
    const stat = readStat(pid)
    if (stat === null || stat.state === 'Z' || stat.state === 'X') continue
    out.push({ pid, startTicks: stat.startTicks, pgid: stat.pgid, ...mark })
  }
  return out
}

function markerOf(pid: number): { root: string; spawnId: string } | null {
  let vars: string[]
  try {
    vars = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')
  } catch {
    return null // gone, or not ours to read
  }
  const get = (name: string) => vars.find((v) => v.startsWith(`${name}=`))?.slice(name.length + 1)
  const root = get(MARK_ROOT)
  const spawnId = get(MARK_SPAWN)
  return root !== undefined && spawnId !== undefined ? { root, spawnId } : null
}

/**
 * A test hook (never set in production): `OSROLL_TEST_CRASH_AT=<point>` makes this process
 * SIGKILL itself at that point, as a crash or an operator's kill -9 would land there.
 */
export function crashPoint(point: 'boot-spawned' | 'command-spawned' | 'reimage-recorded'): void {
  if (process.env['OSROLL_TEST_CRASH_AT'] === point) process.kill(process.pid, 'SIGKILL')
}

/**
 * The processes this control plane started, until they exit: whether they live is known from
 * their exit event, without reading /proc (a reconcile pass asks for every instance). Processes
 * adopted after a restart are not here and are checked in /proc.
 */
const children = new Map<number, { startTicks: number; exited: Promise<void> }>()

const LOG_ROTATE_BYTES = 10 * 1024 * 1024

/**
 * Starts `command` detached, stdout/stderr appended to `logFile` (rotated once past 10 MiB).
 * With `reportsPid` (a sandbox, sandbox.ts) the command tells on fd 3 the pid of the process
 * whose death ends the instance (the sandbox's pid 1), and that pid is the one recorded.
 */
export async function startProcess(o: {
  command: string
  args?: readonly string[]
  cwd: string
  env: Record<string, string>
  logFile: string
  reportsPid?: boolean
}): Promise<ProcessRef> {
  rotate(o.logFile)
  const fd = openSync(o.logFile, 'a')
  try {
    const child = spawn(o.command, o.args ?? [], {
      cwd: o.cwd,
      env: o.env,
      detached: true,
      stdio: o.reportsPid ? ['ignore', fd, fd, 'pipe'] : ['ignore', fd, fd],
    })
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve())
      child.once('error', reject)
    })
    const pid = o.reportsPid ? await reportedPid(child) : (child.pid as number)
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        children.delete(pid)
        resolve()
      }),
    )
    child.unref()
    const startTicks = startTicksOf(pid) ?? 0
    if (child.exitCode === null && child.signalCode === null)
      children.set(pid, { startTicks, exited })
    return { pid, startTicks }
  } finally {
    closeSync(fd)
  }
}

/** Whether the process still runs and is the one we started. */
export function isAlive(p: ProcessRef): boolean {
  if (children.get(p.pid)?.startTicks === p.startTicks) return true
  const stat = readStat(p.pid)
  return (
    stat !== null && stat.state !== 'Z' && stat.state !== 'X' && stat.startTicks === p.startTicks
  )
}

/** SIGTERM to the process group, SIGKILL after `graceMs`; resolves when it is gone. */
export async function stopProcess(p: ProcessRef, graceMs: number): Promise<void> {
  if (!isAlive(p)) return
  signal(p.pid, 'SIGTERM')
  if (!(await exitWithin(p, graceMs))) {
    signal(p.pid, 'SIGKILL')
    await exitWithin(p, 2_000)
  }
}

/** Waits for the process to be gone: its exit event if it is a child, else /proc, polled. */
async function exitWithin(p: ProcessRef, ms: number): Promise<boolean> {
  const child = children.get(p.pid)
  if (child?.startTicks === p.startTicks) {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)))
    const done = await Promise.race([child.exited.then(() => true as const), timeout])
    clearTimeout(timer)
    return done
  }
  const deadline = Date.now() + ms
  for (let wait = 2; isAlive(p); wait = Math.min(wait * 2, 25)) {
    if (Date.now() >= deadline) return false
    await new Promise((r) => setTimeout(r, wait))
  }
  return true
}

function signal(pid: number, sig: NodeJS.Signals): void {
  // The whole group: boot may have started children, and a sandbox's pid 1 is in the group of
  // the bubblewrap that started it (the instance's session), not in a group of its own.
  const group = readStat(pid)?.pgid ?? pid
  try {
    if (group <= 1 || group === process.pid) throw new Error('not an instance group')
    process.kill(-group, sig)
  } catch {
    try {
      process.kill(pid, sig)
    } catch {
      /* already gone */
    }
  }
}

function startTicksOf(pid: number): number | null {
  return readStat(pid)?.startTicks ?? null
}

/** The pid a sandbox reports on fd 3 (`{"child-pid": 1234, …}`), within 10 s; read to its end. */
async function reportedPid(child: ChildProcess): Promise<number> {
  const info = child.stdio[3] as Readable
  let text = ''
  const pid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the sandbox did not report its pid')), 10_000)
    info.on('data', (d: Buffer) => {
      text += d.toString()
      const m = /"child-pid"\s*:\s*(\d+)/.exec(text)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    })
    info.on('end', () => {
      clearTimeout(timer)
      reject(new Error(`the sandbox did not start (exit ${child.exitCode ?? child.signalCode})`))
    })
  })
  // Never closed early: bubblewrap writes the rest (namespaces) and only then lets the
  // sandbox start; a closed pipe would kill it with SIGPIPE halfway.
  return pid
}

function readStat(pid: number): { state: string; startTicks: number; pgid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ') // fields from 3 on
    return { state: rest[0] as string, startTicks: Number(rest[19]), pgid: Number(rest[2]) }
  } catch {
    return null
  }
}

function rotate(logFile: string): void {
  try {
    if (statSync(logFile).size > LOG_ROTATE_BYTES) renameSync(logFile, `${logFile}.1`)
  } catch {
    /* no log yet */
  }
}
