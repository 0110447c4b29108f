/**
 * The composition root (STYLE R17): config → store → fabric → catalog → runtime → API. The only
 * place that knows every concrete class; everything else takes its dependencies as values.
 * `startServer` opens the store and listens; the wiring itself is main/system.ts (`buildSystem`),
 * the fabric of `--fabric` main/fabric.ts.
 */
import { join } from 'node:path'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import type { Config } from './config/config.js'
import { openSqliteStore } from './store/sqlite/open-sqlite.js'
import { openPostgresStore } from './store/postgres/open-postgres.js'
import type { SqlStore } from './store/sql/sql-store.js'
import type { AccelDecision } from './fabrics/qemu/accel.js'
import { createMetrics } from './runtime/metrics.js'
import { secureDataDir } from './config/data-dir.js'
import { loadSecretsKey } from './store/secrets.js'
import { buildSystem } from './main/system.js'

export { buildSystem } from './main/system.js'
export type { System } from './main/system.js'

export type Server = Readonly<{
  url: string
  adminToken: string
  subscriptionId: string
  /** The qemu fabric's accelerator and why it was chosen; null on other fabrics. */
  accel: AccelDecision | null
  app: FastifyInstance
  store: SqlStore
  close: () => Promise<void>
}>

export async function startServer(config: Config, o: { quiet?: boolean } = {}): Promise<Server> {
  const log = pino({
    level: o.quiet ? 'silent' : config.logLevel,
    redact: ['req.headers.authorization'],
  })
  for (const warning of secureDataDir(config.dataDir)) log.warn(warning)
  if (config.tls.kind === 'none' && !isLoopbackHost(config.host))
    log.warn(
      `Serving plain HTTP on ${config.host}: tokens and secrets cross the network in clear text; use --tls-cert/--tls-key or --tls self-signed`,
    )
  const metrics = createMetrics()
  const onQuery = (seconds: number, ok: boolean): void => metrics.storeQuery(seconds, ok)
  const store =
    config.store === 'postgres'
      ? await openPostgresStore({
          url: config.databaseUrl as string,
          schema: config.databaseSchema,
          onQuery,
          // Under the lease time, so a paused replica's open transaction cannot block a takeover.
          idleInTransactionTimeoutMs: Math.max(500, Math.floor(config.leaseTtlMs / 2)),
        })
      : await openSqliteStore(join(config.dataDir, 'osroll.db'), { onQuery })
  try {
    const keyFile = config.secretsKeyFile ?? join(config.dataDir, 'secrets.key')
    await store.useSecrets(loadSecretsKey(keyFile, config.secretsKeyFile === null))
  } catch (err) {
    await store.close()
    throw err
  }
  const system = await buildSystem({
    config,
    store,
    log,
    metrics,
    appLogger: o.quiet ? false : { level: 'warn' },
  })
  const { app, adminToken, subscriptionId, accel } = system
  await app.listen({ host: config.host, port: config.port })
  await system.start()
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const scheme = config.tls.kind === 'none' ? 'http' : 'https'
  const url = `${scheme}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  log.info(
    { url, dataDir: config.dataDir, fabric: config.fabric, accel: accel?.accel, subscriptionId },
    'osroll serving',
  )
  let closing: Promise<void> | null = null
  const close = () =>
    (closing ??= (async () => {
      await app.close()
      await system.stop()
      await store.close()
    })())
  return { url, adminToken, subscriptionId, accel, app, store, close }
}

/** Whether `host` is a loopback address or name (plain HTTP there stays on this machine). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1'
}
