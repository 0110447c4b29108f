/**
 * The checks the health gates make (docs/controls.md § Health gates), each one call: an instant
 * Prometheus query through its HTTP API, and a webhook's POST; plus how verdicts combine. The
 * evaluator (gates.ts) schedules them, with each gate's interval and timeout.
 */
import type { GateCandidate, GateReason, GateVerdict, WebhookGate } from '../core/gates/gates.js'
import type { Rollout } from '../core/rollout/types.js'
import type { ScaleSetState } from '../store/store.js'

/** One check's outcome: a verdict, or inconclusive (asked again at the interval until timeout). */
export type CheckResult =
  | { kind: 'pass'; message: string }
  | { kind: 'fail'; reason: GateReason; message: string }
  | { kind: 'inconclusive'; reason: GateReason; message: string }

export type EvalContext = Readonly<{
  state: ScaleSetState
  rollout: Rollout
  candidate: GateCandidate | null
  batch: number
}>

export function setName(state: ScaleSetState): string {
  return state.spec.name
}

/** Fail wins; all pass passes; else pending. */
export function combine(vs: readonly GateVerdict[]): GateVerdict {
  const failed = vs.find((v) => v.status === 'fail')
  if (failed) return failed
  return vs.every((v) => v.status === 'pass') ? { status: 'pass' } : { status: 'pending' }
}

type QueryOutcome =
  | { kind: 'value'; value: number }
  | { kind: 'fail'; reason: GateReason; message: string }
  | { kind: 'inconclusive'; reason: GateReason; message: string }

/**
 * One instant query through Prometheus's HTTP API (`/api/v1/query`): one sample or a scalar is a
 * value; no sample (or NaN) is no data; a 5xx (unavailable, its own query timeout) is asked again;
 * several series, or a refusal (400 bad_data, 422 execution), fail the gate.
 */
export async function queryValue(
  serverUrl: string,
  query: string,
  signal: AbortSignal,
): Promise<QueryOutcome> {
  const url = `${serverUrl.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`
  let res: Response
  try {
    res = await fetch(url, { signal, redirect: 'error' })
  } catch (err) {
    if (signal.aborted)
      return {
        kind: 'fail',
        reason: 'GateTimeout',
        message: `Prometheus at ${serverUrl} did not answer within the gate's timeout`,
      }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    return {
      kind: 'inconclusive',
      reason: 'GateUnreachable',
      message: `Prometheus at ${serverUrl} is unreachable: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
    }
  }
  const text = await res.text().catch(() => '')
  let body: PromAnswer | null = null
  try {
    body = JSON.parse(text) as PromAnswer
  } catch {
    body = null
  }
  if (!body || body.status !== 'success') {
    if (res.status >= 500)
      return {
        kind: 'inconclusive',
        reason: 'GateUnreachable',
        message: `Prometheus at ${serverUrl} answered ${res.status}: ${body?.error ?? text.slice(0, 300)}`,
      }
    return {
      kind: 'fail',
      reason: 'GateQueryFailed',
      message: `Prometheus refused ${query}: ${body?.error ?? `HTTP ${res.status} ${text.slice(0, 300)}`}`,
    }
  }
  const data = body.data
  let raw: string | undefined
  if (data?.resultType === 'scalar') raw = (data.result as [number, string])[1]
  else if (data?.resultType === 'vector') {
    const rows = data.result as { value: [number, string] }[]
    if (rows.length > 1)
      return {
        kind: 'fail',
        reason: 'GateQueryFailed',
        message: `${query} returned ${rows.length} series; a gate needs one value (aggregate it, e.g. with sum or max)`,
      }
    raw = rows[0]?.value[1]
  } else
    return {
      kind: 'fail',
      reason: 'GateQueryFailed',
      message: `${query} returned a ${data?.resultType ?? 'missing'} result; a gate needs a scalar or an instant vector`,
    }
  const value = raw === undefined ? NaN : Number(raw)
  if (Number.isNaN(value))
    return { kind: 'inconclusive', reason: 'GateNoData', message: `${query} returned no data` }
  return { kind: 'value', value }
}

type PromAnswer = {
  status: 'success' | 'error'
  error?: string
  errorType?: string
  data?: { resultType: string; result: unknown }
}

/** A webhook gate: POST of the instance and rollout as JSON; 2xx passes, else fails quoted. */
export async function checkWebhook(
  gate: WebhookGate,
  ctx: EvalContext,
  signal: AbortSignal,
): Promise<CheckResult> {
  const body = {
    gate: gate.name,
    scaleSet: { id: ctx.state.key, name: setName(ctx.state) },
    instance: {
      instanceId: ctx.candidate?.instanceId ?? null,
      fromVersion: ctx.candidate?.fromVersion ?? null,
      version: ctx.rollout.target.imageVersion,
    },
    rollout: {
      id: ctx.rollout.id,
      kind: ctx.rollout.kind,
      startedBy: ctx.rollout.startedBy,
      targetVersion: ctx.rollout.target.imageVersion,
      modelGeneration: ctx.rollout.target.modelGeneration,
      batch: ctx.batch,
    },
  }
  let res: Response
  try {
    res = await fetch(gate.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
      redirect: 'manual',
    })
  } catch (err) {
    if (signal.aborted)
      return {
        kind: 'fail',
        reason: 'GateTimeout',
        message: `${gate.url} did not answer within the gate's timeout`,
      }
    const cause = (err as { cause?: { code?: string } }).cause
    return {
      kind: 'inconclusive',
      reason: 'GateUnreachable',
      message: `${gate.url} is unreachable: ${cause?.code ?? (err as Error).message}`,
    }
  }
  const text = (await res.text().catch(() => '')).slice(0, 500)
  if (res.status >= 200 && res.status < 300) return { kind: 'pass', message: `HTTP ${res.status}` }
  return {
    kind: 'fail',
    reason: 'GateWebhookRefused',
    message: `${gate.url} answered HTTP ${res.status}: ${JSON.stringify(text)}`,
  }
}
