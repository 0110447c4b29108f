/**
 * An in-process osroll (the same wiring as `osroll serve`, on in-memory SQLite and the sim
 * fabric) for API tests with `app.inject`: no ports, no sleeps beyond bounded polling for a
 * change, and `settle()` to show that nothing changes.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { loadConfig } from '../src/config/config.js'
import type { RawConfig } from '../src/config/config.js'
import { openSqliteStore } from '../src/store/sqlite/open-sqlite.js'
import type { SqlStore } from '../src/store/sql/sql-store.js'
import { buildSystem } from '../src/main.js'
import type { System } from '../src/main.js'
import { createResourceGroup } from './arm-fixtures.js'

export type Call = (
  method: string,
  path: string,
  o?: {
    body?: unknown
    token?: string | null
    headers?: Record<string, string>
    apiVersion?: string | null
  },
) => Promise<{ status: number; body: any; headers: Record<string, unknown> }>

export async function apiHarness(
  o: {
    healthDeadline?: string
    replicationDelay?: string
    fabric?: 'sim' | 'local' | 'qemu'
    store?: SqlStore
    /** API requests per minute per token (default: the product's default). */
    rateLimit?: string
    /** Any other option, as `osroll serve` flags (camelCase). */
    config?: RawConfig
    /** The process log (and access log); default silent. */
    log?: pino.Logger
    /** Resource groups made in westus before the test starts (default `rg`). */
    groups?: readonly string[]
  } = {},
): Promise<{
  sys: System
  call: Call
  sub: string
  dataDir: string
  /**
   * Reconciles every scale set once more from now and resolves when nothing is left to do now
   * (no pass due or running, no effect in flight): how a test shows that nothing happens,
   * instead of sleeping.
   */
  settle: () => Promise<void>
  close: () => Promise<void>
}> {
  const dir = mkdtempSync(join(tmpdir(), 'osroll-api-'))
  const config = loadConfig(
    {
      dataDir: dir,
      fabric: o.fabric ?? 'sim',
      promptJitter: 'PT0S',
      healthDeadline: o.healthDeadline ?? 'PT2S',
      replicationDelay: o.replicationDelay ?? 'PT0.3S',
      ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}),
      ...o.config,
    },
    {},
  )
  const store = o.store ?? (await openSqliteStore(':memory:'))
  const log = o.log ?? pino({ level: 'silent' })
  const sys = await buildSystem({ config, store, log, activePollMs: 20 })
  await sys.start()
  const call: Call = async (method, path, opts = {}) => {
    const version = opts.apiVersion === undefined ? '2024-07-01' : opts.apiVersion
    const url =
      version === null ? path : `${path}${path.includes('?') ? '&' : '?'}api-version=${version}`
    const token = opts.token === undefined ? sys.adminToken : opts.token
    const res = await sys.app.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...opts.headers,
      },
      ...(opts.body !== undefined
        ? { payload: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }
        : {}),
    })
    let body: unknown = res.body
    try {
      body = res.body === '' ? '' : JSON.parse(res.body)
    } catch {
      /* not JSON */
    }
    return { status: res.statusCode, body, headers: res.headers }
  }
  for (const group of o.groups ?? ['rg'])
    await createResourceGroup((m, p, body) => call(m, p, { body }), sys.subscriptionId, group)
  return {
    sys,
    call,
    sub: sys.subscriptionId,
    dataDir: dir,
    settle: async () => {
      for (const key of await sys.deps.store.listScaleSetKeys()) sys.orchestrator.enqueue(key)
      await sys.orchestrator.settled()
    },
    close: async () => {
      await sys.stop()
      await sys.app.close()
      await sys.deps.store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Polls `check` until it returns a value, for at most `timeoutMs` (bounded, STYLE R6). */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
