/**
 * The simulator's checks of lifecycle hooks (docs/rollouts.md § Lifecycle hooks), after every
 * step: an instance the pre-reimage hook skipped is never reimaged in that rollout; one waiting
 * on the hook (deferred or not yet answered) is still on its version; none is reimaged before
 * its deferral ends or deferred past its bounds; one the post-healthy hook failed never counts
 * upgraded; every recorded answer is one its hook may give.
 */
import {
  HOOK_ANSWERS,
  HOOK_DEFAULTS,
  MAX_DEFER_MS_DEFAULT,
  MAX_DEFERRALS_DEFAULT,
} from '../../src/core/rollout/hooks.js'
import type { Attempt, Rollout, RolloutEvent } from '../../src/core/rollout/types.js'
import type { InstanceView } from '../../src/fabrics/types/fabric.js'

const TOUCHED = new Set(['Reimaging', 'Updating', 'Surging', 'WaitingHealth'])

export class HookInvariants {
  private readonly checked = new Map<string, number>()

  constructor(private readonly violations: string[]) {}

  async check(
    nowMs: number,
    fleet: readonly InstanceView[],
    rollouts: readonly Rollout[],
    listEvents: (rolloutId: string) => Promise<readonly RolloutEvent[]>,
  ): Promise<void> {
    const byId = new Map(fleet.map((v) => [v.instanceId, v]))
    const bad = (r: Rollout, id: string, text: string) =>
      this.violations.push(`t=${nowMs}ms: rollout ${r.id} ${id}: ${text}`)
    for (const r of rollouts) {
      if (!r.hooks) continue
      if (r.status === 'RollingForward')
        for (const a of r.attempts) {
          if (a.state !== 'Skipped' && a.state !== 'PreReimage') continue
          const v = byId.get(a.instanceId)
          if (v && v.osImageVersion !== a.fromVersion)
            bad(r, a.instanceId, `${a.state} but on ${v.osImageVersion}, not ${a.fromVersion}`)
        }
      if (this.checked.get(r.id) === r.revision) continue
      this.checked.set(r.id, r.revision)
      const events = await listEvents(r.id)
      for (const a of r.attempts) {
        const mine = events.filter((e) => e.instanceId === a.instanceId)
        const problem = problemOf(r, a, mine)
        if (problem) bad(r, a.instanceId, problem)
      }
    }
  }
}

function problemOf(r: Rollout, a: Attempt, events: readonly RolloutEvent[]): string | null {
  let notBefore = -Infinity
  let deferrals = 0
  let failedByHook = false
  for (const e of events) {
    const h = e.hook
    if (h) {
      if (!HOOK_ANSWERS[h.hook].includes(h.answer)) return `${h.hook} answered ${h.answer}`
      if (h.source === 'default' && (!h.cause || !HOOK_DEFAULTS[h.hook].includes(h.answer)))
        return `default ${h.answer} of ${h.hook} without a cause, or not a default action`
      if (h.answer === 'defer') {
        deferrals++
        notBefore = h.notBeforeMs ?? notBefore
      }
      if (h.hook === 'postHealthy' && h.answer === 'fail') failedByHook = true
    }
    if (e.from === 'PreReimage' && TOUCHED.has(e.to) && e.atMs < notBefore)
      return `reimage requested at ${e.atMs}, before its deferral ended at ${notBefore}`
    if (e.to === 'Succeeded' && failedByHook) return 'counted upgraded after the post-healthy fail'
  }
  const spec = r.hooks?.preReimage
  if (deferrals > (spec?.maxDeferrals ?? MAX_DEFERRALS_DEFAULT))
    return `deferred ${deferrals} times, more than maxDeferrals`
  if (notBefore - a.startedAtMs > (spec?.maxDeferMs ?? MAX_DEFER_MS_DEFAULT))
    return `deferred until ${notBefore}, past maxDeferTime from ${a.startedAtMs}`
  if (a.state === 'Skipped' && events.some((e) => TOUCHED.has(e.to)))
    return 'skipped, yet reimaged in this rollout'
  if (failedByHook && a.state === 'Succeeded') return 'Succeeded after the post-healthy fail'
  if (failedByHook && a.failure?.reason !== 'PostHealthyHookFailed')
    return `post-healthy fail recorded as ${a.failure?.reason ?? 'no failure'}`
  return null
}
