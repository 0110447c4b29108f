/**
 * Long-running operation responses (docs/api.md § Long-running operations): PUT/PATCH answer with
 * `Azure-AsyncOperation`
 * only; POST actions and DELETE answer 202 with `Azure-AsyncOperation`, `Location` and
 * `Retry-After`. URLs are absolute, on osroll's own base URL. Every answer about an unfinished
 * operation carries a `Retry-After` sized to it (`retryAfterSecondsOf`), so Azure SDKs poll at
 * that pace instead of their 30 s default.
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
  return ownUrl(
    req,
    `/subscriptions/${sub}/providers/Microsoft.Compute/locations/${location}/operations/${op.id}`,
  )
}

/** `path` on osroll's own base URL, with the request's api-version. */
function ownUrl(req: FastifyRequest, path: string): string {
  const base = `${req.protocol}://${req.headers.host ?? 'localhost'}`
  const v = encodeURIComponent(apiVersionOf(req) ?? '2024-07-01')
  return `${base}${path}?api-version=${v}`
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

/**
 * 202 Accepted with only a `Location`, as Microsoft.Resources answers a resource group's DELETE:
 * `/subscriptions/{sub}/operationresults/{id}`, answered by `locationAnswer`.
 */
export function acceptedAtLocation(
  req: FastifyRequest,
  reply: FastifyReply,
  sub: string,
  op: OperationRecord,
  retryAfterSeconds: number,
): FastifyReply {
  return reply
    .status(202)
    .header('Location', ownUrl(req, `/subscriptions/${sub}/operationresults/${op.id}`))
    .header('Retry-After', String(retryAfterSeconds))
    .send()
}

/**
 * What a `Location` URL answers: 202 while the operation runs (with the same URL as `Location`),
 * then 200 — empty, or with the ARM error body when it failed
 * (docs/api.md § Differences from Azure, and why).
 */
export function locationAnswer(
  req: FastifyRequest,
  reply: FastifyReply,
  op: OperationRecord,
): FastifyReply {
  if (op.status === 'InProgress')
    return reply
      .status(202)
      .header('Location', `${req.protocol}://${req.headers.host}${req.url}`)
      .send()
  return reply.status(200).send(op.error ? { error: op.error } : '')
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

/** Longest `Retry-After` per kind of operation: rollouts run for minutes, provisioning for less. */
const RETRY_AFTER_MAX_SECONDS: Readonly<Record<OperationRecord['tracks']['kind'], number>> = {
  rollout: 10,
  rolloutEnd: 10,
  scaleSet: 5,
  none: 1,
}

/**
 * Seconds a poller should wait before asking about `op` again: `baseSeconds` (the configured
 * `retryAfter`, 1 by default) for its first 20 s, then a tenth of its age, capped by its kind
 * (10 s for rollouts and cancels, 5 s for scale set provisioning). A poller thus sees a fast
 * operation end within a second, and a long rollout costs a request every 10 s, not every 1 s.
 * With base 1: age 0–19 s → 1; 45 s → 4; a rollout at 2 min → 10; a scale set at 2 min → 5.
 *
 * @example retryAfterSecondsOf(op, op.startTimeMs + 45_000, 1) // → 4
 */
export function retryAfterSecondsOf(
  op: OperationRecord,
  nowMs: number,
  baseSeconds: number,
): number {
  const ageSeconds = Math.max(0, Math.floor((nowMs - op.startTimeMs) / 1000))
  const grown = Math.min(RETRY_AFTER_MAX_SECONDS[op.tracks.kind], Math.floor(ageSeconds / 10))
  return Math.max(1, Math.ceil(baseSeconds), grown)
}
