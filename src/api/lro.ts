/**
 * Long-running operation responses (SPEC §5): PUT/PATCH answer with `Azure-AsyncOperation`
 * only; POST actions and DELETE answer 202 with `Azure-AsyncOperation`, `Location` and
 * `Retry-After`. URLs are absolute, on osroll's own base URL.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { OperationRecord } from '../store/control-store.js'
import { apiVersionOf } from './request.js'

export function operationUrl(
  req: FastifyRequest,
  sub: string,
  location: string,
  op: OperationRecord,
): string {
  const base = `${req.protocol}://${req.headers.host ?? 'localhost'}`
  const v = encodeURIComponent(apiVersionOf(req) ?? '2024-07-01')
  return `${base}/subscriptions/${sub}/providers/Microsoft.Compute/locations/${location}/operations/${op.id}?api-version=${v}`
}

/** 202 Accepted for actions and DELETE. */
export function accepted(
  req: FastifyRequest,
  reply: FastifyReply,
  sub: string,
  location: string,
  op: OperationRecord,
  retryAfterSeconds: number,
): FastifyReply {
  const url = operationUrl(req, sub, location, op)
  return reply
    .status(202)
    .header('Azure-AsyncOperation', url)
    .header('Location', `${url}&monitor=true`)
    .header('Retry-After', String(retryAfterSeconds))
    .send()
}

/** The Azure-AsyncOperation header of a PUT/PATCH (no Location: the SDK would fetch it as the result). */
export function withAsyncOperation(
  req: FastifyRequest,
  reply: FastifyReply,
  sub: string,
  location: string,
  op: OperationRecord,
  retryAfterSeconds: number,
): FastifyReply {
  return reply
    .header('Azure-AsyncOperation', operationUrl(req, sub, location, op))
    .header('Retry-After', String(retryAfterSeconds))
}
