/**
 * `GET /events` (docs/operations.md § Events, issues 5 and 16): server-sent events of rollout and
 * instance state
 * changes, filtered by `scaleSet` (ARM id) or `subscription` and by the token's subscriptions.
 * Without a position the stream starts from now, with a `snapshot` event first (its id is the
 * position; for one scale set it carries the running rollout's instance states); with
 * `Last-Event-ID` (or `?since=`, `?lastEventId=`) it resumes after that event. Every stream of
 * the process is fed by one poller of the store's event log (event-hub.ts), and a token may hold
 * `--max-event-streams-per-token` streams at once.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import { Errors } from '../../errors.js'
import type { ServiceDeps } from '../../services/deps.js'
import { canUseSubscription } from '../../services/tokens.js'
import type { TokenRecord } from '../../store/control-store.js'
import { headerOf } from '../request.js'
import { EventHub, hubEvent, subscriptionOf } from './event-hub.js'
import type { HubEvent } from './event-hub.js'

const POLL_MS = 250
const HEARTBEAT_MS = 15_000
const PAGE = 500
/** A stream whose client reads slower than events come is ended; it resumes from its last id. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024

type Filter = (e: HubEvent) => boolean

export function registerEventRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const streams = new Set<ServerResponse>()
  const perToken = new Map<string, number>()
  const hub = new EventHub(deps.store, {
    pollMs: POLL_MS,
    heartbeatMs: HEARTBEAT_MS,
    log: app.log,
  })
  // Before the server stops listening (onClose would be too late: closing waits for every open
  // connection, and an event stream never ends by itself — SIGTERM would hang while a dashboard
  // is open).
  app.addHook('preClose', async () => {
    hub.close()
    for (const res of streams) res.end()
  })
  app.get<{ Querystring: Record<string, string | undefined> }>('/events', async (req, reply) => {
    const token = req.token
    if (!token) throw Errors.AuthenticationFailed('A token is required.')
    const from = positionOf(req)
    const release = takeStreamSlot(perToken, token, deps.config.maxEventStreamsPerToken)
    let released = false
    const done = (): void => {
      if (!released) release()
      released = true
    }
    try {
      await hub.ready()
    } catch (err) {
      done()
      throw err
    }
    const res = open(reply, req.id)
    streams.add(res)
    let closed = false
    let leave = (): void => {}
    const stop = (): void => {
      closed = true
      streams.delete(res)
      leave()
      done()
    }
    req.raw.on('close', stop)
    res.on('close', stop)
    const filter = filterOf(token, req.query)
    try {
      leave = await follow(deps, hub, res, filter, from, req.query)
      if (closed) leave()
    } catch (err) {
      req.log.warn({ err }, 'Event stream failed')
      res.end()
    }
  })
}

/** The position to resume after: `Last-Event-ID`, else `?since=` or `?lastEventId=`; null: now. */
function positionOf(req: FastifyRequest<{ Querystring: Record<string, string | undefined> }>) {
  const header = headerOf(req, 'last-event-id')
  const [name, value] =
    header !== undefined
      ? ['Last-Event-ID', header]
      : req.query['since'] !== undefined
        ? ['since', req.query['since']]
        : ['lastEventId', req.query['lastEventId']]
  if (value === undefined) return null
  if (!/^\d{1,15}$/.test(value))
    throw Errors.InvalidParameter(
      `${name} '${value}' is not an event position: use the id of an event (a whole number), or omit it to start from now.`,
      name,
    )
  return Number(value)
}

/** Counts the token's streams; 429 when it holds its limit already. Returns the release. */
function takeStreamSlot(perToken: Map<string, number>, token: TokenRecord, max: number) {
  const held = perToken.get(token.hash) ?? 0
  if (max > 0 && held >= max)
    throw Errors.TooManyRequests(
      `This token already has ${held} open event streams, the most a token may hold (--max-event-streams-per-token ${max}); close one, or use another token.`,
    )
  perToken.set(token.hash, held + 1)
  return (): void => {
    const n = (perToken.get(token.hash) ?? 1) - 1
    if (n <= 0) perToken.delete(token.hash)
    else perToken.set(token.hash, n)
  }
}

function open(reply: FastifyReply, requestId: string): ServerResponse {
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-ms-request-id': requestId,
  })
  res.write(': osroll events\n\n')
  return res
}

function filterOf(token: TokenRecord, query: Record<string, string | undefined>): Filter {
  const setFilter = query['scaleSet']?.toLowerCase()
  const subFilter = query['subscription']?.toLowerCase()
  return (e) =>
    canUseSubscription(token, e.sub) &&
    (!setFilter || e.key === setFilter) &&
    (!subFilter || e.sub === subFilter)
}

/**
 * Writes what the stream needs before it joins the hub: the snapshot (no position given), then
 * the log after the position up to the hub's, read from the store; then joins the hub in the same
 * synchronous step as the last check of its position (no await between: nothing slips by).
 * Returns the stream's removal from the hub.
 */
async function follow(
  deps: ServiceDeps,
  hub: EventHub,
  res: ServerResponse,
  filter: Filter,
  from: number | null,
  query: Record<string, string | undefined>,
): Promise<() => void> {
  let cursor = from ?? hub.position
  if (from === null) res.write(await snapshotFrame(deps, cursor, filter, query['scaleSet']))
  while (cursor < hub.position && !res.destroyed) {
    const page = await deps.store.listEventsAfter(cursor, PAGE)
    if (page.length === 0) break
    for (const e of page.map(hubEvent)) if (filter(e)) res.write(e.frame)
    cursor = (page.at(-1) as { seq: number }).seq
  }
  return join(hub, res, filter, cursor)
}

/** Subscribes the stream to the hub's events after `cursor`; returns its removal. */
function join(hub: EventHub, res: ServerResponse, filter: Filter, cursor: number): () => void {
  let last = cursor
  return hub.subscribe({
    deliver: (events) => {
      for (const e of events) {
        if (e.seq <= last) continue
        last = e.seq
        if (filter(e)) res.write(e.frame)
      }
      if (res.writableLength > MAX_BUFFERED_BYTES) res.end()
    },
    beat: () => void res.write(': keep-alive\n\n'),
  })
}

/**
 * `event: snapshot`, id = the position the stream starts after. For one scale set (and a token
 * that may see it) it carries the running rollout and each instance's last state in it, which
 * the dashboard colours instances by; everything else the dashboard reads over REST.
 */
async function snapshotFrame(
  deps: ServiceDeps,
  position: number,
  filter: Filter,
  scaleSet: string | undefined,
): Promise<string> {
  const key = scaleSet?.toLowerCase()
  let rollout: Record<string, unknown> | null = null
  const visible = key && filter({ seq: 0, sub: subscriptionOf(key), key, frame: '' })
  const active = visible ? await deps.store.getActiveRollout(key) : undefined
  if (active) {
    const instances: Record<string, string> = {}
    for (const e of await deps.store.listEvents(active.id))
      // A step inside a state (from = to, e.g. DiskSwapped) can be noted after the state moved on.
      if (e.instanceId !== null && e.from !== e.to) instances[e.instanceId] = e.to
    rollout = { rolloutId: active.id, status: active.status, instances }
  }
  const data = JSON.stringify({ position, scaleSetKey: key ?? null, rollout })
  return `id: ${position}\nevent: snapshot\ndata: ${data}\n\n`
}
