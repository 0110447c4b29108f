/**
 * The rollout timeline (issue 22 §1): one rollout as a Gantt chart, drawn as plain SVG from
 * timeline-model.ts — rows, bands and segments are rectangles on a time axis, which needs no
 * chart library (uPlot draws series, not bars between instants). Each row is focusable; its
 * steps, durations and typed reasons are its title (hover) and are shown below the chart for the
 * focused or hovered row (keyboard). A running rollout re-reads its timeline on every event
 * (`refresh`); a history entry replays: a slider sets the instant drawn.
 */
import { useEffect, useLayoutEffect, useMemo, useState } from 'preact/hooks'
import type { Api } from './api.js'
import type { Gantt, GanttRow, SegmentKind, TimelineProps } from './timeline-model.js'
import { PROBLEM, SEGMENT_LABEL, buildGantt, formatMs } from './timeline-model.js'

/** Colours with AA contrast against white text where text sits on them; problems also hatched. */
const FILL: Record<SegmentKind, string> = {
  scheduled: '#94a3b8',
  approved: '#64748b',
  applying: '#b45309',
  booting: '#7c3aed',
  initializing: '#2563eb',
  soak: '#0e7490',
  healthy: '#047857',
  failed: '#b91c1c',
  rollingBack: '#9f1239',
  rolledBack: '#7f1d1d',
}

type RolloutItem = {
  name: string
  properties: { runningStatus: { code: string; startTime: string }; targetImageVersion?: string }
}

/** Rows per instance up to 60 instances (auto), then one per batch; or as the operator asks. */
const MAX_ROWS = { auto: 60, instance: Infinity, batch: 0 } as const
let charts = 0
const ROW_H = 20
const LABEL_W = 150
const WIDTH = 1000

export type TimelineData = {
  list: RolloutItem[] | null
  chosen: string
  setChosen: (id: string) => void
  t: TimelineProps | null
  error: string | null
}

/**
 * The set's rollouts and the chosen one's timeline, re-read on every `refresh`. A hook of the
 * set view, so that the reads start with the page, beside the set's own.
 */
export function useRolloutTimeline(api: Api, setId: string, refresh: number): TimelineData {
  const [list, setList] = useState<RolloutItem[] | null>(null)
  const [chosen, setChosen] = useState<string>('current')
  const [t, setT] = useState<TimelineProps | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    const base = `${setId}/providers/Osroll.Upgrades/rollouts`
    api
      .get<{ value: RolloutItem[] }>(base)
      .then(async (r) => {
        setList(r.value)
        if (r.value.length === 0) return
        const got = await api.get<{ properties: TimelineProps }>(`${base}/${chosen}/timeline`)
        setT(got.properties)
        setError(null)
      })
      .catch((err: unknown) => setError((err as Error).message))
  }, [setId, chosen, refresh])
  return { list, chosen, setChosen, t, error }
}

