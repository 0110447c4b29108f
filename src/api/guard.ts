/**
 * What every request passes before its handler (docs/api.md § Behaviour of every route,
 * docs/security.md), in this order:
 * request limits (throttle.ts), a canonical path, authentication with failed-login backoff,
 * authorization and `api-version`. Fastify routes before `onRequest` hooks run, so authorization
 * reads exactly what the router matched — the route's template, its `config` flags and its
 * decoded params — never the raw URL: an encoded letter or a different case reaches the same
 * route and the same checks.
 *
 * Route flags (`config`): `open` (no token: the health check, the identity endpoints, the
 * dashboard's files), `unlimited` (not rate limited: /healthz), `catalog` (writes the platform
 * image catalog: Operator only). Every route under /subscriptions/ names its subscription `:sub`;
 * `checkRoute` refuses to register one that does not, so none escapes the subscription check.
 */
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { Errors } from '../errors.js'
import type { AppError } from '../errors.js'
import type { ServiceDeps } from '../services/deps.js'
import type { TokenCache } from '../services/tokens.js'
import { bearerToken, canUseSubscription, roleAllows } from '../services/tokens.js'
import type { TokenRecord } from '../store/control-store.js'
import { ensureSubscription } from '../services/subscriptions.js'
import type { Refusal, Throttle } from './throttle.js'
import { apiVersionOf, headerOf } from './request.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    open?: boolean
    unlimited?: boolean
    catalog?: boolean
  }
}

export type Guard = Readonly<{ tokens: TokenCache; throttle: Throttle | undefined }>

/** Refuses, at registration, a route that would escape the subscription or catalog checks. */
export function checkRoute(r: RouteOptions): void {
  const url = r.url
  if (/^\/subscriptions\//i.test(url) && !/^\/subscriptions\/:sub(\/|$)/.test(url))
    throw new Error(`Route ${url}: a route under /subscriptions/ must name its subscription :sub.`)
  const methods = [r.method].flat().map((m) => m.toUpperCase())
  const writes = methods.some((m) => !['GET', 'HEAD', 'OPTIONS'].includes(m))
  if (writes && /\/artifacttypes\/vmimage\//i.test(url) && r.config?.catalog !== true)
    throw new Error(`Route ${methods.join(',')} ${url} writes the image catalog: mark it catalog.`)
}

/** The onRequest hook: throttle, canonical path, authentication, authorization, api-version. */
export function guardRequest(deps: ServiceDeps, g: Guard) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const config = req.routeOptions.config
    const rawPath = req.url.split('?')[0] as string
    if (g.throttle && !config?.unlimited) {
      const token = config?.open ? undefined : bearerToken(headerOf(req, 'authorization'))
      const refused = g.throttle.take(req.ip, token)
      if (refused) throw tooManyRequests(reply, refused)
    }
    const problem = pathProblem(rawPath)
    if (problem)
      throw Errors.InvalidRequestUri(
        `The request URI is not valid: ${problem}. Encode each path segment once, and send no '.' or '..' segments.`,
      )
    if (config?.open) return
    const locked = g.throttle?.lockedOut(req.ip)
    if (locked) throw tooManyRequests(reply, locked)
    const record = await authenticate(g, req, reply)
    req.token = record
    await authorize(deps, req, record)
    const template = req.routeOptions.url ?? ''
    if (template.toLowerCase().startsWith('/subscriptions') && !apiVersionOf(req))
      throw Errors.MissingApiVersionParameter(
        'The api-version query parameter (?api-version=) is required for all requests.',
      )
  }
}

/**
 * Why a raw request path is not canonical, or undefined: ARM refuses encoded slashes and
 * backslashes, double encoding, control characters, `.`/`..` segments and names that end with a
 * dot; a router that decodes them would otherwise see another path than the one checked.
 */
export function pathProblem(rawPath: string): string | undefined {
  if (/%(2f|5c)/i.test(rawPath)) return 'it holds an encoded slash or backslash (%2F, %5C)'
  if (rawPath.includes('%25')) return 'it is percent-encoded twice (%25)'
  if (rawPath.includes('\\')) return 'it holds a backslash'
  // eslint-disable-next-line no-control-regex
  if (/%(0[0-9a-f]|1[0-9a-f]|7f)/i.test(rawPath) || /[\u0000-\u001f\u007f]/.test(rawPath))
    return 'it holds a control character'
  for (const segment of rawPath.split('/')) {
    let name: string
    try {
      name = decodeURIComponent(segment)
    } catch {
      return 'it holds a malformed percent-encoding'
    }
    if (name === '.' || name === '..') return `it holds a '${name}' segment`
    if (name.endsWith('.')) return `the segment '${name.slice(0, 80)}' ends with a dot`
  }
  return undefined
}

async function authenticate(
  g: Guard,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<TokenRecord> {
  const header = headerOf(req, 'authorization')
  const token = bearerToken(header)
  const record = token ? await g.tokens.authenticate(token) : undefined
  if (record) return record
  if (token) g.throttle?.failed(req.ip)
  reply.header(
    'WWW-Authenticate',
    'Bearer authorization_uri="/adfs/oauth2/authorize", error="invalid_token"',
  )
  throw Errors.AuthenticationFailed(
    token
      ? 'The access token is invalid.'
      : header === undefined
        ? "Authentication failed. The 'Authorization' header is missing."
        : "Authentication failed. The 'Authorization' header must be 'Bearer <token>'.",
  )
}

/** Role and subscription, from the matched route: its `catalog` flag and its decoded `:sub`. */
async function authorize(
  deps: ServiceDeps,
  req: FastifyRequest,
  record: TokenRecord,
): Promise<void> {
  const template = req.routeOptions.url
  const catalog = req.routeOptions.config?.catalog === true
  if (!roleAllows(record, req.method, catalog)) {
    throw Errors.AuthorizationFailed(
      catalog
        ? `Publishing or deleting platform images needs an Operator token (the platform catalog belongs to no subscription); this token's role is '${record.role}'.`
        : `The token with role '${record.role}' does not have authorization to perform action '${req.method} ${template ?? req.url.split('?')[0]}'.`,
    )
  }
  if (!template || !/^\/subscriptions\/:sub(\/|$)/.test(template)) return
  const sub = (req.params as Record<string, string | undefined>)['sub'] ?? ''
  if (!canUseSubscription(record, sub)) throw subscriptionNotFound(sub)
  const known = await ensureSubscription(deps, sub, record)
  if (!known) throw subscriptionNotFound(sub)
  if (known === 'created') req.createdSubscription = sub
}

function subscriptionNotFound(sub: string): AppError {
  return Errors.SubscriptionNotFound(`The subscription '${sub}' could not be found.`)
}

export function tooManyRequests(reply: FastifyReply, r: Refusal): AppError {
  reply.header('Retry-After', String(r.retryAfterSeconds))
  return Errors.TooManyRequests(r.message)
}
