/**
 * The rollout timeline as a Gantt chart, without a browser: the per-instance timeline of
 * `…/rollouts/{id}/timeline` (docs/rollouts.md § Per-instance timeline) turned into rows of
 * segments (one per step an instance went through), batches as bands, the critical path (the
 * slowest instance of each batch), failures and rollbacks as marked spans with their reasons, and
 * the rollout's waits (a pause; later windows, gates, hooks: any rollout state between
 * RollingForward and its end). Past `maxRows` instances the rows are one per batch.
 */

export type TimelineStep = {
  step: string
  time: string
  reason: string
  /** A lifecycle hook's answer behind the step: which hook, what it said and its quote. */
  hook?: { hook: string; answer: string; source?: string; reason?: string }
}
export type TimelineInstance = {
  instanceId: string
  batch: number
  zone: string | null
  updateDomain: number | null
  method?: string
  state: string
  outcome: string | null
  steps: TimelineStep[]
}
export type TimelineBatch = {
  batch: number
  instanceIds: string[]
  startTime: string
  endTime: string | null
}
export type TimelineProps = {
  rolloutId: string
  kind?: string
  startedBy?: string
  targetImageVersion?: string | null
  runningStatus: { code: string; startTime: string; endTime?: string | null }
  batches: TimelineBatch[]
  instances: TimelineInstance[]
  rolloutSteps: { time: string; from: string; to: string; reason: string }[]
  error?: { code?: string; message?: string }
}

/** What a segment of an instance's row shows: the step it started with, until the next one. */
export type SegmentKind =
  | 'scheduled' // upgradePending: tagged, waiting for approval (deferral)
  | 'approved' // approved, waiting for its batch to ask
  | 'applying' // requested: stopping, swapping the OS disk (or applying the model)
  | 'booting' // disk swapped, starting on it
  | 'initializing' // booted, waiting for the first healthy answer
  | 'soak' // healthy, waiting out minHealthyTime
  | 'healthy' // counted upgraded, waiting for the rest of its batch
  | 'failed' // failed (typed reason), nothing restored (yet)
  | 'rollingBack' // restoring the previous OS disk
  | 'rolledBack' // back on the previous OS disk

export const SEGMENT_LABEL: Record<SegmentKind, string> = {
  scheduled: 'scheduled (awaiting approval)',
  approved: 'approved',
  applying: 'stopped, disk swapping',
  booting: 'booting',
  initializing: 'initializing',
  soak: 'soak (min healthy time)',
  healthy: 'healthy',
  failed: 'failed',
  rollingBack: 'rolling back',
  rolledBack: 'rolled back',
}

/** Which segment a step starts; absent: the step does not change what the row shows. */
const STEP_STARTS: Record<string, SegmentKind | 'end'> = {
  upgradePending: 'scheduled',
  approved: 'approved',
  requested: 'applying',
  diskSwapped: 'booting',
  modelApplied: 'booting',
  booted: 'initializing',
  firstHealthy: 'soak',
  succeeded: 'healthy',
  failed: 'failed',
  rollbackRequested: 'rollingBack',
  rolledBack: 'rolledBack',
  rollbackFailed: 'failed',
  removed: 'end',
}

/** Segments whose row is marked as a problem (a pattern and a glyph beside the colour). */
export const PROBLEM: ReadonlySet<SegmentKind> = new Set(['failed', 'rollingBack', 'rolledBack'])

export type Segment = { kind: SegmentKind; startMs: number; endMs: number; reason: string }
export type Mark = { atMs: number; step: string; reason: string; label: string }
export type Wait = { startMs: number; endMs: number; state: string; reason: string }

export type GanttRow = {
  key: string
  label: string
  batch: number
  instanceIds: string[]
  segments: Segment[]
  marks: Mark[]
  /** The slowest instance of its batch (an aggregated row: of its batch, always). */
  critical: boolean
  /** From its first step to its outcome (or now), ms. */
  durationMs: number
  /** Outcome (or state) words, e.g. `Succeeded`, `RolledBack (HealthDeadlineExceeded)`. */
  summary: string
  outcome: string | null
  zone: string | null
  updateDomain: number | null
}

export type GanttBand = { batch: number; startMs: number; endMs: number; rows: [number, number] }

export type Gantt = {
  rolloutId: string
  status: string
  startMs: number
  endMs: number
  /** The instant shown (now, or the replay position). */
  atMs: number
  aggregated: boolean
  rows: GanttRow[]
  bands: GanttBand[]
  waits: Wait[]
  /** Instances by outcome so far, e.g. { Succeeded: 8, RolledBack: 1, running: 1 }. */
  counts: Record<string, number>
}

const TERMINAL = new Set(['Succeeded', 'Failed', 'RolledBack', 'RollbackFailed', 'Removed'])
const ROLLOUT_TERMINAL = new Set(['Completed', 'Faulted', 'Cancelled'])
const PROBLEM_STEPS = new Set(['failed', 'rollbackRequested', 'rolledBack', 'rollbackFailed'])

