/**
 * Starts instance processes from a worker thread. Node's `spawn()` blocks the thread that calls
 * it until the child has exec'd — 1–60 ms per process (about 10 typically) on a loaded two-core
 * machine (docs/performance.md) — and on the main thread a batch of ten reimages stalled the API, the
 * prober and the engine for tens of milliseconds. The worker spawns one process at a time and
 * reports each one's pid, then its exit, back to the main thread.
 */
import { Worker } from 'node:worker_threads'

/** The worker, as plain CommonJS (evaluated, so it needs no build step or loader). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { spawn } = require('node:child_process')
const { closeSync, openSync } = require('node:fs')
parentPort.on('message', (m) => {
  let fd
  try {
    fd = openSync(m.logFile, 'a')
    const child = spawn(m.command, [], {
      cwd: m.cwd,
      env: m.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    })
    child.once('spawn', () => parentPort.postMessage({ id: m.id, pid: child.pid }))
    child.once('error', (err) => parentPort.postMessage({ id: m.id, error: err.message }))
    child.once('exit', () => parentPort.postMessage({ exited: child.pid }))
    child.unref()
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: err.message })
  } finally {
    // spawn() has returned: the child has its own copy of the descriptor (or never will).
    if (fd !== undefined) closeSync(fd)
  }
})
`

export type SpawnRequest = Readonly<{
  command: string
  cwd: string
  env: Record<string, string>
  logFile: string
}>

/** A started process and the promise of its exit. */
export type Spawned = Readonly<{ pid: number; exited: Promise<void> }>

type Reply = { id: number; pid?: number; error?: string } | { exited: number }

export class Spawner {
  private worker: Worker | null = null
  private nextId = 0
  private readonly pending = new Map<
    number,
    { resolve: (s: Spawned) => void; reject: (e: Error) => void }
  >()
  private readonly exits = new Map<number, () => void>()

  /** `onLost`: the thread died and the exits of the processes it started will not be told. */
  constructor(private readonly onLost: () => void = () => undefined) {}

  /** Starts `command` detached, stdout and stderr appended to `logFile`. */
  spawn(request: SpawnRequest): Promise<Spawned> {
    const worker = this.start()
    const id = ++this.nextId
    return new Promise<Spawned>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      worker.postMessage({ id, ...request })
    })
  }

  private start(): Worker {
    if (this.worker) return this.worker
    const worker = new Worker(WORKER_SOURCE, { eval: true })
    worker.on('message', (m: Reply) => this.receive(m))
    worker.on('error', (err) => this.lost(err))
    worker.on('exit', (code) => this.lost(new Error(`the spawner thread exited (${code})`)))
    // After the listeners (a 'message' listener refs the worker again): the thread must not
    // keep the process alive; the processes it started are detached and outlive it anyway.
    worker.unref()
    this.worker = worker
    return worker
  }

  private receive(m: Reply): void {
    if ('exited' in m) {
      this.exits.get(m.exited)?.()
      this.exits.delete(m.exited)
      return
    }
    const waiter = this.pending.get(m.id)
    this.pending.delete(m.id)
    if (!waiter) return
    if (m.error !== undefined || m.pid === undefined) {
      waiter.reject(new Error(m.error ?? 'the process did not start'))
      return
    }
    const pid = m.pid
    // Registered before anything else runs: the exit message can only come after this reply.
    const exited = new Promise<void>((resolve) => this.exits.set(pid, resolve))
    waiter.resolve({ pid, exited })
  }

  /**
   * The thread died (never seen): callers waiting for a start fail; the exits it would have
   * reported are not known any more, and whoever waits on them falls back to /proc.
   */
  private lost(err: Error): void {
    this.worker = null
    for (const w of this.pending.values()) w.reject(err)
    this.pending.clear()
    this.exits.clear()
    this.onLost()
  }
}
