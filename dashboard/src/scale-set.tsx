/**
 * One scale set: the running rollout (batch n of m, counts, error), actions (start or cancel an
 * OS rollout, with confirmation; not shown to a Reader), the instance grid coloured by image
 * version and marked by health, grouped by zone and update domain so the batches can be seen
 * moving, the OS upgrade history as a timeline, and one instance's details.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { Api, StreamEvent } from './api.js'
import { compareVersions, useLive } from './live.js'
import type { ArmSet, HistoryEntry, Latest, Vm } from './model.js'
import { CELL_LABEL, cellState, healthSource, imageOf } from './model.js'
import { RolloutTimeline, useRolloutTimeline } from './gantt.js'
import { PlanAndActions } from './plan.js'
import { InstanceDetails } from './instance-drawer.js'

const PALETTE = [
  '#64748b',
  '#2563eb',
  '#059669',
  '#7c3aed',
  '#d97706',
  '#db2777',
  '#0891b2',
  '#65a30d',
]

type Data = { set: ArmSet; vms: Vm[]; latest: Latest | null; history: HistoryEntry[] }

export function ScaleSetView(p: { api: Api; id: string; canAct: boolean; onBack: () => void }) {
  const [data, setData] = useState<Data | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [selected, setSelected] = useState<string | null>(null)
  const [refresh, setRefresh] = useState(0)
  const lastEvents = useRef<{ rolloutId: string | null; byInstance: Map<string, string> }>({
    rolloutId: null,
    byInstance: new Map(),
  })

  const load = async () => {
    try {
      const [set, vms, history] = await Promise.all([
        p.api.get<ArmSet>(p.id),
        p.api.list<Vm>(`${p.id}/virtualMachines?$expand=instanceView`),
        p.api.list<HistoryEntry>(`${p.id}/osUpgradeHistory`),
      ])
      // No OS rollout yet: skip the 404 of rollingUpgrades/latest (browsers log it as an error).
      const latest =
        history.length > 0
          ? await p.api.get<Latest>(`${p.id}/rollingUpgrades/latest`).catch(() => null)
          : null
      setData({ set, vms, latest, history })
      setRefresh((n) => n + 1)
      setError(null)
    } catch (err) {
      setError((err as Error).message)
    }
  }
  const onEvent = (e: StreamEvent) => {
    const le = lastEvents.current
    if (e.kind === 'snapshot') {
      // Where the stream starts: the running rollout's instance states so far.
      le.rolloutId = e.data.rollout?.rolloutId ?? null
      le.byInstance = new Map(Object.entries(e.data.rollout?.instances ?? {}))
      return
    }
    if (le.rolloutId !== e.data.rolloutId) {
      le.rolloutId = e.data.rolloutId
      le.byInstance = new Map()
    }
    // A step inside a state (from = to) can be noted after the state moved on: not a state.
    if (e.data.instanceId !== null && e.data.from !== e.data.to)
      le.byInstance.set(e.data.instanceId, e.data.to)
  }
  const live = useLive(p.api, `?scaleSet=${encodeURIComponent(p.id)}`, load, onEvent)
  useEffect(() => void load(), [p.id])

  const timeline = useRolloutTimeline(p.api, p.id, refresh)
  if (!data)
    return (
      <section>
        <BackLink onBack={p.onBack} />
        {error ? (
          <p role="alert" class="error">
            {error}
          </p>
        ) : (
          <p class="muted">Loading…</p>
        )}
        {/* The timeline has reads of its own: it need not wait for the 1,000 instances' views. */}
        <h2>Rollout timeline</h2>
        <RolloutTimeline data={timeline} />
      </section>
    )

  const { set, vms, latest, history } = data
  const versions = [
    ...new Set(vms.map((v) => v.properties.storageProfile?.imageReference?.exactVersion ?? '?')),
  ].sort(compareVersions)
  const colour = (v: string) => PALETTE[versions.indexOf(v) % PALETTE.length] as string
  const chosen = vms.find((v) => v.instanceId === selected) ?? null

  return (
    <section aria-labelledby="set-title">
      <BackLink onBack={p.onBack} />
      <div class="titlebar">
        <h1 id="set-title">{set.name}</h1>
        <span class={live ? 'live on' : 'live'} data-testid="live">
          {live ? 'live' : 'reconnecting…'}
        </span>
      </div>
      <p class="muted">
        {vms.length} instances · <span class="mono">{imageOf(set)}</span> · automatic OS upgrades{' '}
        {set.properties.upgradePolicy?.automaticOSUpgradePolicy?.enableAutomaticOSUpgrade
          ? 'on'
          : 'off'}{' '}
        · health: {healthSource(set)}
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}

      <RolloutPanel latest={latest} capacity={vms.length} />
      <PlanAndActions
        api={p.api}
        setId={p.id}
        setName={set.name}
        canAct={p.canAct}
        refresh={refresh}
        onDone={load}
      />

      <h2>Rollout timeline</h2>
      <RolloutTimeline data={timeline} />

      <h2>Instances</h2>
      <Legend versions={versions} colour={colour} />
      <Grid
        vms={vms}
        colour={colour}
        states={lastEvents.current.byInstance}
        selected={selected}
        onSelect={setSelected}
      />
      {chosen && (
        <InstanceDetails
          api={p.api}
          setId={p.id}
          vm={chosen}
          refresh={refresh}
          onClose={() => setSelected(null)}
        />
      )}

      <h2>OS upgrade history</h2>
      <Timeline history={history} />
    </section>
  )
}

