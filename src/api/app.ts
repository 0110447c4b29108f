/**
 * The HTTP API (docs/api.md § Long-running operations, § Behaviour of every route): Fastify with
 * ARM's case-insensitive paths, request ids on every
 * response, `api-version` required on ARM routes, bearer-token authentication with roles and
 * subscription scopes, and one error mapper (STYLE R12) that turns every failure into the ARM
 * envelope and never leaks a stack trace.
 */
import Fastify from 'fastify'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { randomUUID } from 'node:crypto'
import { AppError, Errors } from '../errors.js'
import { headerOf } from './request.js'
import type { TokenRecord } from '../store/control-store.js'
import type { ServiceDeps } from '../services/deps.js'
import { TokenCache } from '../services/tokens.js'
import { checkRoute, guardRequest } from './guard.js'
import type { Guard } from './guard.js'
import { Throttle } from './throttle.js'
import { errorBody } from '../arm/arm.js'
import { registerLimitedJsonParser } from './json-body.js'
import { registerComputeRoutes } from './routes/compute.js'
import { registerImageRoutes } from './routes/images.js'
import { registerNetworkRoutes } from './routes/network.js'
import { registerVirtualNetworkRoutes } from './routes/virtual-networks.js'
import { registerSubscriptionRoutes } from './routes/subscriptions.js'
import { forgetSubscription } from '../services/subscriptions.js'
import { registerServiceFabricRoutes } from './routes/service-fabric.js'
import { registerIdentityRoutes } from './routes/identity.js'
import { registerGalleryRoutes } from './routes/galleries.js'
import { registerEventRoutes } from './routes/events.js'
import { registerUpgradeRoutes } from './routes/upgrades.js'
import { registerHealthGateRoutes } from './routes/health-gates.js'
import { registerWavePlanRoutes } from './routes/wave-plans.js'
import { registerFleetVersionRoutes } from './routes/fleet-versions.js'
import { registerHostRoutes } from './routes/hosts.js'
import { registerMaintenanceWindowRoutes } from './routes/maintenance-windows.js'
import {
  forgetRefusedGroup,
  registerResourceGroupRoutes,
  resourceGroupGate,
} from './routes/resource-groups.js'
import { registerSizeRoutes } from './routes/sizes.js'
import type { Metrics } from '../runtime/metrics.js'
import type { Logger } from '../runtime/logger.js'

declare module 'fastify' {
  interface FastifyRequest {
    token?: TokenRecord
    /** A subscription this request created by using it first (taken back if it is refused). */
    createdSubscription?: string
  }
}

export type AppOptions = Readonly<{
  deps: ServiceDeps
  /** pino options or false; tests pass false. */
  logger?: boolean | object
  https?: { cert: Buffer; key: Buffer } | null
  metrics?: Metrics
  /** Where one `info` line per answered request goes (`accessLogHook`); none without it. */
  accessLog?: Logger
}>

/** What a page of the dashboard may load: its own scripts, styles and API, nothing inline or framed. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/**
 * The dashboard (issue 7): static files built by Vite into dist/dashboard, `index.html` at `/`
 * and its assets under `/ui/`. Without a build it says how to make one. Its page and assets are
 * public (its data is not: it asks for a token itself); every response of them carries a CSP,
 * `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer`.
 */
async function registerDashboard(app: FastifyInstance): Promise<void> {
  await app.register(async (scope) => {
    scope.addHook('onRoute', (r) => {
      r.config = { ...r.config, open: true }
    })
    scope.addHook('onSend', async (_req, reply, payload) => {
      void reply
        .header('Content-Security-Policy', DASHBOARD_CSP)
        .header('X-Frame-Options', 'DENY')
        .header('Referrer-Policy', 'no-referrer')
        .header('X-Content-Type-Options', 'nosniff')
      return payload
    })
    await dashboardRoutes(scope)
  })
}

async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  const root = fileURLToPath(new URL('../../dist/dashboard', import.meta.url))
  if (!existsSync(join(root, 'index.html'))) {
    app.get('/', async (_req, reply) =>
      reply
        .status(503)
        .type('text/plain')
        .send(
          'The dashboard is not built: run `npm run build` (npm ci does) and restart osroll.\n',
        ),
    )
    return
  }
  await app.register(fastifyStatic, { root, prefix: '/ui/', index: false, wildcard: true })
  const index = readFileSync(join(root, 'index.html'))
  app.get('/', async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(index),
  )
}

export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const app = createServer(o)
  registerLimitedJsonParser(app) // nesting depth and string length limits (issue 15)
  const perMinute = o.deps.config.rateLimitPerMinute
  const guard: Guard = {
    tokens: new TokenCache(o.deps.store, () => o.deps.clock.nowMs()),
    throttle: perMinute > 0 ? new Throttle(perMinute, () => o.deps.clock.nowMs()) : undefined,
  }
  addRequestHooks(app, o.deps, guard)
  await addOperatorRoutes(app, o)
  registerApiRoutes(app, o.deps, guard)
  return app
}

/** The Fastify server: ARM's case-insensitive routing, body limit, request ids, error envelope. */
function createServer(o: AppOptions): FastifyInstance {
  return Fastify({
    logger: o.logger ?? false,
    ...(o.https ? { https: o.https } : {}),
    routerOptions: {
      caseSensitive: false,
      ignoreTrailingSlash: true,
      ignoreDuplicateSlashes: true,
    },
    bodyLimit: 4 * 1024 * 1024,
    genReqId: () => randomUUID(),
    // Errors the router raises before any route (a malformed URL, an over-long segment) get
    // the same ARM envelope as every other error.
    frameworkErrors: (err, _req, reply) => {
      const e = toAppError(err)
      void (reply as FastifyReply).status(e.status).send(errorBody(e))
    },
    requestIdHeader: false,
  }) as unknown as FastifyInstance
}

