/**
 * The health prober (docs/rollouts.md R5): probes every registered target on its interval from one
 * scheduler (no timer per target), with keep-alive agents, bounded concurrency and a timeout
 * below the interval. A load-balancer probe flips its state after `threshold` consecutive results
 * of the other kind; the Application Health extension 2.x reads `ApplicationHealthState` from a
 * JSON body (anything else is Unknown) and stays Initializing until `threshold` identical results
 * or the grace period ends. Before its first verdict a target is Initializing (wait, not fail).
 */
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import type { HealthState } from '../core/health/verdict.js'
import { recordProbe, type ProbeResult } from '../core/health/probe-streak.js'

export type ProbeTarget = Readonly<{
  protocol: 'tcp' | 'http' | 'https'
  host: string
  port: number
  requestPath: string
  intervalMs: number
  /** Consecutive results needed to change state (LB `probeThreshold`, extension `numberOfProbes`). */
  threshold: number
  /** `binary`: LB probe or extension 1.x; `rich`: Application Health 2.x. */
  mode: 'binary' | 'rich'
  /** Rich mode: Initializing ends after this long without a verdict. */
  gracePeriodMs: number
}>

type Result = ProbeResult
/** The probes one tick sent, and the keys whose state they changed, not told yet. */
type Round = { outstanding: number; changes: [string, Entry][]; timer: NodeJS.Timeout | null }
type Entry = {
  target: ProbeTarget
  state: HealthState
  last: Result | null
  streak: number
  dueAtMs: number
  registeredAtMs: number
  inFlight: boolean
  probes: number
}

export type ProberOptions = Readonly<{
  concurrency?: number
  tickMs?: number
  nowMs?: () => number
  /**
   * Called when a target's state changes, so that whoever waits on it need not poll; the changes
   * of one round of probes together, at most `coalesceMs` (default 10) after the first.
   */
  onChange?: (key: string, state: HealthState) => void
  coalesceMs?: number
  /** Called with every probe's result and latency (metrics). */
  onResult?: (protocol: string, result: string, seconds: number) => void
}>

export class Prober {
  private readonly entries = new Map<string, Entry>()
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  private readonly httpsAgent = new https.Agent({
    keepAlive: true,
    maxSockets: 4,
    rejectUnauthorized: false,
  })
  private timer: NodeJS.Timeout | null = null
  private running = 0
  /** Probes sent so far (benchmarks, metrics). */
  sent = 0

  constructor(private readonly o: ProberOptions = {}) {}

  /** Registers or updates a target; an unchanged target keeps its state. */
  set(key: string, target: ProbeTarget): void {
    const current = this.entries.get(key)
    if (current && JSON.stringify(current.target) === JSON.stringify(target)) return
    const now = this.now()
    this.entries.set(key, {
      target,
      state: 'initializing',
      last: null,
      streak: 0,
      dueAtMs: now,
      registeredAtMs: now,
      inFlight: false,
      probes: 0,
    })
    this.start()
  }

  remove(key: string): void {
    this.entries.delete(key)
  }

  state(key: string): HealthState | undefined {
    return this.entries.get(key)?.state
  }

  keys(): string[] {
    return [...this.entries.keys()]
  }

  close(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
  }

  private now(): number {
    return this.o.nowMs?.() ?? Date.now()
  }

  private start(): void {
    if (this.timer) return
    this.timer = setInterval(() => this.tick(), this.o.tickMs ?? 50)
    this.timer.unref()
  }

  private tick(): void {
    const now = this.now()
    const limit = this.o.concurrency ?? 256
    const round: Round = { outstanding: 0, changes: [], timer: null }
    for (const [key, e] of this.entries) {
      if (this.running >= limit) return
      if (e.inFlight || e.dueAtMs > now) continue
      e.inFlight = true
      // Until a first verdict, probe every 250 ms: an instance that just booted is seen healthy
      // within a quarter second rather than a whole interval (docs/decisions.md).
      e.dueAtMs =
        now +
        (e.state === 'initializing' ? Math.min(250, e.target.intervalMs) : e.target.intervalMs)
      this.running++
      this.sent++
      round.outstanding++
      const started = performance.now()
      void this.probe(e.target)
        .then((result) => {
          this.o.onResult?.(e.target.protocol, result, (performance.now() - started) / 1000)
          if (this.entries.get(key) !== e) return
          const before = e.state
          this.record(e, result)
          if (e.state !== before) round.changes.push([key, e])
        })
        .finally(() => {
          e.inFlight = false
          this.running--
          this.settle(round)
        })
    }
  }

