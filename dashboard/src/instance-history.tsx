/**
 * An instance's timeline across rollouts, for its drawer (issue 22 §4): its row of each of the
 * set's last rollouts that reached it (`…/rollouts`, then each one's `…/timeline`), newest first,
 * drawn as the rollout timeline draws it.
 */
import { useEffect, useState } from 'preact/hooks'
import type { Api } from './api.js'
import { GanttChart } from './gantt.js'
import type { TimelineProps } from './timeline-model.js'
import { buildGantt, gateAndHookAnswers } from './timeline-model.js'

/** How many of the set's latest rollouts the drawer looks through. */
const LOOK_BACK = 10

export function InstanceHistory(p: {
  api: Api
  setId: string
  instanceId: string
  refresh: number
}) {
  const [found, setFound] = useState<TimelineProps[] | null>(null)
  useEffect(() => {
    const base = `${p.setId}/providers/Osroll.Upgrades/rollouts`
    p.api
      .get<{ value: { name: string }[] }>(base)
      .then((l) =>
        Promise.all(
          l.value
            .slice(0, LOOK_BACK)
            .map((r) =>
              p.api
                .get<{ properties: TimelineProps }>(`${base}/${r.name}/timeline`)
                .then((t) => t.properties),
            ),
        ),
      )
      .then((ts) =>
        setFound(
          ts
            .map((t) => ({
              ...t,
              instances: t.instances.filter((i) => i.instanceId === p.instanceId),
            }))
            .filter((t) => t.instances.length > 0),
        ),
      )
      .catch(() => setFound([]))
  }, [p.setId, p.instanceId, p.refresh])
  if (found === null) return <p class="muted">Loading…</p>
  if (found.length === 0)
    return <p class="muted">No rollout of the last {LOOK_BACK} reached this instance.</p>
  const answers = gateAndHookAnswers(found[0] as TimelineProps)
  return (
    <>
      <h4>Gates and hooks</h4>
      {answers.length === 0 ? (
        <p class="muted small" data-testid="instance-answers-none">
          No gate or hook answered for this instance in its latest rollout.
        </p>
      ) : (
        <ul class="answers small" data-testid="instance-answers">
          {answers.map((a, i) => (
            <li key={i}>
              <span class="mono">{new Date(a.time).toLocaleTimeString()}</span> {a.step}: {a.reason}
              {a.hook?.reason ? ` — “${a.hook.reason}”` : ''}
            </li>
          ))}
        </ul>
      )}
      <ol class="instance-history" data-testid="instance-history">
        {found.map((t) => (
          <li key={t.rolloutId}>
            <div class="small">
              {new Date(t.runningStatus.startTime).toLocaleString()} · to{' '}
              <span class="mono">{t.targetImageVersion ?? '?'}</span> · rollout{' '}
              {t.runningStatus.code}
            </div>
            <GanttChart
              gantt={buildGantt(t, Date.now(), Infinity)}
              live={!t.runningStatus.endTime}
              compact
            />
          </li>
        ))}
      </ol>
    </>
  )
}
