/**
 * Plan before start (issue 22 §2): the dry-run plan (`…/Osroll.Upgrades/plans/default`,
 * docs/rollouts.md § The dry-run plan) as a picture — its batches as columns of instances grouped
 * by zone and update domain, the precheck, the estimated worst-case duration — and the rollout's
 * actions: start (osroll's start, to the plan's version), pause, resume and cancel, each after a
 * confirmation that says what it will do. A Reader sees the plan and no buttons.
 */
import { useEffect, useState } from 'preact/hooks'
import type { Api } from './api.js'
import { formatMs, parseIsoDuration } from './timeline-model.js'

export type PlanInstance = {
  instanceId: string
  zone: string | null
  platformUpdateDomain: number | null
  method: string
  fromVersion: string | null
  why?: string
}
export type Plan = {
  trigger: string
  runningRolloutId: string | null
  targetImageVersion: string
  rollbackOnFailure: boolean
  policy: { maxBatchInstancePercent: number; pauseTimeBetweenBatches: string }
  precheck: { passes: boolean; error: { code?: string; message?: string } | null }
  batches: { batch: number; instances: PlanInstance[]; rampSize?: number | null }[]
  awaitingApproval?: string[]
  outcome?: string
  worstCaseDuration: string
  worstCaseAssumes?: string[] | string
}
export type Current = {
  rolloutId: string
  runningStatus: { code: string }
  pauseRequested: boolean
  paused: boolean
  batchesStarted: number
}

/** The plan's batches in words for its picture: `zone 1 · UD 0` groups and their counts. */
export function planGroups(instances: PlanInstance[]): { key: string; ids: string[] }[] {
  const m = new Map<string, string[]>()
  for (const i of instances) {
    const key = `${i.zone ? `zone ${i.zone}` : 'no zone'} · UD ${i.platformUpdateDomain ?? 0}`
    m.set(key, [...(m.get(key) ?? []), i.instanceId])
  }
  return [...m.entries()].sort().map(([key, ids]) => ({ key, ids }))
}

export function PlanAndActions(p: {
  api: Api
  setId: string
  setName: string
  canAct: boolean
  refresh: number
  onDone: () => Promise<void> | void
}) {
  const [plan, setPlan] = useState<Plan | null>(null)
  const [planError, setPlanError] = useState<string | null>(null)
  const [current, setCurrent] = useState<Current | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const base = `${p.setId}/providers/Osroll.Upgrades`
  useEffect(() => {
    p.api
      .get<{ properties: Plan }>(`${base}/plans/default`)
      .then((r) => {
        setPlan(r.properties)
        setPlanError(null)
      })
      .catch((err: unknown) => {
        setPlan(null)
        setPlanError((err as Error).message)
      })
    // No rollout yet: skip the 404 of rollouts/current (browsers log it as an error).
    p.api
      .get<{ value: unknown[] }>(`${base}/rollouts`)
      .then((l) =>
        l.value.length > 0 ? p.api.get<{ properties: Current }>(`${base}/rollouts/current`) : null,
      )
      .then((r) => setCurrent(r?.properties ?? null))
      .catch(() => setCurrent(null))
  }, [p.setId, p.refresh])

  const running = current?.runningStatus.code === 'RollingForward'
  const instances = plan?.batches.reduce((n, b) => n + b.instances.length, 0) ?? 0
  const worst = parseIsoDuration(plan?.worstCaseDuration)
  const act = async (what: 'start' | 'pause' | 'resume' | 'cancel') => {
    const words = {
      start: plan
        ? `Start an OS rollout of ${p.setName} to ${plan.targetImageVersion} now: ${instances} instances in ${plan.batches.length} batches, at worst ${worst === null ? plan.worstCaseDuration : formatMs(worst)}; ${plan.rollbackOnFailure ? 'a failed instance is rolled back to its previous OS disk' : 'a failed instance is not rolled back'}.`
        : `Start an OS rollout of ${p.setName} to the latest image now?`,
      pause: `Pause the rollout of ${p.setName}? The batch in progress finishes; no new batch starts until you resume.`,
      resume: `Resume the rollout of ${p.setName}? It goes on with its next batch.`,
      cancel: `Cancel the rollout of ${p.setName}? Instances being upgraded finish; no new batch starts, and it cannot be resumed.`,
    }[what]
    if (!(await confirmDialog(words, `Yes, ${what}`))) return
    try {
      const path = {
        start: `${base}/rollouts/start`,
        pause: `${base}/rollouts/current/pause`,
        resume: `${base}/rollouts/current/resume`,
        cancel: `${p.setId}/rollingUpgrades/cancel`,
      }[what]
      const body = what === 'start' && plan ? { version: plan.targetImageVersion } : undefined
      await p.api.request('POST', path, body)
      setNotice(
        {
          start: 'Rollout requested.',
          pause: 'Pause requested: the current batch finishes first.',
          resume: 'Resumed.',
          cancel: 'Cancellation requested.',
        }[what],
      )
      await p.onDone()
    } catch (err) {
      setNotice(`Could not ${what}: ${(err as Error).message}`)
    }
  }

  return (
    <div class="plan-and-actions">
      {p.canAct && (
        <div class="actions" data-testid="actions">
          <button type="button" onClick={() => void act('start')} disabled={running}>
            Start OS rollout
          </button>
          <button
            type="button"
            onClick={() => void act('pause')}
            disabled={!running || current?.pauseRequested}
          >
            Pause rollout
          </button>
          <button
            type="button"
            onClick={() => void act('resume')}
            disabled={!running || !current?.pauseRequested}
          >
            Resume rollout
          </button>
          <button
            type="button"
            class="danger"
            onClick={() => void act('cancel')}
            disabled={!running}
          >
            Cancel rollout
          </button>
          {running && (
            <span class="muted" data-testid="pause-state">
              {current?.paused
                ? '⏸ paused'
                : current?.pauseRequested
                  ? '⏸ pausing after this batch'
                  : '▶ running'}
            </span>
          )}
        </div>
      )}
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      {!running && (
        <section class="plan" data-testid="plan" aria-labelledby="plan-title">
          <h2 id="plan-title">Plan: what a rollout started now would do</h2>
          {planError && <p class="muted">No plan: {planError}</p>}
          {plan && <PlanPicture plan={plan} instances={instances} worst={worst} />}
        </section>
      )}
    </div>
  )
}

