/**
 * The HTTP API (SPEC §5, §8): Fastify with ARM's case-insensitive paths, request ids on every
 * response, `api-version` required on ARM routes, bearer-token authentication with roles and
 * subscription scopes, and one error mapper (STYLE R12) that turns every failure into the ARM
 * envelope and never leaks a stack trace.
 */
import Fastify from 'fastify'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import fastifyRateLimit from '@fastify/rate-limit'
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { randomUUID } from 'node:crypto'
import { AppError } from '../errors.js'
import type { TokenRecord } from '../store/control-store.js'
import type { ServiceDeps } from '../services/deps.js'
import { TokenCache, canUseSubscription, roleAllows } from '../services/tokens.js'
import { errorBody } from './arm.js'
import { registerLimitedJsonParser } from './json-body.js'
import { registerComputeRoutes } from './routes/compute.js'
import { registerImageRoutes } from './routes/images.js'
import { registerNetworkRoutes } from './routes/network.js'
import {
  registerSubscriptionRoutes,
  ensureSubscription,
  forgetSubscription,
} from './routes/subscriptions.js'
import { registerServiceFabricRoutes } from './routes/service-fabric.js'
import { registerIdentityRoutes } from './routes/identity.js'
import { registerGalleryRoutes } from './routes/galleries.js'
import { registerEventRoutes } from './routes/events.js'
import type { Metrics } from '../runtime/metrics.js'

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
}>

// The dashboard's page and assets are public (its data is not): it asks for a token itself.
const OPEN_ROUTES = [/^\/healthz$/i, /^\/metadata\/endpoints/i, /^\/adfs\//i, /^\/$/, /^\/ui\//i]

/**
 * The dashboard (issue 7): static files built by Vite into dist/dashboard, `index.html` at `/`
 * and its assets under `/ui/`. Without a build it says how to make one.
 */
async function registerDashboard(app: FastifyInstance): Promise<void> {
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
  const app = Fastify({
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
  registerLimitedJsonParser(app) // nesting depth and string length limits (issue 15)
  const tokens = new TokenCache(o.deps.store, () => o.deps.clock.nowMs())
  const perMinute = o.deps.config.rateLimitPerMinute
  if (perMinute > 0) {
    // Per token (hashed; per address without one), before authentication, so that a flood of
    // bad tokens costs no store lookups. 429 TooManyRequests with Retry-After, as ARM throttles.
    await app.register(fastifyRateLimit, {
      global: true,
      max: perMinute,
      timeWindow: 60_000,
      keyGenerator: (req) => {
        const auth = headerOf(req, 'authorization')
        return auth ? `t:${createHash('sha256').update(auth).digest('base64url')}` : `ip:${req.ip}`
      },
      allowList: (req) => /^\/healthz(\?|$)/.test(req.url),
      errorResponseBuilder: (_req, ctx) =>
        new AppError(
          'TooManyRequests',
          429,
          true,
          `More than ${ctx.max} requests in a minute with this token; retry after ${ctx.after}.`,
        ),
    })
  }
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-ms-request-id', req.id)
    reply.header(
      'x-ms-correlation-request-id',
      headerOf(req, 'x-ms-correlation-request-id') ?? req.id,
    )
    const path = (req.url.split('?')[0] as string).replace(/\/{2,}/g, '/') // az asks for //metadata/endpoints
    if (OPEN_ROUTES.some((r) => r.test(path))) return
    await checkAuth(o.deps, tokens, req, reply, path)
    if (reply.sent) return
    if (path.toLowerCase().startsWith('/subscriptions') && !apiVersionOf(req)) {
      throw new AppError(
        'MissingApiVersionParameter',
        400,
        false,
        'The api-version query parameter (?api-version=) is required for all requests.',
      )
    }
  })
  // A refused request changes nothing: not even the subscription its first use created.
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.createdSubscription && reply.statusCode >= 400)
      await forgetSubscription(o.deps, req.createdSubscription)
    return payload
  })
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
          new AppError(
            'NotFound',
            404,
            false,
            `osroll has no route ${req.method} ${req.url.split('?')[0]}; see docs/api.md for the routes it serves.`,
          ),
        ),
      )
  })
  app.get('/healthz', async () => ({ status: 'ok' }))
  // Who the caller's token is (the dashboard hides actions a Reader may not take).
  app.get('/whoami', async (req) => ({
    role: req.token?.role,
    subscriptions: req.token?.subscriptions ?? [],
    label: req.token?.label,
  }))
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
  registerSubscriptionRoutes(app, o.deps)
  registerImageRoutes(app, o.deps)
  registerNetworkRoutes(app, o.deps)
  registerComputeRoutes(app, o.deps)
  registerServiceFabricRoutes(app, o.deps)
  registerIdentityRoutes(app, o.deps)
  registerGalleryRoutes(app, o.deps)
  registerEventRoutes(app, o.deps)
  return app
}