function BackLink(p: { onBack: () => void }) {
  return (
    <a
      href="/"
      class="back"
      onClick={(e) => {
        e.preventDefault()
        p.onBack()
      }}
    >
      ← Fleet
    </a>
  )
}

function RolloutPanel(p: { latest: Latest | null; capacity: number }) {
  if (!p.latest) return <p class="muted">No rollout has run on this scale set.</p>
  const l = p.latest.properties
  const g = l.progress
  const done = (g.successfulInstanceCount ?? 0) + (g.failedInstanceCount ?? 0)
  const inFlight = g.inProgressInstanceCount ?? 0
  const total = done + inFlight + (g.pendingInstanceCount ?? 0)
  const size = Math.max(1, Math.floor((total * (l.policy?.maxBatchInstancePercent ?? 20)) / 100))
  const batches = Math.max(1, Math.ceil(total / size))
  const batch = Math.min(batches, Math.max(1, Math.ceil((done + inFlight) / size)))
  const code = l.runningStatus.code
  return (
    <div class={`rollout ${code}`} data-testid="rollout" aria-live="polite">
      <div>
        <strong data-testid="rollout-status">{code}</strong>
        {code === 'RollingForward' && (
          <span>
            {' '}
            · batch {batch} of {batches}
          </span>
        )}{' '}
        · started {new Date(l.runningStatus.startTime).toLocaleTimeString()}
        {l.policy?.pauseTimeBetweenBatches && l.policy.pauseTimeBetweenBatches !== 'PT0S' && (
          <span> · pause between batches {l.policy.pauseTimeBetweenBatches}</span>
        )}
        {l.runningStatus.lastAction && (
          <span class="muted"> · last action {l.runningStatus.lastAction}</span>
        )}
      </div>
      <div
        class="bar"
        role="progressbar"
        aria-label="Instances upgraded"
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={done}
      >
        <span
          class="ok"
          style={{ width: `${(100 * (g.successfulInstanceCount ?? 0)) / Math.max(1, total)}%` }}
        />
        <span
          class="bad"
          style={{ width: `${(100 * (g.failedInstanceCount ?? 0)) / Math.max(1, total)}%` }}
        />
        <span class="run" style={{ width: `${(100 * inFlight) / Math.max(1, total)}%` }} />
      </div>
      <div class="counts" data-testid="rollout-counts">
        {g.successfulInstanceCount ?? 0} upgraded · {inFlight} upgrading ·{' '}
        {g.failedInstanceCount ?? 0} failed · {g.pendingInstanceCount ?? 0} pending
      </div>
      {l.error?.message && <p class="error">{l.error.message}</p>}
    </div>
  )
}