function PlanPicture(p: { plan: Plan; instances: number; worst: number | null }) {
  const plan = p.plan
  const assumes = Array.isArray(plan.worstCaseAssumes)
    ? plan.worstCaseAssumes.join('; ')
    : (plan.worstCaseAssumes ?? '')
  return (
    <div>
      <p data-testid="plan-summary">
        To <strong class="mono">{plan.targetImageVersion}</strong> ({plan.trigger}): {p.instances}{' '}
        instances in {plan.batches.length} batches of at most {plan.policy.maxBatchInstancePercent}%
        · pause between batches {plan.policy.pauseTimeBetweenBatches} · rollback on failure{' '}
        {plan.rollbackOnFailure ? 'on' : 'off'} · worst case{' '}
        <strong data-testid="plan-worst">
          {p.worst === null ? plan.worstCaseDuration : formatMs(p.worst)}
        </strong>
        {assumes && <span class="muted small"> (assuming {assumes})</span>}
      </p>
      <p class={plan.precheck.passes ? 'notice' : 'error'} data-testid="plan-precheck">
        {plan.precheck.passes
          ? '✓ precheck passes'
          : `✕ precheck fails: ${plan.precheck.error?.message ?? plan.precheck.error?.code ?? ''}`}
        {plan.awaitingApproval?.length
          ? ` · ${plan.awaitingApproval.length} instances wait for approval (deferral)`
          : ''}
      </p>
      {plan.batches.length === 0 ? (
        <p class="muted">Every instance already runs this version: nothing to do.</p>
      ) : (
        <ol class="plan-batches" aria-label="Planned batches">
          {plan.batches.map((b) => (
            <li key={b.batch} class="plan-batch" data-testid="plan-batch">
              <div class="plan-batch-title">
                Batch {b.batch} · {b.instances.length}
              </div>
              {planGroups(b.instances).map((g) => (
                <div key={g.key} class="plan-group">
                  <div class="small muted">{g.key}</div>
                  <div class="plan-chips">
                    {g.ids.map((id) => {
                      const i = b.instances.find((x) => x.instanceId === id) as PlanInstance
                      return (
                        <span
                          key={id}
                          class="chip"
                          title={`Instance ${id}: ${i.method}${i.fromVersion ? ` from ${i.fromVersion}` : ''}${i.why ? ` — ${i.why}` : ''}`}
                        >
                          {id}
                        </span>
                      )
                    })}
                  </div>
                </div>
              ))}
            </li>
          ))}
        </ol>
      )}
    </div>
  )
}

/** A modal confirmation (native <dialog>: focus trapped, Escape cancels). */
export function confirmDialog(message: string, yes = 'Yes'): Promise<boolean> {
  return new Promise((resolve) => {
    const d = document.createElement('dialog')
    d.setAttribute('aria-label', 'Confirm')
    d.innerHTML =
      '<p></p><form method="dialog"><button value="no">No</button> <button value="yes" class="danger"></button></form>'
    ;(d.querySelector('p') as HTMLElement).textContent = message
    ;(d.querySelector('button[value=yes]') as HTMLElement).textContent = yes
    document.body.append(d)
    d.addEventListener('close', () => {
      resolve(d.returnValue === 'yes')
      d.remove()
    })
    d.showModal()
    ;(d.querySelector('button[value=yes]') as HTMLButtonElement).focus()
  })
}
