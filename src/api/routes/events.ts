/**
 * `GET /events` (SPEC §8, issue 5): server-sent events of rollout and instance state changes.
 * Filtered by `scaleSet` (ARM id) or `subscription` and by the token's subscriptions; resumable
 * with `Last-Event-ID` (or `?lastEventId=`). The stream reads the store's event log, so it works
 * on any replica and loses nothing across restarts.
 */
import type { FastifyInstance } from 'fastify'
import type { ServerResponse } from 'node:http'
import { AppError } from '../../errors.js'
import type { ServiceDeps } from '../../services/deps.js'
import { canUseSubscription } from '../../services/tokens.js'
import { headerOf } from '../app.js'

const POLL_MS = 250
const HEARTBEAT_MS = 15_000
const PAGE = 500

export function registerEventRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const streams = new Set<ServerResponse>()
  // Before the server stops listening (onClose would be too late: closing waits for every open
  // connection, and an event stream never ends by itself — SIGTERM would hang while a dashboard
  // is open).
  app.addHook('preClose', async () => {
    for (const res of streams) res.end()
  })
  app.get<{ Querystring: Record<string, string | undefined> }>('/events', async (req, reply) => {
    const token = req.token
    if (!token) throw new AppError('AuthenticationFailed', 401, false, 'A token is required.')
    const from = headerOf(req, 'last-event-id') ?? req.query['lastEventId'] ?? '0'
    if (!/^\d{1,15}$/.test(from))
      throw new AppError(
        'InvalidParameter',
        400,
        false,
        `Last-Event-ID '${from}' is not an event id.`,
        'Last-Event-ID',
      )
    const setFilter = req.query['scaleSet']?.toLowerCase()
    const subFilter = req.query['subscription']?.toLowerCase()
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-ms-request-id': req.id,
    })
    res.write(': osroll events\n\n')
    streams.add(res)
    let open = true
    const stop = (): void => {
      open = false
      streams.delete(res)
    }
    req.raw.on('close', stop)
    res.on('close', stop)
    let last = Number(from)
    let beatAt = Date.now()
    while (open) {
      const page = await deps.store.listEventsAfter(last, PAGE).catch(() => [])
      for (const { seq, event } of page) {
        last = seq
        const sub = /^\/subscriptions\/([^/]+)/.exec(event.scaleSetKey)?.[1] ?? ''
        if (!canUseSubscription(token, sub)) continue
        if (setFilter && event.scaleSetKey !== setFilter) continue
        if (subFilter && sub !== subFilter) continue
        const kind = event.instanceId === null ? 'rollout' : 'instance'
        res.write(
          `id: ${seq}\nevent: ${kind}\ndata: ${JSON.stringify({ ...event, at: new Date(event.atMs).toISOString() })}\n\n`,
        )
      }
      if (page.length === PAGE) continue
      if (Date.now() - beatAt > HEARTBEAT_MS) {
        res.write(': keep-alive\n\n')
        beatAt = Date.now()
      }
      await new Promise((r) => setTimeout(r, POLL_MS))
    }
  })
}