  /**
   * The changes of one round (the probes one tick sent) are told together once the round is
   * answered, or `coalesceMs` after its first change: the instances of a batch, probed together,
   * then wake whoever waits on them once rather than once each (docs/performance.md).
   */
  private settle(round: Round): void {
    round.outstanding--
    if (round.outstanding === 0) this.tell(round)
    else if (round.changes.length > 0 && round.timer === null)
      round.timer = setTimeout(() => this.tell(round), this.o.coalesceMs ?? 10)
  }

  private tell(round: Round): void {
    if (round.timer !== null) clearTimeout(round.timer)
    round.timer = null
    const changes = round.changes
    round.changes = []
    // A target removed or replaced meanwhile is no longer this change's.
    for (const [key, e] of changes) if (this.entries.get(key) === e) this.o.onChange?.(key, e.state)
  }

  private record(e: Entry, result: Result): void {
    e.probes++
    const next = recordProbe(e, e.target, result, this.now())
    e.state = next.state
    e.last = next.last
    e.streak = next.streak
  }

  private probe(t: ProbeTarget): Promise<Result> {
    const timeoutMs = Math.max(100, Math.min(t.intervalMs - 50, 5_000))
    if (t.protocol === 'tcp') return this.tcp(t, timeoutMs)
    return this.request(t, timeoutMs)
  }

  private tcp(t: ProbeTarget, timeoutMs: number): Promise<Result> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: t.host, port: t.port })
      const done = (r: Result) => {
        socket.destroy()
        resolve(r)
      }
      socket.setTimeout(timeoutMs, () => done('unhealthy'))
      socket.once('connect', () => done('healthy'))
      socket.once('error', () => done('unhealthy'))
    })
  }

  private request(t: ProbeTarget, timeoutMs: number): Promise<Result> {
    return new Promise((resolve) => {
      const lib = t.protocol === 'https' ? https : http
      const req = lib.request(
        {
          host: t.host,
          port: t.port,
          path: t.requestPath,
          method: 'GET',
          agent: t.protocol === 'https' ? this.httpsAgent : this.httpAgent,
          timeout: timeoutMs,
        },
        (res) => {
          if (t.mode === 'binary') {
            // The status decides (the body is not read): decide now, drain for keep-alive.
            resolve(interpret(t, res.statusCode ?? 0, ''))
            res.resume()
            return
          }
          const chunks: Buffer[] = []
          let size = 0
          res.on('data', (c: Buffer) => {
            size += c.length
            if (size <= 16_384) chunks.push(c)
          })
          res.on('end', () =>
            resolve(interpret(t, res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))),
          )
          res.on('error', () => resolve(t.mode === 'rich' ? 'unknown' : 'unhealthy'))
        },
      )
      req.on('timeout', () => req.destroy(new Error('timeout')))
      req.on('error', () => resolve(t.mode === 'rich' ? 'unknown' : 'unhealthy'))
      req.end()
    })
  }
}

/**
 * @example interpret(rich, 200, '{"ApplicationHealthState":"Healthy"}') === 'healthy'
 * @example interpret(binary, 503, '') === 'unhealthy'
 */
export function interpret(t: Pick<ProbeTarget, 'mode'>, status: number, body: string): Result {
  if (t.mode === 'binary') return status === 200 ? 'healthy' : 'unhealthy'
  if (status < 200 || status > 299) return 'unknown'
  try {
    const state = (JSON.parse(body) as { ApplicationHealthState?: unknown }).ApplicationHealthState
    return state === 'Healthy' ? 'healthy' : state === 'Unhealthy' ? 'unhealthy' : 'unknown'
  } catch {
    return 'unknown'
  }
}
