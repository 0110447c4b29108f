/**
 * Galleries, image definitions and versions (docs/api.md § Images and galleries), with
 * `$expand=ReplicationStatus`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { mergeArm } from '../../arm/arm.js'
import type { ServiceDeps } from '../../services/deps.js'
import {
  GALLERY_IMAGE_TYPE,
  GALLERY_TYPE,
  GALLERY_VERSION_TYPE,
  galleryId,
  imageDefId,
} from '../../services/galleries.js'
import type { ImageDefRef } from '../../services/galleries.js'
import { callerOf } from '../../services/guards.js'

type G = { sub: string; rg: string; gallery: string }
type I = G & { image: string }
type V = I & { version: string }
const GALLERY =
  '/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Compute/galleries/:gallery'

const status = (created: boolean) => (created ? 201 : 200)
const expand = (req: FastifyRequest) =>
  /replicationstatus/i.test(String((req.query as Record<string, unknown>)['$expand'] ?? ''))
const imageRef = (p: I): ImageDefRef => ({
  sub: p.sub,
  rg: p.rg,
  gallery: p.gallery,
  image: p.image,
})

export function registerGalleryRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const g = deps.catalog.galleries
  app.put<{ Params: G }>(GALLERY, async (req, reply) => {
    const r = await g.putGallery(req.params, req.body, callerOf(req.token))
    return reply.status(status(r.created)).send(r.view)
  })
  app.get<{ Params: G }>(GALLERY, async (req) =>
    g.get(galleryId(req.params), 'gallery', req.params.gallery),
  )
  app.delete<{ Params: G }>(GALLERY, async (req, reply) =>
    reply.status((await g.delete(galleryId(req.params), GALLERY_TYPE)) ? 200 : 204).send(),
  )

  app.put<{ Params: I }>(`${GALLERY}/images/:image`, async (req, reply) => {
    const r = await g.putImageDefinition(imageRef(req.params), req.body, callerOf(req.token))
    return reply.status(status(r.created)).send(r.view)
  })
  app.get<{ Params: I }>(`${GALLERY}/images/:image`, async (req) =>
    g.get(imageDefId(imageRef(req.params)), 'image definition', req.params.image),
  )
  app.delete<{ Params: I }>(`${GALLERY}/images/:image`, async (req, reply) =>
    reply
      .status((await g.delete(imageDefId(imageRef(req.params)), GALLERY_IMAGE_TYPE)) ? 200 : 204)
      .send(),
  )
  registerVersionRoutes(app, deps)
}

/** Image versions: a write or delete wakes every set (what is latest may change). */
function registerVersionRoutes(app: FastifyInstance, deps: ServiceDeps): void {
  const g = deps.catalog.galleries
  const notifyAll = async () => {
    for (const key of await deps.store.listScaleSetKeys()) deps.notify(key)
  }
  const putVersion = async (req: FastifyRequest<{ Params: V }>, reply: FastifyReply) => {
    const r = await g.putVersion(
      imageRef(req.params),
      req.params.version,
      req.body,
      callerOf(req.token),
    )
    await notifyAll() // a new version, new regions or excludeFromLatest can change what is latest
    return reply.status(status(r.created)).send(r.view)
  }
  app.put<{ Params: V }>(`${GALLERY}/images/:image/versions/:version`, putVersion)
  app.patch<{ Params: V }>(`${GALLERY}/images/:image/versions/:version`, async (req, reply) => {
    const current = await g.get(
      `${imageDefId(imageRef(req.params))}/versions/${req.params.version}`,
      'image version',
      req.params.version,
    )
    req.body = mergeArm(current, req.body)
    return putVersion(req, reply)
  })
  app.get<{ Params: V }>(`${GALLERY}/images/:image/versions/:version`, async (req) =>
    g.get(
      `${imageDefId(imageRef(req.params))}/versions/${req.params.version}`,
      'image version',
      req.params.version,
      expand(req),
    ),
  )
  app.delete<{ Params: V }>(`${GALLERY}/images/:image/versions/:version`, async (req, reply) => {
    const deleted = await g.delete(
      `${imageDefId(imageRef(req.params))}/versions/${req.params.version}`,
      GALLERY_VERSION_TYPE,
    )
    await notifyAll()
    return reply.status(deleted ? 200 : 204).send()
  })
  app.get<{ Params: I }>(`${GALLERY}/images/:image/versions`, async (req) => ({
    value: await g.listVersions(imageRef(req.params)),
  }))
}
