/**
 * The platform image catalog (docs/api.md § Images and galleries): lists are bare JSON arrays, as
 * Azure returns them;
 * publishing is osroll's PUT on a version; a version in use cannot be deleted.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Errors } from '../../errors.js'
import { requireNames } from '../../services/guards.js'
import { compareVersions } from '../../core/image/version.js'
import { normalizeLocation } from '../../core/scale-set/to-spec.js'
import type { ServiceDeps } from '../../services/deps.js'
import type { PlatformImageKey, PlatformImageVersion } from '../../services/catalog.js'
import { deletePlatformImage, publishPlatformImage } from '../../services/platform-images.js'

type VersionParams = {
  sub: string
  loc: string
  pub: string
  offer: string
  sku: string
  version: string
}
const BASE = '/subscriptions/:sub/providers/Microsoft.Compute/locations/:loc/publishers'
const SKU = `${BASE}/:pub/artifacttypes/vmimage/offers/:offer/skus/:sku`

const keyOf = (p: Omit<VersionParams, 'version' | 'sub'>): PlatformImageKey => ({
  location: normalizeLocation(p.loc),
  publisher: p.pub,
  offer: p.offer,
  sku: p.sku,
})
const idOf = (p: Omit<VersionParams, 'version'>, version?: string) =>
  `/Subscriptions/${p.sub}/Providers/Microsoft.Compute/Locations/${normalizeLocation(p.loc)}/Publishers/${p.pub}/ArtifactTypes/VMImage/Offers/${p.offer}/Skus/${p.sku}/Versions${version ? `/${version}` : ''}`
const full = (p: Omit<VersionParams, 'version'>, v: PlatformImageVersion) => ({
  id: idOf(p, v.version),
  name: v.version,
  location: v.key.location,
  properties: {
    ...(v.body['properties'] as object),
    imageDeprecationStatus: { imageState: 'Active' },
  },
})

/** A list of catalog names: publishers in a location, offers of a publisher, or skus of an offer. */
const names =
  (deps: ServiceDeps, level: 'publishers' | 'offers' | 'skus') =>
  async (req: FastifyRequest<{ Params: Record<string, string> }>) => {
    const p = req.params
    const loc = normalizeLocation(p['loc'] as string)
    const list = await deps.catalog.names(loc, p['pub'], level === 'skus' ? p['offer'] : undefined)
    const prefix = `/Subscriptions/${p['sub']}/Providers/Microsoft.Compute/Locations/${loc}/Publishers`
    const idFor = (n: string) =>
      level === 'publishers'
        ? `${prefix}/${n}`
        : level === 'offers'
          ? `${prefix}/${p['pub']}/ArtifactTypes/VMImage/Offers/${n}`
          : `${prefix}/${p['pub']}/ArtifactTypes/VMImage/Offers/${p['offer']}/Skus/${n}`
    return list.map((name) => ({ id: idFor(name), name, location: loc }))
  }

export function registerImageRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  registerVersionRoutes(app, deps)
  app.get(BASE, names(deps, 'publishers'))
  app.get(`${BASE}/:pub/artifacttypes/vmimage/offers`, names(deps, 'offers'))
  app.get(`${BASE}/:pub/artifacttypes/vmimage/offers/:offer/skus`, names(deps, 'skus'))
}

/** A sku's versions: publish (PUT), read, delete, and the list. */
function registerVersionRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  // Writes of the catalog, which belongs to no subscription: Operator tokens only (guard.ts).
  const catalog = { config: { catalog: true } }
  app.put<{ Params: VersionParams }>(`${SKU}/versions/:version`, catalog, async (req, reply) => {
    const p = req.params
    requireNames([
      ['imageSegment', p.pub, 'publisherName'],
      ['imageSegment', p.offer, 'offer'],
      ['imageSegment', p.sku, 'skus'],
    ])
    const { created, image } = await publishPlatformImage(deps, {
      key: keyOf(p),
      version: p.version,
      body: req.body,
      nowMs: deps.clock.nowMs(),
    })
    return reply.status(created ? 201 : 200).send(full(p, image))
  })
  app.get<{ Params: VersionParams }>(`${SKU}/versions/:version`, async (req) => {
    const v = await deps.catalog.get(keyOf(req.params), req.params.version)
    if (!v) throw imageNotFound(req.params)
    return full(req.params, v)
  })
  app.delete<{ Params: VersionParams }>(`${SKU}/versions/:version`, catalog, async (req, reply) => {
    const p = req.params
    const deleted = await deletePlatformImage(deps, {
      sub: p.sub,
      key: keyOf(p),
      version: p.version,
    })
    return reply.status(deleted ? 200 : 204).send()
  })
  app.get<{ Params: Omit<VersionParams, 'version'>; Querystring: Record<string, string> }>(
    `${SKU}/versions`,
    async (req) => {
      let versions = await deps.catalog.list(keyOf(req.params))
      if (/name\s+desc/i.test(req.query['$orderby'] ?? ''))
        versions = [...versions].sort((a, b) => compareVersions(b.version, a.version))
      const top = req.query['$top'] === undefined ? undefined : Number(req.query['$top'])
      if (top !== undefined) {
        if (!Number.isInteger(top) || top < 0)
          throw Errors.InvalidParameter('$top must be a non-negative integer.', '$top')
        versions = versions.slice(0, top)
      }
      const expand = /properties/i.test(req.query['$expand'] ?? '')
      return versions.map((v) =>
        expand
          ? full(req.params, v)
          : { id: idOf(req.params, v.version), name: v.version, location: v.key.location },
      )
    },
  )
}

function imageNotFound(p: VersionParams): Error {
  return Errors.NotFound(
    `Artifact: VMImage was not found: ${p.pub}:${p.offer}:${p.sku}:${p.version} in location ${p.loc}.`,
  )
}
