/** Request helpers shared by the app, its guard and the routes (kept apart from app.ts, which imports them all). */
import type { FastifyRequest } from 'fastify'

export function headerOf(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

export function apiVersionOf(req: FastifyRequest): string | undefined {
  const q = req.query as Record<string, unknown>
  const v = q['api-version']
  return typeof v === 'string' && v !== '' ? v : undefined
}
