/**
 * Rollout plans as stages (issue 22 §3, issue 21 §4; docs/rollouts.md § Waves across scale
 * sets): each plan of the fleet's subscriptions with its wave's version and phase, its stages in
 * order, each stage's phase, bake and sets with their state and reason, and the plan's pause,
 * resume and cancel, each after a confirmation that says what it will do. Every state is written
 * in words beside its symbol: colour is never the only carrier.
 */
import { useEffect, useState } from 'preact/hooks'
import type { Api } from './api.js'
import { confirmDialog } from './plan.js'

type Reason = { code: string; message: string; stage?: string | null; scaleSet?: string | null }
type StageSet = { id: string; state: string; rolloutId: string | null; reason: Reason | null }
type Stage = {
  name: string
  phase: string
  bakeStartTime: string | null
  bakeEndTime: string | null
  scaleSets: StageSet[]
}
export type PlanItem = {
  id: string
  name: string
  properties: {
    paused: boolean
    stages: { name: string; bakeTime: string }[]
    status: {
      phase: string
      version: string | null
      currentStage: string | null
      reason: Reason | null
      stages: Stage[]
    }
  }
}

/** A symbol per phase or state, always shown with its word. */
const SYMBOL: Record<string, string> = {
  Idle: '○',
  Pending: '○',
  Rolling: '▶',
  Baking: '⏳',
  Completed: '✓',
  Upgraded: '✓',
  Succeeded: '✓',
  Failed: '✗',
  Paused: '⏸',
  Cancelling: '■',
  Cancelled: '■',
}

/** What a plan action will do, in the confirmation's words. */
export function planActionWords(action: 'pause' | 'resume' | 'cancel', plan: PlanItem): string {
  const s = plan.properties.status
  if (action === 'pause')
    return `Pause plan ${plan.name}? The stage in flight${s.currentStage ? ` (${s.currentStage})` : ''} goes on and bakes, but no next stage and no new wave starts until you resume.`
  if (action === 'resume')
    return `Resume plan ${plan.name}? The next stage starts once the current one has completed and baked.`
  return `Cancel the wave of ${s.version ?? 'the current version'} on plan ${plan.name}? Stages not reached never start; sets already released keep their version. The next new version starts a new wave.`
}

/** The plan's actions now: pause unless paused, resume when paused, cancel while a wave rolls. */
export function planActions(plan: PlanItem): ('pause' | 'resume' | 'cancel')[] {
  const { paused, status } = plan.properties
  const rolling = status.phase === 'Rolling' || (paused && status.stages.some(inFlight))
  return [paused ? 'resume' : 'pause', ...(rolling ? (['cancel'] as const) : [])]
}

function inFlight(s: Stage): boolean {
  return s.phase === 'Rolling' || s.phase === 'Baking'
}

export function RolloutPlans(p: { api: Api; subs: string[]; refresh: number; canAct: boolean }) {
  const [plans, setPlans] = useState<PlanItem[] | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const load = async () => {
    const lists = await Promise.all(
      p.subs.map((sub) =>
        p.api.list<PlanItem>(`/subscriptions/${sub}/providers/Osroll.Upgrades/rolloutPlans`),
      ),
    )
    setPlans(lists.flat())
  }
  useEffect(() => {
    load().catch((err: unknown) => setNotice(`Could not read the plans: ${(err as Error).message}`))
  }, [p.refresh, p.subs.join()])
  if (plans === null || plans.length === 0) return null

  const act = async (plan: PlanItem, action: 'pause' | 'resume' | 'cancel') => {
    if (!(await confirmDialog(planActionWords(action, plan), `Yes, ${action}`))) return
    try {
      await p.api.request('POST', `${plan.id}/${action}`)
      setNotice(`Plan ${plan.name}: ${action} asked.`)
      await load()
    } catch (err) {
      setNotice(`Could not ${action} plan ${plan.name}: ${(err as Error).message}`)
    }
  }

  return (
    <div class="waves">
      <h2>Rollout plans</h2>
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      {plans.map((plan) => {
        const s = plan.properties.status
        const phase = plan.properties.paused ? 'Paused' : s.phase
        return (
          <article
            key={plan.id}
            class="plan-waves"
            data-testid="rollout-plan"
            data-plan={plan.name}
            aria-label={`Rollout plan ${plan.name}`}
          >
            <div class="titlebar">
              <h3>
                {plan.name}{' '}
                <span class={`phase ${phase}`} data-testid="plan-phase" data-phase={phase}>
                  {SYMBOL[phase] ?? '•'} {phase}
                </span>
              </h3>
              {p.canAct && (
                <div class="actions">
                  {planActions(plan).map((a) => (
                    <button
                      type="button"
                      key={a}
                      class={a === 'cancel' ? 'danger' : ''}
                      onClick={() => void act(plan, a)}
                    >
                      {a[0]?.toUpperCase()}
                      {a.slice(1)} plan {plan.name}
                    </button>
                  ))}
                </div>
              )}
            </div>
            <p class="muted">
              {s.version ? (
                <>
                  wave of <span class="mono">{s.version}</span>
                  {s.currentStage ? ` · at stage ${s.currentStage}` : ''}
                </>
              ) : (
                'no wave yet'
              )}
            </p>
            {s.reason && (
              <p class="error small" data-testid="plan-reason">
                {s.reason.code}: {s.reason.message}
              </p>
            )}
            <ol class="stages">
              {s.stages.map((st, i) => (
                <li
                  key={st.name}
                  class={`stage ${st.phase}`}
                  data-testid="plan-stage"
                  data-phase={st.phase}
                  aria-label={`Stage ${i + 1}, ${st.name}: ${st.phase}`}
                >
                  <div>
                    <strong>
                      {i + 1}. {st.name}
                    </strong>{' '}
                    <span class="phase">
                      {SYMBOL[st.phase] ?? '•'} {st.phase}
                    </span>
                  </div>
                  <div class="muted small">
                    bake {plan.properties.stages[i]?.bakeTime ?? 'PT0S'}
                    {st.phase === 'Baking' && st.bakeEndTime
                      ? ` · until ${new Date(st.bakeEndTime).toLocaleTimeString()}`
                      : ''}
                  </div>
                  <ul>
                    {st.scaleSets.map((set) => (
                      <li key={set.id} data-testid="plan-set" data-state={set.state}>
                        <span class="mono">{set.id.split('/').pop()}</span>{' '}
                        <span>
                          {SYMBOL[set.state] ?? '•'} {set.state}
                        </span>
                        {set.reason && (
                          <div class="error small">
                            {set.reason.code}: {set.reason.message}
                          </div>
                        )}
                      </li>
                    ))}
                  </ul>
                </li>
              ))}
            </ol>
          </article>
        )
      })}
    </div>
  )
}