/**
 * What every request goes through: ARM's request-id headers, authentication and throttling,
 * resource groups, the taking back of what a refused request created, the error envelope.
 */
function addRequestHooks(app: FastifyInstance, deps: AppOptions['deps'], guard: Guard): void {
  app.addHook('onRoute', checkRoute)
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-ms-request-id', req.id)
    reply.header(
      'x-ms-correlation-request-id',
      headerOf(req, 'x-ms-correlation-request-id') ?? req.id,
    )
  })
  app.addHook('onRequest', guardRequest(deps, guard))
  // A refused request changes nothing: not even the subscription its first use created.
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.createdSubscription && reply.statusCode >= 400)
      await forgetSubscription(deps, req.createdSubscription)
    return payload
  })
  // After authorization and body parsing: a resource in a missing group
  // (docs/api.md § Resource groups); a group a refused request made implicitly is taken back.
  app.addHook('preHandler', resourceGroupGate(deps))
  app.addHook('onSend', forgetRefusedGroup(deps))
  app.setErrorHandler((err, req, reply) => {
    const e = toAppError(err)
    if (e.status >= 500) req.log.error({ err, requestId: req.id }, 'Request failed')
    void reply.status(e.status).send(errorBody(e))
  })
  app.setNotFoundHandler((req, reply) => {
    void reply
      .status(404)
      .send(
        errorBody(
          Errors.NotFound(
            `osroll has no route ${req.method} ${req.url.split('?')[0]}; see docs/api.md for the routes it serves.`,
          ),
        ),
      )
  })
}

/** The routes for operators and the dashboard: health, whoami, access log, dashboard, metrics. */
async function addOperatorRoutes(app: FastifyInstance, o: AppOptions): Promise<void> {
  app.get('/healthz', { config: { open: true, unlimited: true } }, async () => ({ status: 'ok' }))
  // Who the caller's token is (the dashboard hides actions a Reader may not take).
  app.get('/whoami', async (req) => ({
    role: req.token?.role,
    subscriptions: req.token?.subscriptions ?? [],
    label: req.token?.label,
  }))
  if (o.accessLog) app.addHook('onResponse', accessLogHook(o.accessLog))
  await registerDashboard(app)
  const metrics = o.metrics
  if (metrics) {
    app.addHook('onResponse', async (req, reply) => {
      metrics.request(
        req.routeOptions.url ?? 'unmatched',
        req.method,
        reply.statusCode,
        reply.elapsedTime / 1000,
      )
    })
    app.get('/metrics', async (_req, reply) =>
      reply
        .header('content-type', metrics.registry.contentType)
        .send(await metrics.registry.metrics()),
    )
  }
}

/** The API's routes, by resource provider. */
function registerApiRoutes(app: FastifyInstance, deps: AppOptions['deps'], guard: Guard): void {
  registerSubscriptionRoutes(app, deps)
  registerResourceGroupRoutes(app, deps)
  registerImageRoutes(app, deps)
  registerNetworkRoutes(app, deps)
  registerVirtualNetworkRoutes(app, deps)
  registerComputeRoutes(app, deps)
  registerServiceFabricRoutes(app, deps)
  registerIdentityRoutes(app, deps, guard)
  registerGalleryRoutes(app, deps)
  registerEventRoutes(app, deps)
  registerUpgradeRoutes(app, deps)
  registerHealthGateRoutes(app, deps)
  registerWavePlanRoutes(app, deps)
  registerFleetVersionRoutes(app, deps)
  registerHostRoutes(app, deps)
  registerMaintenanceWindowRoutes(app, deps)
  registerSizeRoutes(app)
}

/**
 * One structured line per answered request, for operators (docs/operations.md § Access log):
 * the route template rather than the path (no ids or query strings, so lines group by route),
 * and the caller as its token's role and label: never the token, nor its hash.
 *
 * @example
 * { "msg": "request", "requestId": "5b0e…", "client": "127.0.0.1", "method": "GET",
 *   "route": "/subscriptions/:sub", "status": 200, "durationMs": 1.7, "role": "Owner",
 *   "tokenLabel": "ci" }
 */
function accessLogHook(log: Logger) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    log.info(
      {
        requestId: req.id,
        client: req.ip,
        method: req.method,
        route: req.routeOptions.url ?? 'unmatched',
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        role: req.token?.role ?? null,
        tokenLabel: req.token?.label ?? null,
      },
      'request',
    )
  }
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err
  const e = err as { statusCode?: number; code?: string; message?: string }
  const empty = e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
  if (
    e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    (e.statusCode === 400 && e instanceof SyntaxError)
  ) {
    return Errors.InvalidRequestContent(
      empty
        ? 'The request content was invalid and could not be deserialized: the body is empty.'
        : `The request content was invalid and could not be deserialized: ${e.message ?? ''}`.trim(),
    )
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return Errors.RequestEntityTooLarge('The request body is larger than 4 MiB.')
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return Errors.UnsupportedMediaType('Send JSON with Content-Type: application/json.')
  if (e.code === 'FST_ERR_BAD_URL')
    return Errors.InvalidRequestUri(
      'The request URI is not valid: it holds a malformed percent-encoding.',
    )
  if (e.code === 'FST_ERR_MAX_PARAM_LENGTH')
    return Errors.RequestUriTooLong('The request URI is not valid: a path segment is too long.')
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
    return Errors.BadRequest(e.statusCode, e.message ?? 'Bad request.')
  return Errors.InternalServerError(
    'The server encountered an internal error; the request id identifies it in the server log.',
  )
}