function Legend(p: { versions: string[]; colour: (v: string) => string }) {
  return (
    <div class="legend" aria-label="Legend">
      {p.versions.map((v) => (
        <span key={v}>
          <i class="swatch" style={{ background: p.colour(v) }} /> {v}
        </span>
      ))}
      {(Object.keys(CELL_LABEL) as (keyof typeof CELL_LABEL)[]).map((s) => (
        <span key={s}>
          <i class={`swatch mark ${s}`} /> {CELL_LABEL[s]}
        </span>
      ))}
    </div>
  )
}

function Grid(p: {
  vms: Vm[]
  colour: (v: string) => string
  states: Map<string, string>
  selected: string | null
  onSelect: (id: string) => void
}) {
  const groups = new Map<string, Vm[]>()
  for (const vm of p.vms) {
    const zone = vm.zones?.[0] ? `zone ${vm.zones[0]}` : 'no zone'
    const ud = `UD ${vm.properties.instanceView?.platformUpdateDomain ?? 0}`
    const key = `${zone} · ${ud}`
    let g = groups.get(key)
    if (!g) groups.set(key, (g = []))
    g.push(vm)
  }
  const keys = [...groups.keys()].sort()
  return (
    <div class="grid" data-testid="grid">
      {keys.map((k) => (
        <div key={k} class="group">
          <div class="group-title">{k}</div>
          <div class="cells">
            {(groups.get(k) as Vm[]).map((vm) => {
              const version = vm.properties.storageProfile?.imageReference?.exactVersion ?? '?'
              const state = cellState(vm, p.states.get(vm.instanceId))
              return (
                <button
                  type="button"
                  key={vm.instanceId}
                  class={`cell ${state}${p.selected === vm.instanceId ? ' selected' : ''}`}
                  style={{ background: p.colour(version) }}
                  data-testid="instance"
                  data-version={version}
                  data-state={state}
                  aria-label={`Instance ${vm.instanceId}: ${version}, ${CELL_LABEL[state]}`}
                  title={`Instance ${vm.instanceId}: ${version}, ${CELL_LABEL[state]}`}
                  onClick={() => p.onSelect(vm.instanceId)}
                >
                  {vm.instanceId}
                </button>
              )
            })}
          </div>
        </div>
      ))}
    </div>
  )
}

function Timeline(p: { history: HistoryEntry[] }) {
  if (p.history.length === 0) return <p class="muted">No OS rollout yet.</p>
  return (
    <ol class="timeline" data-testid="history">
      {p.history.map((h, i) => {
        const r = h.properties
        const g = r.progress
        const rb = r.rollbackInfo
        return (
          <li key={i} class={r.runningStatus.code}>
            <div>
              <strong>{r.runningStatus.code}</strong> · target{' '}
              <span class="mono">
                {r.targetImageReference?.version ?? r.targetImageReference?.id ?? '?'}
              </span>{' '}
              · {r.startedBy ?? ''}
            </div>
            <div class="muted small">
              {new Date(r.runningStatus.startTime).toLocaleString()}
              {r.runningStatus.endTime
                ? ` → ${new Date(r.runningStatus.endTime).toLocaleTimeString()}`
                : ''}{' '}
              · {g.successfulInstanceCount ?? 0} upgraded, {g.failedInstanceCount ?? 0} failed
              {rb?.successfullyRolledbackInstanceCount
                ? `, ${rb.successfullyRolledbackInstanceCount} rolled back`
                : ''}
              {rb?.failedRolledbackInstanceCount
                ? `, ${rb.failedRolledbackInstanceCount} rollback failed`
                : ''}
            </div>
            {r.error?.message && <div class="error small">{r.error.message}</div>}
          </li>
        )
      })}
    </ol>
  )
}