async function checkAuth(
  deps: ServiceDeps,
  tokens: TokenCache,
  req: FastifyRequest,
  reply: FastifyReply,
  path: string,
): Promise<void> {
  const header = headerOf(req, 'authorization')
  const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined
  const record = token ? await tokens.authenticate(token) : undefined
  if (!record) {
    reply.header(
      'WWW-Authenticate',
      'Bearer authorization_uri="/adfs/oauth2/authorize", error="invalid_token"',
    )
    throw new AppError(
      'AuthenticationFailed',
      401,
      false,
      token
        ? 'The access token is invalid.'
        : "Authentication failed. The 'Authorization' header is missing.",
    )
  }
  req.token = record
  const catalogWrite = /\/artifacttypes\/vmimage\//i.test(path)
  if (!roleAllows(record.role, req.method, catalogWrite)) {
    throw new AppError(
      'AuthorizationFailed',
      403,
      false,
      `The token with role '${record.role}' does not have authorization to perform action '${req.method} ${path}'.`,
    )
  }
  const sub = /^\/subscriptions\/([^/?]+)/i.exec(path)?.[1]
  if (sub) {
    if (!canUseSubscription(record, sub)) throw subscriptionNotFound(sub)
    const known = await ensureSubscription(deps, sub, record)
    if (!known) throw subscriptionNotFound(sub)
    if (known === 'created') req.createdSubscription = sub
  }
}

function subscriptionNotFound(sub: string): AppError {
  return new AppError(
    'SubscriptionNotFound',
    404,
    false,
    `The subscription '${sub}' could not be found.`,
  )
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err
  const e = err as { statusCode?: number; code?: string; message?: string }
  if (
    e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    (e.statusCode === 400 && e instanceof SyntaxError)
  ) {
    return new AppError(
      'InvalidRequestFormat',
      400,
      false,
      `The request body is not valid JSON: ${e.message ?? ''}`.trim(),
    )
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new AppError(
      'RequestEntityTooLarge',
      413,
      false,
      'The request body is larger than 4 MiB.',
    )
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return new AppError(
      'UnsupportedMediaType',
      415,
      false,
      'Send JSON with Content-Type: application/json.',
    )
  if (e.code === 'FST_ERR_BAD_URL' || e.code === 'FST_ERR_MAX_PARAM_LENGTH')
    return new AppError(
      'InvalidRequestUri',
      e.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400,
      false,
      `The request URI is not valid: ${e.code === 'FST_ERR_BAD_URL' ? 'it holds a malformed percent-encoding' : 'a path segment is too long'}.`,
    )
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
    return new AppError('BadRequest', e.statusCode, false, e.message ?? 'Bad request.')
  return new AppError(
    'InternalServerError',
    500,
    false,
    'The server encountered an internal error; the request id identifies it in the server log.',
  )
}

export function headerOf(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

export function apiVersionOf(req: FastifyRequest): string | undefined {
  const q = req.query as Record<string, unknown>
  const v = q['api-version']
  return typeof v === 'string' && v !== '' ? v : undefined
}