export function RolloutTimeline(p: { data: TimelineData }) {
  const { list, chosen, setChosen, t, error } = p.data
  const [replayAt, setReplayAt] = useState<number | null>(null)
  const [rows, setRows] = useState<'auto' | 'instance' | 'batch'>('auto')

  const running = t !== null && !t.runningStatus.endTime
  const now = Date.now()
  const drawFrom = performance.now()
  const gantt = useMemo(
    () => (t ? buildGantt(t, running ? now : (replayAt ?? Infinity), MAX_ROWS[rows]) : null),
    [t, replayAt, rows, running ? Math.floor(now / 1000) : 0],
  )
  if (list === null) return <p class="muted">Loading…</p>
  if (list.length === 0) return <p class="muted">No rollout has run yet: no timeline.</p>
  return (
    <div class="gantt-wrap" data-testid="timeline">
      <div class="gantt-controls">
        <label>
          Rollout{' '}
          <select
            value={chosen}
            onChange={(e) => {
              setChosen((e.target as HTMLSelectElement).value)
              setReplayAt(null)
            }}
            data-testid="timeline-rollout"
          >
            <option value="current">current (running, else latest)</option>
            {list.map((r) => (
              <option key={r.name} value={r.name}>
                {new Date(r.properties.runningStatus.startTime).toLocaleString()} ·{' '}
                {r.properties.runningStatus.code} → {r.properties.targetImageVersion ?? '?'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Rows{' '}
          <select
            value={rows}
            data-testid="timeline-rows"
            onChange={(e) => setRows((e.target as HTMLSelectElement).value as typeof rows)}
          >
            <option value="auto">auto (per batch above 60 instances)</option>
            <option value="instance">one per instance</option>
            <option value="batch">one per batch</option>
          </select>
        </label>
        {t && !running && gantt && (
          <Replay
            startMs={gantt.startMs}
            endMs={Date.parse(t.runningStatus.endTime ?? '') || gantt.endMs}
            atMs={replayAt}
            onAt={setReplayAt}
          />
        )}
      </div>
      {error && <p class="error">{error}</p>}
      {gantt && (
        <GanttChart
          gantt={gantt}
          live={running}
          measureFrom={drawFrom}
          axisEndMs={running ? null : Date.parse(t?.runningStatus.endTime ?? '') || null}
        />
      )}
    </div>
  )
}

/**
 * The replay of an ended rollout: a slider (arrows, Home, End) for the instant drawn, and Play,
 * which moves it from the start (or where it is) to the end in about five seconds.
 */
function Replay(p: {
  startMs: number
  endMs: number
  atMs: number | null
  onAt: (ms: number | null) => void
}) {
  const [playing, setPlaying] = useState(false)
  const at = p.atMs ?? p.endMs
  useEffect(() => {
    if (!playing) return
    const stepMs = Math.max(100, (p.endMs - p.startMs) / 50)
    let pos = at >= p.endMs ? p.startMs : at
    p.onAt(pos)
    const timer = setInterval(() => {
      pos = Math.min(p.endMs, pos + stepMs)
      p.onAt(pos)
      if (pos >= p.endMs) setPlaying(false)
    }, 100)
    return () => clearInterval(timer)
  }, [playing])
  return (
    <span class="replay">
      <label>
        Replay{' '}
        <input
          type="range"
          min={p.startMs}
          max={p.endMs}
          step={250}
          value={at}
          aria-valuetext={`${formatMs(at - p.startMs)} after start`}
          onInput={(e) => {
            setPlaying(false)
            p.onAt(Number((e.target as HTMLInputElement).value))
          }}
          data-testid="replay"
        />
      </label>{' '}
      <span class="mono">+{formatMs(at - p.startMs)}</span>{' '}
      <button type="button" class="small-button" onClick={() => setPlaying(!playing)}>
        {playing ? '⏸ Stop' : '▶ Play'}
      </button>
    </span>
  )
}

export function GanttChart(p: {
  gantt: Gantt
  live: boolean
  axisEndMs?: number | null
  /** One instance's row in its drawer: no caption, focus line or legend. */
  compact?: boolean
  /** When this draw started (its model's build), for the measure of each draw. */
  measureFrom?: number
}) {
  const g = p.gantt
  const [focus, setFocus] = useState<GanttRow | null>(null)
  // Each draw, from the model's build to the DOM, as a User Timing measure (bench:dashboard).
  useLayoutEffect(() => {
    if (p.measureFrom !== undefined) performance.measure('osroll:gantt', { start: p.measureFrom })
  })
  const [hatch] = useState(() => `hatch-${++charts}`)
  // A replay keeps the whole rollout's axis: the chart fills in, it does not zoom.
  const span = Math.max(1000, Math.max(p.axisEndMs ?? 0, g.endMs) - g.startMs)
  const x = (ms: number) => LABEL_W + ((ms - g.startMs) / span) * (WIDTH - LABEL_W - 10)
  const top = 22
  const height = top + g.rows.length * ROW_H + 6
  const ticks = axisTicks(span)
  const counts = Object.entries(g.counts)
    .map(([k, n]) => `${n} ${k}`)
    .join(' · ')
  return (
    <figure class="gantt">
      {!p.compact && (
        <figcaption>
          <strong data-testid="timeline-status">{g.status}</strong> · {counts || 'no instance yet'}
          {g.aggregated && (
            <span data-testid="timeline-aggregated">
              {' '}
              · {g.rows.reduce((n, r) => n + r.instanceIds.length, 0)} instances shown as one row
              per batch (its slowest instance)
            </span>
          )}
          {p.live && <span class="muted"> · live</span>}
        </figcaption>
      )}
      <svg
        viewBox={`0 0 ${WIDTH} ${height}`}
        width="100%"
        role="group"
        aria-label={`Timeline of rollout ${g.rolloutId}: ${g.rows.length} rows`}
        data-testid="gantt"
      >
        <defs>
          <pattern
            id={hatch}
            width="6"
            height="6"
            patternUnits="userSpaceOnUse"
            patternTransform="rotate(45)"
          >
            <rect width="6" height="6" fill="transparent" />
            <line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2" />
          </pattern>
        </defs>
        {ticks.map((ms) => (
          <g key={ms} aria-hidden="true">
            <line x1={x(g.startMs + ms)} x2={x(g.startMs + ms)} y1={14} y2={height} class="tick" />
            {x(g.startMs + ms) < WIDTH - 40 && (
              <text x={x(g.startMs + ms) + 2} y={11} class="axis">
                +{formatMs(ms)}
              </text>
            )}
          </g>
        ))}
        {g.bands.map((b) => (
          <g key={b.batch} aria-hidden="true">
            <rect
              x={x(b.startMs)}
              width={Math.max(1, x(b.endMs) - x(b.startMs))}
              y={top + b.rows[0] * ROW_H - 1}
              height={(b.rows[1] - b.rows[0] + 1) * ROW_H}
              class={b.batch % 2 ? 'band odd' : 'band'}
            />
          </g>
        ))}
        {g.waits.map((w, i) => (
          <rect
            key={i}
            x={x(w.startMs)}
            width={Math.max(2, x(w.endMs) - x(w.startMs))}
            y={top - 4}
            height={height - top}
            class="wait"
            data-testid="timeline-wait"
          >
            <title>{`${w.state} (${w.reason}), ${formatMs(w.endMs - w.startMs)}`}</title>
          </rect>
        ))}
        {g.rows.map((r, i) => (
          <Row key={r.key} row={r} y={top + i * ROW_H} x={x} hatch={hatch} onFocus={setFocus} />
        ))}
        {(p.live || g.atMs < (p.axisEndMs ?? 0)) && (
          <line x1={x(g.atMs)} x2={x(g.atMs)} y1={14} y2={height} class="now" />
        )}
      </svg>
      {!p.compact && (
        <>
          <p class="gantt-focus" aria-live="polite" data-testid="timeline-focus">
            {focus ? describe(focus) : 'Hover or focus (Tab) a row for its steps and reasons.'}
          </p>
          <Legend />
        </>
      )}
    </figure>
  )
}

function Row(p: {
  row: GanttRow
  y: number
  x: (ms: number) => number
  hatch: string
  onFocus: (r: GanttRow | null) => void
}) {
  const r = p.row
  const problem = r.segments.some((s) => PROBLEM.has(s.kind))
  const text = describe(r)
  return (
    <g
      tabIndex={0}
      role="img"
      aria-label={text}
      class={`row${r.critical ? ' critical' : ''}${problem ? ' problem' : ''}`}
      data-testid="timeline-row"
      data-instance={r.instanceIds.length === 1 ? r.instanceIds[0] : undefined}
      data-critical={r.critical ? 'true' : undefined}
      data-outcome={r.outcome ?? undefined}
      onFocus={() => p.onFocus(r)}
      onMouseEnter={() => p.onFocus(r)}
    >
      <title>{text}</title>
      <text x={4} y={p.y + 14} class="label">
        {r.critical ? '★ ' : ''}
        {r.label}
        {problem ? ' ✕' : ''}
      </text>
      {r.segments.map((s, i) => {
        const w = Math.max(1.5, p.x(s.endMs) - p.x(s.startMs))
        return (
          <g key={i}>
            <rect
              x={p.x(s.startMs)}
              y={p.y + 3}
              width={w}
              height={ROW_H - 6}
              fill={FILL[s.kind]}
              data-kind={s.kind}
            />
            {PROBLEM.has(s.kind) && (
              <rect
                x={p.x(s.startMs)}
                y={p.y + 3}
                width={w}
                height={ROW_H - 6}
                fill={`url(#${p.hatch})`}
              />
            )}
          </g>
        )
      })}
      {r.marks
        .filter((m) => m.step === 'failed' || m.step === 'rollbackFailed')
        .map((m, i) => (
          <text key={i} x={p.x(m.atMs) - 4} y={p.y + 14} class="mark" data-testid="timeline-mark">
            ✕
          </text>
        ))}
      {r.critical && (
        <rect
          x={p.x(r.segments[0]?.startMs ?? 0) - 1}
          y={p.y + 2}
          width={Math.max(
            2,
            p.x(r.segments.at(-1)?.endMs ?? 0) - p.x(r.segments[0]?.startMs ?? 0) + 2,
          )}
          height={ROW_H - 4}
          class="critical-outline"
        />
      )}
    </g>
  )
}

/** A row in words: what the title, the aria-label and the focus line say. */
export function describe(r: GanttRow): string {
  const steps = r.segments
    .map((s) => `${SEGMENT_LABEL[s.kind]} ${formatMs(s.endMs - s.startMs)}`)
    .join(', ')
  const marks = r.marks.length ? ` — ${r.marks.map((m) => m.label).join('; ')}` : ''
  return `${r.label}${r.critical ? ' (critical path: slowest of its batch)' : ''}: ${r.summary}, ${formatMs(r.durationMs)} in all. ${steps}${marks}`
}

function Legend() {
  return (
    <div class="legend" aria-label="Timeline legend">
      {(Object.keys(SEGMENT_LABEL) as SegmentKind[]).map((k) => (
        <span key={k}>
          <i class={`swatch${PROBLEM.has(k) ? ' hatched' : ''}`} style={{ background: FILL[k] }} />{' '}
          {SEGMENT_LABEL[k]}
          {PROBLEM.has(k) ? ' (hatched)' : ''}
        </span>
      ))}
      <span>★ critical path (slowest of its batch)</span>
      <span>✕ failure</span>
      <span>
        <i class="swatch waiting" /> rollout waiting (paused)
      </span>
    </div>
  )
}

function axisTicks(span: number): number[] {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400].map(
    (s) => s * 1000,
  )
  const step = steps.find((s) => span / s <= 8) ?? 28_800_000
  const out: number[] = []
  for (let t = 0; t <= span; t += step) out.push(t)
  return out
}