/**
 * The Gantt of a timeline at `atMs` (now for a running rollout; a replay position for a history
 * entry: only what happened by then is drawn).
 * @example 3 instances in 2 batches, instance 2 rolled back → 3 rows, 2 bands, instance 2's row
 *   ends with segments failed → rollingBack → rolledBack and a mark `failed: HealthDeadlineExceeded`
 */
export function buildGantt(t: TimelineProps, atMs: number, maxRows = 60): Gantt {
  const startMs = Date.parse(t.runningStatus.startTime)
  const ended = t.runningStatus.endTime ? Date.parse(t.runningStatus.endTime) : null
  const at = ended === null ? atMs : Math.min(atMs, ended)
  const batchEnd = new Map<number, number>()
  for (const b of t.batches) {
    const e = b.endTime ? Date.parse(b.endTime) : null
    batchEnd.set(b.batch, e === null || e > at ? at : e)
  }
  const perInstance = t.instances
    .map((i) => instanceRow(i, batchEnd.get(i.batch) ?? at, at))
    .filter((r): r is GanttRow => r !== null)
  const byBatch = new Map<number, GanttRow[]>()
  for (const r of perInstance) {
    const list = byBatch.get(r.batch) ?? []
    list.push(r)
    byBatch.set(r.batch, list)
  }
  const batchNos = [...byBatch.keys()].sort((a, b) => a - b)
  for (const n of batchNos) {
    const list = byBatch.get(n) as GanttRow[]
    let slow = list[0] as GanttRow
    for (const r of list) if (r.durationMs > slow.durationMs) slow = r
    slow.critical = true
  }
  const aggregated = perInstance.length > maxRows
  const rows: GanttRow[] = []
  const bands: GanttBand[] = []
  for (const n of batchNos) {
    const list = byBatch.get(n) as GanttRow[]
    const first = rows.length
    if (aggregated) rows.push(batchRow(n, list))
    else
      rows.push(
        ...[...list].sort((a, b) => (a.segments[0]?.startMs ?? 0) - (b.segments[0]?.startMs ?? 0)),
      )
    const s = Math.min(...list.map((r) => r.segments[0]?.startMs ?? at))
    const e = Math.max(...list.map((r) => r.segments.at(-1)?.endMs ?? s))
    bands.push({ batch: n, startMs: s, endMs: e, rows: [first, rows.length - 1] })
  }
  const counts: Record<string, number> = {}
  for (const r of perInstance) {
    const k = r.outcome ?? 'running'
    counts[k] = (counts[k] ?? 0) + 1
  }
  return {
    rolloutId: t.rolloutId,
    status: at < (ended ?? Infinity) && ended !== null ? 'RollingForward' : t.runningStatus.code,
    startMs,
    endMs: Math.max(at, startMs + 1000),
    atMs: at,
    aggregated,
    rows,
    bands,
    waits: waitsOf(t, at),
    counts,
  }
}

function instanceRow(i: TimelineInstance, batchEndMs: number, atMs: number): GanttRow | null {
  const steps = i.steps
    .map((s) => ({ ...s, atMs: Date.parse(s.time) }))
    .filter((s) => s.atMs <= atMs)
  if (steps.length === 0) return null
  const segments: Segment[] = []
  const marks: Mark[] = []
  let open: { kind: SegmentKind; startMs: number; reason: string } | null = null
  let ended = false
  let outcome: string | null = null
  let problem = ''
  const close = (endMs: number) => {
    if (open && endMs > open.startMs) segments.push({ ...open, endMs })
    open = null
  }
  for (const s of steps) {
    if (PROBLEM_STEPS.has(s.step)) {
      marks.push({
        atMs: s.atMs,
        step: s.step,
        reason: s.reason,
        label: markLabel(s.step, s.reason),
      })
      if (s.step === 'failed') problem = s.reason
    }
    const starts = STEP_STARTS[s.step]
    if (starts === undefined) continue
    close(s.atMs)
    if (starts === 'end') {
      ended = true
      outcome = 'Removed'
      continue
    }
    open = { kind: starts, startMs: s.atMs, reason: s.reason }
  }
  const last = steps[steps.length - 1] as { atMs: number }
  // Outcomes last until the batch ends (the time the batch waited); running ones until now.
  if (!ended && open) {
    const o = open as { kind: SegmentKind; startMs: number }
    const terminal = o.kind === 'healthy' || o.kind === 'rolledBack' || isTerminal(i, steps)
    const endMs = terminal ? Math.max(batchEndMs, o.startMs) : atMs
    if (endMs > o.startMs) close(endMs)
    else {
      // An outcome at the batch's very end still shows: a sliver, not nothing.
      segments.push({ ...o, reason: (open as Segment).reason, endMs: o.startMs + 1 })
      open = null
    }
  }
  if (isTerminal(i, steps)) outcome = i.state
  const firstMs = steps[0]?.atMs ?? 0
  const outcomeMs = outcome ? last.atMs : atMs
  const where = [
    i.zone ? `zone ${i.zone}` : null,
    i.updateDomain !== null ? `UD ${i.updateDomain}` : null,
  ]
    .filter(Boolean)
    .join(' · ')
  return {
    key: i.instanceId,
    label: `#${i.instanceId}`,
    batch: i.batch,
    instanceIds: [i.instanceId],
    segments,
    marks,
    critical: false,
    durationMs: outcomeMs - firstMs,
    summary: `${outcome ?? 'in progress'}${problem ? ` (${problem})` : ''}${where ? ` · ${where}` : ''}`,
    outcome,
    zone: i.zone,
    updateDomain: i.updateDomain,
  }
}

