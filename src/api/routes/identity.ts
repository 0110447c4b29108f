/**
 * Identity endpoints shaped like AD FS (docs/api.md § Pointing Azure clients at osroll), the one
 * authority MSAL and `az` accept
 * without asking the internet: discovery, a client-credentials token endpoint whose
 * `client_secret` must be an osroll token (the access token carries the same scope), and
 * `/metadata/endpoints` describing osroll as a cloud. All are open (no bearer token) but rate
 * limited per client address; a wrong `client_secret` counts as a failed login (guard.ts backoff).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Errors } from '../../errors.js'
import type { ServiceDeps } from '../../services/deps.js'
import type { Guard } from '../guard.js'
import { tooManyRequests } from '../guard.js'

export function registerIdentityRoutes(app: FastifyInstance, _deps: ServiceDeps, g: Guard): void {
  const open = { config: { open: true } }
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))))
    },
  )
  const base = (req: FastifyRequest) => `${req.protocol}://${req.headers.host ?? 'localhost'}`
  const discovery = async (req: FastifyRequest) => ({
    issuer: `${base(req)}/adfs`,
    authorization_endpoint: `${base(req)}/adfs/oauth2/authorize`,
    token_endpoint: `${base(req)}/adfs/oauth2/token`,
    jwks_uri: `${base(req)}/adfs/discovery/keys`,
    response_types_supported: ['code', 'token'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: ['client_secret_post'],
    grant_types_supported: ['client_credentials'],
  })
  app.get('/adfs/.well-known/openid-configuration', open, discovery)
  app.get('/adfs/v2.0/.well-known/openid-configuration', open, discovery)
  app.post('/adfs/oauth2/token', open, async (req, reply) => {
    const form = (req.body ?? {}) as Record<string, string>
    if (form['grant_type'] !== 'client_credentials') {
      return reply.status(400).send({
        error: 'unsupported_grant_type',
        error_description: 'osroll issues tokens for grant_type=client_credentials only.',
      })
    }
    // A locked-out address learns nothing about its guess: it is refused before the lookup.
    const locked = g.throttle?.lockedOut(req.ip)
    if (locked) throw tooManyRequests(reply, locked)
    const secret = form['client_secret']
    const token =
      typeof secret === 'string' && secret !== '' ? await g.tokens.authenticate(secret) : undefined
    if (secret && !token) g.throttle?.failed(req.ip)
    if (!secret || !token)
      return reply.status(401).send({
        error: 'invalid_client',
        error_description: 'client_secret must be a valid osroll token.',
      })
    return {
      token_type: 'Bearer',
      expires_in: 3600,
      ext_expires_in: 3600,
      access_token: secret,
      resource: form['resource'] ?? 'https://management.core.windows.net/',
    }
  })
  app.get('/metadata/endpoints', open, async (req) => ({
    galleryEndpoint: '',
    graphEndpoint: 'https://graph.windows.net/',
    portalEndpoint: `${base(req)}/`,
    authentication: {
      loginEndpoint: `${base(req)}/adfs`,
      audiences: ['https://management.core.windows.net/'],
      tenant: 'adfs',
      identityProvider: 'ADFS',
    },
    name: 'osroll',
    resourceManager: `${base(req)}/`,
  }))
  app.get('/adfs/oauth2/authorize', open, async () => {
    throw Errors.NotSupported(
      'osroll supports the client-credentials flow only: log in with a service principal whose secret is an osroll token.',
    )
  })
}
