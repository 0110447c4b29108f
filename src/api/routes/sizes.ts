/** VM sizes and Resource SKUs (docs/api.md § VM sizes): read-only lists from one table. */
import type { FastifyInstance } from 'fastify'
import { listResourceSkus, listVmSizes } from '../../services/vm-sizes.js'

const COMPUTE = '/subscriptions/:sub/providers/Microsoft.Compute'

export function registerSizeRoutes(app: FastifyInstance): void {
  app.get(`${COMPUTE}/locations/:loc/vmSizes`, async () => listVmSizes())
  app.get<{ Querystring: { $filter?: string } }>(`${COMPUTE}/skus`, async (req) =>
    listResourceSkus(req.query.$filter),
  )
}
