/**
 * Per-instance lifecycle hooks (docs/rollouts.md § Lifecycle hooks): a pre-reimage hook asked
 * before an instance of a batch is touched (continue, defer or skip), and a post-healthy hook
 * asked once it is healthy on the new version (continue or fail). The runtime makes the calls;
 * their answers enter here as data and this file alone decides what they mean.
 */
export type HookName = 'preReimage' | 'postHealthy'

/** What a hook may answer, and what osroll may do (the default action is one of these). */
export type HookAnswerKind = 'continue' | 'defer' | 'skip' | 'fail'

/** Where the action taken came from: the webhook's answer, the default, the guest, a request. */
export type HookSource = 'webhook' | 'default' | 'guest' | 'request'

/** Why the default action applied. */
export type HookDefaultCause =
  'timeout' | 'connection' | 'status' | 'unparseable' | 'deferLimit' | 'notBefore'

/** One hook of a set (`lifecycleHooks/default`), as stored and frozen into a rollout. */
export type HookSpec = Readonly<{
  url: string
  timeoutMs: number
  /** preReimage: continue or skip; postHealthy: continue or fail. */
  defaultAction: HookAnswerKind
  /** preReimage only: defer answers allowed per instance, and their total time. */
  maxDeferrals?: number
  maxDeferMs?: number
}>

export type LifecycleHooks = Readonly<{ preReimage?: HookSpec; postHealthy?: HookSpec }>

/** The answers each hook may give; anything else is unparseable. */
export const HOOK_ANSWERS: Readonly<Record<HookName, readonly HookAnswerKind[]>> = {
  preReimage: ['continue', 'defer', 'skip'],
  postHealthy: ['continue', 'fail'],
}

/** The default actions each hook may take. */
export const HOOK_DEFAULTS: Readonly<Record<HookName, readonly HookAnswerKind[]>> = {
  preReimage: ['continue', 'skip'],
  postHealthy: ['continue', 'fail'],
}

/** retryAfter of a defer answer: absent → 60 s; clamped to 1 s … 10 min. */
export const DEFER_DEFAULT_MS = 60_000
export const DEFER_MIN_MS = 1_000
export const DEFER_MAX_MS = 600_000
/** A preReimage hook's bounds when it gives none: 10 deferrals, 1 hour in all. */
export const MAX_DEFERRALS_DEFAULT = 10
export const MAX_DEFER_MS_DEFAULT = 3_600_000
/** The longest reason quoted from an answer. */
export const QUOTE_MAX = 300

/** What the runtime's call gave: an answer as the webhook wrote it, or why there is none. */
export type HookResult = Readonly<
  | { kind: 'answer'; answer: string; retryAfterSeconds?: unknown; reason?: unknown }
  | { kind: 'error'; cause: 'timeout' | 'connection' | 'status' | 'unparseable'; detail: string }
>

/** A call's result for one attempt; `call` is the attempt's call number it answers. */
export type HookAnswer = Readonly<{
  /** The rollout whose call this answers: an answer that lands after its rollout ended is not the next one's. */
  rolloutId: string | null
  instanceId: string
  hook: HookName
  call: number
  result: HookResult
}>

/** Where an attempt stands with its hook: calls answered, deferrals, the time to ask again. */
export type HookProgress = Readonly<{
  hook: HookName
  /** Answers taken so far (the next call's number); a late answer to an older call is ignored. */
  call: number
  deferrals: number
  firstAskedAtMs: number
  /** A defer answer's end: no call, and no reimage, before it. */
  notBeforeMs: number | null
}>

/**
 * One hook answer as the timeline shows it: which hook, the action taken, where it came from
 * (the webhook, the default and why, the guest), the answer's reason quoted.
 */
export type HookRecord = Readonly<{
  hook: HookName
  answer: HookAnswerKind
  source: HookSource
  cause?: HookDefaultCause
  quote?: string | null
  retryAfterMs?: number
  notBeforeMs?: number
}>

/** The decision on one answer: what osroll does, and the record the timeline shows. */
export type HookDecision = Readonly<{
  action: HookAnswerKind
  record: HookRecord
  progress: HookProgress
}>

/**
 * Decides what one answer means. An answer the hook may not give, a `retryAfter` that is no
 * number, a non-2xx status, a timeout or no connection take the default action; a defer past
 * `maxDeferrals` or `maxDeferMs` takes it too.
 * @example preReimage, default skip, answer { answer: 'defer', retryAfterSeconds: 30 } at 1 000,
 *   first deferral → action defer, progress.notBeforeMs 31 000, record { answer: 'defer',
 *   source: 'webhook', retryAfterMs: 30 000 }
 */
export function decideHook(
  hook: HookName,
  spec: HookSpec,
  p: HookProgress,
  result: HookResult,
  nowMs: number,
): HookDecision {
  const next: HookProgress = { ...p, call: p.call + 1, notBeforeMs: null }
  const byDefault = (cause: HookDefaultCause, quote: string | null): HookDecision => ({
    action: spec.defaultAction,
    record: { hook, answer: spec.defaultAction, source: 'default', cause, quote },
    progress: next,
  })
  if (result.kind === 'error') return byDefault(result.cause, quoted(result.detail))
  const answer = result.answer as HookAnswerKind
  const reason = typeof result.reason === 'string' ? quoted(result.reason) : null
  if (!HOOK_ANSWERS[hook].includes(answer))
    return byDefault('unparseable', quoted(`answer ${JSON.stringify(result.answer)}`))
  if (answer !== 'defer')
    return {
      action: answer,
      record: { hook, answer, source: 'webhook', quote: reason },
      progress: next,
    }
  const retry = result.retryAfterSeconds
  if (retry !== undefined && (typeof retry !== 'number' || !Number.isFinite(retry)))
    return byDefault('unparseable', quoted(`retryAfterSeconds ${JSON.stringify(retry)}`))
  const retryAfterMs = clamp(retry === undefined ? DEFER_DEFAULT_MS : retry * 1000)
  const notBeforeMs = nowMs + retryAfterMs
  const deferrals = p.deferrals + 1
  const overCount = deferrals > (spec.maxDeferrals ?? MAX_DEFERRALS_DEFAULT)
  const overTime = notBeforeMs - p.firstAskedAtMs > (spec.maxDeferMs ?? MAX_DEFER_MS_DEFAULT)
  if (overCount || overTime) return byDefault('deferLimit', reason)
  return {
    action: 'defer',
    record: { hook, answer, source: 'webhook', quote: reason, retryAfterMs, notBeforeMs },
    progress: { ...next, deferrals, notBeforeMs },
  }
}

/** A fresh progress for an attempt that starts waiting on `hook`. */
export function hookProgress(hook: HookName, nowMs: number): HookProgress {
  return { hook, call: 0, deferrals: 0, firstAskedAtMs: nowMs, notBeforeMs: null }
}

/** The answer to an attempt's current call among `answers`, if one came. */
export function answerFor(
  a: Readonly<{ instanceId: string; hook?: HookProgress | null }>,
  answers: readonly HookAnswer[],
): HookAnswer | undefined {
  const p = a.hook
  if (!p) return undefined
  return answers.find(
    (x) => x.instanceId === a.instanceId && x.hook === p.hook && x.call === p.call,
  )
}

function clamp(ms: number): number {
  return Math.min(DEFER_MAX_MS, Math.max(DEFER_MIN_MS, Math.round(ms)))
}

function quoted(text: string): string {
  const t = text.trim()
  return t.length > QUOTE_MAX ? `${t.slice(0, QUOTE_MAX)}…` : t
}
