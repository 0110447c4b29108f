/**
 * How `vmss rolling-upgrade start` and `wait` wait for a rollout: the progress they show (a bar on
 * a terminal, a line per change otherwise), --timeout, and the exit code the rollout's end gives.
 */
import cliProgress from 'cli-progress'
import { ApiError } from '../client/client.js'
import type { OsrollClient } from '../client/client.js'
import { parseDurationMs } from '../core/duration.js'
import { CliError } from './context.js'

export type WaitOpts = { wait?: boolean; timeout?: string }

/** What `wait` and `start` exit with: documented in the commands' help and README. */
const EXIT_CODES: Readonly<Record<string, number>> = { Completed: 0, Faulted: 1, Cancelled: 2 }
const EXIT_TIMED_OUT = 3
const ENDED = new Set(Object.keys(EXIT_CODES))

/** --timeout in ms, checked; undefined without it. */
export function timeoutOf(o: WaitOpts): number | undefined {
  if (o.timeout === undefined) return undefined
  const ms = parseDurationMs(o.timeout)
  if (ms === undefined || ms <= 0)
    throw new CliError(
      `--timeout '${o.timeout}' is not a positive ISO 8601 duration.`,
      'write it like PT30M, PT1H or PT90S',
    )
  return ms
}

function codeOf(latest: unknown): string | undefined {
  return (latest as { properties?: { runningStatus?: { code?: string } } }).properties
    ?.runningStatus?.code
}

/** The exit code of a wait that saw `latest` last (and timed out or not). */
export function exitOf(latest: unknown, timedOut: boolean, timeout: string | undefined): number {
  if (timedOut) {
    console.error(
      `osroll: the rollout did not end within ${timeout}; it goes on (\`osroll vmss rolling-upgrade wait\` waits again)`,
    )
    return EXIT_TIMED_OUT
  }
  return EXIT_CODES[codeOf(latest) ?? ''] ?? 1
}

/**
 * Waits for a rollout to end, showing its progress (a bar on a terminal, a line per change
 * otherwise): the one `operation` tracks, or with null the set's latest. True when `timeoutMs`
 * ran out first. An operation that failed is not an error here: the rollout's status says how.
 */
export async function watch(
  client: OsrollClient,
  setPath: string,
  operation: string | null,
  timeoutMs: number | undefined,
): Promise<boolean> {
  const tty = process.stderr.isTTY
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          format: 'rollout [{bar}] {value}/{total} ok {ok} failed {failed} in progress {running}',
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      )
    : null
  let last = ''
  let ended = false
  const tick = async (): Promise<void> => {
    const latest = (await client.get(`${setPath}/rollingUpgrades/latest`)).body as {
      properties: { progress: Record<string, number>; runningStatus?: { code?: string } }
    }
    ended = ENDED.has(codeOf(latest) ?? '')
    const p = latest.properties.progress
    const ok = p['successfulInstanceCount'] ?? 0
    const failed = p['failedInstanceCount'] ?? 0
    const running = p['inProgressInstanceCount'] ?? 0
    const total = ok + failed + running + (p['pendingInstanceCount'] ?? 0)
    if (bar) {
      if (last === '') bar.start(total, 0, { ok, failed, running })
      bar.setTotal(total)
      bar.update(ok + failed, { ok, failed, running })
      last = 'started'
      return
    }
    const line = `rollout: ${ok} succeeded, ${failed} failed, ${running} in progress, ${total - ok - failed - running} pending`
    if (line !== last) console.error(line)
    last = line
  }
  const end = Date.now() + (timeoutMs ?? Number.POSITIVE_INFINITY)
  try {
    if (operation) {
      const waited = await client
        .wait(operation, tick, timeoutMs !== undefined ? { timeoutMs } : {})
        .catch((err: unknown) => {
          if (err instanceof ApiError && err.code === 'Timeout') return 'TimedOut'
          if (err instanceof ApiError && err.status === 200) return 'Failed' // the operation's own failure
          throw err
        })
      await tick()
      return waited === 'TimedOut'
    }
    for (;;) {
      await tick()
      if (ended) return false
      if (Date.now() >= end) return true
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, end - Date.now()))))
    }
  } finally {
    bar?.stop()
  }
}