/** Whether the instance had reached its outcome by `atMs` (a replay may stop before it). */
function isTerminal(i: TimelineInstance, seen: { step: string }[]): boolean {
  if (!TERMINAL.has(i.state)) return false
  const wanted: Record<string, string> = {
    Succeeded: 'succeeded',
    Failed: 'failed',
    RolledBack: 'rolledBack',
    RollbackFailed: 'rollbackFailed',
    Removed: 'removed',
  }
  return seen.some((s) => s.step === wanted[i.state])
}

/** One row for a whole batch: its slowest instance's segments, its problems counted. */
function batchRow(batch: number, list: GanttRow[]): GanttRow {
  const slow = list.find((r) => r.critical) ?? (list[0] as GanttRow)
  const outcomes = new Map<string, number>()
  const reasons = new Map<string, { n: number; mark: Mark }>()
  for (const r of list) {
    const k = r.outcome ?? 'in progress'
    outcomes.set(k, (outcomes.get(k) ?? 0) + 1)
    for (const m of r.marks) {
      const key = `${m.step}:${m.reason}`
      const had = reasons.get(key)
      if (had) had.n++
      else reasons.set(key, { n: 1, mark: m })
    }
  }
  const marks = [...reasons.values()].map(({ n, mark }) => ({
    ...mark,
    label: `${mark.label} × ${n}`,
  }))
  const words = [...outcomes.entries()].map(([k, n]) => `${n} ${k}`).join(', ')
  return {
    key: `batch-${batch}`,
    label: `Batch ${batch} (${list.length})`,
    batch,
    instanceIds: list.map((r) => r.key),
    segments: slow.segments,
    marks,
    critical: true,
    durationMs: slow.durationMs,
    summary: `${list.length} instances: ${words}; slowest ${slow.label} ${formatMs(slow.durationMs)}`,
    outcome: null,
    zone: null,
    updateDomain: null,
  }
}

/** The rollout's waits: each state it was in other than RollingForward before it ended. */
function waitsOf(t: TimelineProps, atMs: number): Wait[] {
  const out: Wait[] = []
  let open: { startMs: number; state: string; reason: string } | null = null
  for (const s of t.rolloutSteps) {
    const ms = Date.parse(s.time)
    if (ms > atMs) break
    if (open) out.push({ ...open, endMs: ms })
    open =
      s.to !== 'RollingForward' && !ROLLOUT_TERMINAL.has(s.to)
        ? { startMs: ms, state: s.to, reason: s.reason }
        : null
  }
  if (open) out.push({ ...open, endMs: atMs })
  return out
}

function markLabel(step: string, reason: string): string {
  const what: Record<string, string> = {
    failed: 'failed',
    rollbackRequested: 'rollback requested',
    rolledBack: 'rolled back',
    rollbackFailed: 'rollback failed',
  }
  return `${what[step] ?? step}: ${reason}`
}

/** 65 000 → `1m 5s`; 800 → `0.8s`. */
export function formatMs(ms: number): string {
  if (ms < 10_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`
  const s = Math.round(ms / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const r = s % 60
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${r}s` : `${r}s`
}

/** ISO 8601 duration (`PT1H2M3.5S`) → ms; null when it is not one. */
export function parseIsoDuration(text: string | null | undefined): number | null {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(text ?? '')
  if (!m) return null
  const [, d, h, mi, s] = m
  return (
    ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(mi ?? 0)) * 60_000 + Number(s ?? 0) * 1000
  )
}

/** Reason codes of health gates' and hooks' answers: docs/rollouts.md § Reason catalogue. */
const ANSWER = /^(Gate|HealthyAndGatesPassed|PreReimage|PostHealthy)/

/**
 * The instance's steps in `t` (its latest rollout) that are a gate's or a hook's answer, in
 * order: what each gate and hook last said about it.
 * @example gateAndHookAnswers(t with a step { reason: 'PreReimageDefer: retry at …' }) → [that step]
 */
export function gateAndHookAnswers(t: TimelineProps): TimelineStep[] {
  return (t.instances[0]?.steps ?? []).filter((s) => ANSWER.test(s.reason))
}
