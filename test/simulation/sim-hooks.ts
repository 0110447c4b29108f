/**
 * The simulator's lifecycle hooks (docs/rollouts.md § Lifecycle hooks): a HookCaller that answers
 * at once, from a script per instance (canonical scenarios) or drawn per call from weights and
 * the seed (random ones): continue, defer, skip, fail, a timeout, a non-2xx status or garbage.
 * An answer is a pure function of the scenario, the rollout, the instance and the call number,
 * so a call repeated after a crash gets the same answer.
 */
import type { HookResult, LifecycleHooks } from '../../src/core/rollout/hooks.js'
import type { HookCaller } from '../../src/runtime/hook-caller.js'

export type SimHookOutcome =
  'continue' | 'defer' | 'skip' | 'fail' | 'timeout' | 'status' | 'garbage'

export type SimHooks = Readonly<{
  spec: LifecycleHooks
  /** Answers per `${hook}:${instanceId}`, by call number; the last one repeats. */
  script?: Readonly<Record<string, readonly SimHookOutcome[]>>
  /** Otherwise drawn per call with these weights. */
  weights?: Readonly<Partial<Record<SimHookOutcome, number>>>
  /** A defer answer's retryAfterSeconds (absent: none given, the core's default). */
  deferSeconds?: number
  seed: number
}>

export function simHookCaller(h: SimHooks): HookCaller {
  return {
    call: async (call, request) => {
      const scripted = h.script?.[`${call.hook}:${call.instanceId}`]
      const outcome = scripted
        ? (scripted[Math.min(call.call, scripted.length - 1)] as SimHookOutcome)
        : draw(h, `${h.seed}|${request.rolloutId}|${call.hook}|${call.instanceId}|${call.call}`)
      return resultOf(outcome, h, call.timeoutMs)
    },
  }
}

function resultOf(o: SimHookOutcome, h: SimHooks, timeoutMs: number): HookResult {
  switch (o) {
    case 'timeout':
      return { kind: 'error', cause: 'timeout', detail: `no answer within ${timeoutMs} ms` }
    case 'status':
      return { kind: 'error', cause: 'status', detail: 'HTTP 500: simulated' }
    case 'garbage':
      return { kind: 'error', cause: 'unparseable', detail: 'not JSON: <html>' }
    case 'defer':
      return {
        kind: 'answer',
        answer: 'defer',
        ...(h.deferSeconds !== undefined ? { retryAfterSeconds: h.deferSeconds } : {}),
        reason: 'simulated deferral',
      }
    default:
      return { kind: 'answer', answer: o, reason: `simulated ${o}` }
  }
}

function draw(h: SimHooks, key: string): SimHookOutcome {
  const entries = Object.entries(h.weights ?? { continue: 1 }) as [SimHookOutcome, number][]
  const total = entries.reduce((n, [, w]) => n + w, 0)
  let x = fraction(key) * total
  for (const [o, w] of entries) {
    if (x < w) return o
    x -= w
  }
  return 'continue'
}

/** FNV-1a, 32 bits, as a fraction in [0, 1). */
function fraction(text: string): number {
  let v = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    v ^= text.charCodeAt(i)
    v = Math.imul(v, 0x01000193) >>> 0
  }
  return v / 0x1_0000_0000
}
