/**
 * Calls a lifecycle hook (docs/rollouts.md § Lifecycle hooks): one POST of the instance, the set,
 * the rollout and the target version as JSON, under the hook's timeout. Never throws: what went
 * wrong (timeout, no connection, a non-2xx status, an answer that is no JSON object) is the
 * result, and the core takes the hook's default action for it.
 */
import type { HookResult } from '../core/rollout/hooks.js'
import type { Action } from '../core/rollout/types.js'

export type HookCall = Extract<Action, { type: 'callHook' }>

/** What the webhook is told, as JSON. */
export type HookRequest = Readonly<{
  hook: HookCall['hook']
  scaleSetId: string
  rolloutId: string | null
  instanceId: string
  batch: number
  fromVersion: string
  targetVersion: string | null
  /** 0 for the first call of this hook for this instance; counts on after each defer. */
  deferrals: number
}>

export interface HookCaller {
  call(call: HookCall, request: HookRequest, signal: AbortSignal): Promise<HookResult>
}

/** The longest answer body read (a reason longer than this is cut anyway). */
const BODY_MAX = 16_384

/**
 * The HTTP caller: `fetch` with the hook's own timeout.
 * @example a hook answering 200 {"answer":"defer","retryAfterSeconds":30} →
 *   { kind: 'answer', answer: 'defer', retryAfterSeconds: 30 }; a 503 "busy" →
 *   { kind: 'error', cause: 'status', detail: 'HTTP 503: busy' }
 */
export const httpHookCaller: HookCaller = {
  async call(call, request, signal) {
    const timeout = AbortSignal.timeout(call.timeoutMs)
    const both = AbortSignal.any([signal, timeout])
    let res: Response
    try {
      res = await fetch(call.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(request),
        signal: both,
        redirect: 'error',
      })
    } catch (err) {
      if (timeout.aborted)
        return { kind: 'error', cause: 'timeout', detail: `no answer within ${call.timeoutMs} ms` }
      return { kind: 'error', cause: 'connection', detail: messageOf(err) }
    }
    let text: string
    try {
      text = (await res.text()).slice(0, BODY_MAX)
    } catch (err) {
      const cause = timeout.aborted ? 'timeout' : 'connection'
      return { kind: 'error', cause, detail: messageOf(err) }
    }
    if (res.status < 200 || res.status > 299)
      return { kind: 'error', cause: 'status', detail: `HTTP ${res.status}: ${text}` }
    return parseAnswer(text)
  },
}

/**
 * An answer body: a JSON object with a string `answer`, optional `retryAfterSeconds` and
 * `reason`. Whether the answer is one the hook may give is the core's to say.
 */
export function parseAnswer(text: string): HookResult {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return { kind: 'error', cause: 'unparseable', detail: `not JSON: ${text}` }
  }
  const o = body as Record<string, unknown> | null
  if (!o || typeof o !== 'object' || Array.isArray(o) || typeof o['answer'] !== 'string')
    return { kind: 'error', cause: 'unparseable', detail: `no "answer" string: ${text}` }
  return {
    kind: 'answer',
    answer: o['answer'],
    ...(o['retryAfterSeconds'] !== undefined ? { retryAfterSeconds: o['retryAfterSeconds'] } : {}),
    ...(o['reason'] !== undefined ? { reason: o['reason'] } : {}),
  }
}

function messageOf(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } }
  const cause = e?.cause?.code ?? e?.cause?.message
  return cause ? `${e.message ?? String(err)} (${cause})` : (e?.message ?? String(err))
}
