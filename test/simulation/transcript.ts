/**
 * Readable transcripts of a simulation (golden files): faults, rollout starts, batches, every
 * attempt's state change and the fleet's summary whenever it changes, e.g.
 * `t=61s fleet 10: 8 on 1.0.0, 2 on 1.1.0 (0,5 initializing)`.
 */
import { verdict } from '../../src/core/health/verdict.js'
import { compareVersions } from '../../src/core/image/version.js'
import { progressOf, rollbackInfoOf } from '../../src/core/rollout/progress.js'
import type { Rollout } from '../../src/core/rollout/types.js'
import { formatDurationMs } from '../../src/core/duration.js'
import type { InstanceView } from '../../src/fabrics/types/fabric.js'
import type { Fault, Scenario } from './scenario.js'

export class Transcript {
  readonly lines: string[] = []
  private lastFleet = ''
  private readonly seen = new Map<string, Rollout>()
  private readonly epochMs: number
  /** With maintenance windows: wall-clock times in the windows' time zone. */
  private readonly wall: Intl.DateTimeFormat | null

  constructor(s: Scenario) {
    this.epochMs = s.epochMs ?? 0
    this.wall = s.windows
      ? new Intl.DateTimeFormat('en-GB', {
          timeZone: s.windows.timeZone,
          weekday: 'short',
          hour: '2-digit',
          minute: '2-digit',
          second: '2-digit',
          timeZoneName: 'short',
        })
      : null
    const p = s.spec.rolling
    this.lines.push(
      `scenario ${s.name} (seed ${s.seed}): ${s.spec.capacity} instances` +
        (s.spec.zones.length ? ` in zones ${s.spec.zones.join(',')}` : '') +
        (s.spec.serviceFabric ? ', Service Fabric' : '') +
        `, health ${s.spec.healthSource}, image ${s.initial.version} (${s.initial.uri})`,
    )
    if (s.spec.rollingPolicySet) {
      this.lines.push(
        `policy: batch ${p.batchPercentMax}%, unhealthy ${p.unhealthyPercentMax}%, upgraded-unhealthy ${p.unhealthyUpgradedPercentMax}%` +
          `, pause ${p.pauseBetweenBatchesMs / 1000}s` +
          flags({
            crossZone: p.crossZone,
            prioritizeUnhealthy: p.prioritizeUnhealthy,
            rollbackOnBreach: p.rollbackFailedOnPolicyBreach,
            maxSurge: p.maxSurge,
          }),
      )
    }
    if (s.gates) {
      const g = s.gates
      const kinds = [g.instance ? 'instance' : '', g.cohort ? 'cohort' : ''].filter(Boolean)
      const outcomes = Object.entries(g.outcomes).map(([v, o]) => `${v} ${o}`)
      this.lines.push(
        `health gates: ${kinds.join(' and ')}, interval ${g.intervalMs / 1000}s, timeout ${g.timeoutMs / 1000}s` +
          (outcomes.length ? `; ${outcomes.join(', ')}` : ''),
      )
    }
    if (s.windows) {
      const ws = s.windows.windows.map((w) =>
        'cron' in w
          ? `cron '${w.cron}' for ${formatDurationMs(w.durationMs)}`
          : `weekly ${w.weekly.start}-${w.weekly.end}`,
      )
      this.lines.push(
        `maintenance windows (${s.windows.timeZone}): ${ws.join('; ')}; t=0s is ${new Date(this.epochMs).toISOString()}`,
      )
    }
  }

  fault(nowMs: number, f: Fault): void {
    const { kind, ...rest } = f
    const detail = Object.entries(rest)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
      .join(' ')
    this.push(nowMs, `! ${kind}${detail ? ' ' + detail : ''}`)
  }

  note(nowMs: number, text: string): void {
    this.push(nowMs, `~ ${text}`)
  }

  step(nowMs: number, fleet: readonly InstanceView[], rollouts: readonly Rollout[]): void {
    for (const r of [...rollouts].reverse()) {
      this.diff(nowMs, this.seen.get(r.id), r)
      this.seen.set(r.id, r)
    }
    const summary = summarize(fleet)
    if (summary !== this.lastFleet) this.push(nowMs, summary)
    this.lastFleet = summary
  }

  private diff(nowMs: number, prev: Rollout | undefined, r: Rollout): void {
    if (!prev) {
      const target =
        r.kind === 'OSImage'
          ? `image ${r.target.imageVersion}`
          : `model generation ${r.target.modelGeneration}`
      this.push(
        nowMs,
        `rollout ${r.id} started: ${r.kind} → ${target} by ${r.startedBy}, ${r.pace}, rollback ${r.rollback ? 'on' : 'off'}` +
          (r.rollForwardFrom ? `, rolling forward from ${r.rollForwardFrom.join(',')}` : '') +
          (r.adaptiveRamp === true ? ', adaptive ramp' : '') +
          (r.hooks ? `, hooks ${Object.keys(r.hooks).join(',')}` : ''),
      )
    }
    if (r.supersededBy != null && prev?.supersededBy == null)
      this.push(nowMs, `rollout ${r.id} superseded by ${r.supersededBy} (roll forward)`)
    if ((prev?.pausedAtMs ?? null) !== (r.pausedAtMs ?? null) && r.status === 'RollingForward')
      this.push(
        nowMs,
        `rollout ${r.id} ${r.pausedAtMs != null ? 'paused: no new batch' : 'resumed'}`,
      )
    this.windowWait(nowMs, prev, r)
    const before = new Map((prev?.attempts ?? []).map((a) => [a.instanceId, a.state]))
    const changes = new Map<string, string[]>()
    for (const a of r.attempts) {
      if (
        before.get(a.instanceId) === a.state ||
        (!before.has(a.instanceId) &&
          a.batch === r.batchCount &&
          r.batchCount > (prev?.batchCount ?? 0) &&
          isInitial(a.state))
      )
        continue
      const label =
        a.state +
        (a.failure && a.state !== 'Succeeded' ? ` (${a.failure.reason})` : '') +
        (a.rollbackError ? ` [${a.rollbackError}]` : '')
      changes.set(label, [...(changes.get(label) ?? []), a.instanceId])
    }
    for (const [label, ids] of changes) this.push(nowMs, `  ${ids.join(',')} → ${label}`)
    this.deferrals(nowMs, prev, r)
    this.soak(nowMs, prev, r)
    if (r.batchCount > (prev?.batchCount ?? 0)) {
      const ids = r.attempts.filter((a) => a.batch === r.batchCount).map((a) => a.instanceId)
      const ramp = r.rampSize !== undefined ? `, ramp ${r.rampSize}` : ''
      this.push(
        nowMs,
        `batch ${r.batchCount}: ${ids.join(',')} (pending ${r.pendingIds.length}${ramp})`,
      )
    }
    if (r.status !== 'RollingForward' && prev?.status !== r.status) {
      const p = progressOf(r)
      const rb = rollbackInfoOf(r)
      this.push(
        nowMs,
        `rollout ${r.id} ${r.status}` +
          (r.lastAction === 'Cancel' ? ' (cancelled by user)' : '') +
          `: ok ${p.successfulInstanceCount}, failed ${p.failedInstanceCount}, in progress ${p.inProgressInstanceCount}, pending ${p.pendingInstanceCount}` +
          `; rolled back ${rb.successfullyRolledbackInstanceCount}, rollback failed ${rb.failedRolledbackInstanceCount}`,
      )
      if (r.error) this.push(nowMs, `  ${r.error.code}: ${r.error.message}`)
    }
  }

  /** Lifecycle hooks (docs/rollouts.md § Lifecycle hooks): each deferral and until when. */
  private deferrals(nowMs: number, prev: Rollout | undefined, r: Rollout): void {
    const was = new Map((prev?.attempts ?? []).map((a) => [a.instanceId, a.hook?.deferrals ?? 0]))
    for (const a of r.attempts) {
      const n = a.hook?.deferrals ?? 0
      if (n > (was.get(a.instanceId) ?? 0) && a.hook?.notBeforeMs != null)
        this.push(
          nowMs,
          `  ${a.instanceId} deferred by the pre-reimage hook (${n}) until t=${formatSeconds(a.hook.notBeforeMs)}`,
        )
    }
  }

  /** Maintenance windows (docs/rollouts.md § Maintenance windows): the wait and its end. */
  private windowWait(nowMs: number, prev: Rollout | undefined, r: Rollout): void {
    const was = prev?.windowWait ?? null
    const now = r.windowWait ?? null
    if (now && (!was || was.untilMs !== now.untilMs))
      this.push(
        nowMs,
        `rollout ${r.id} waiting for maintenance window until ` +
          (now.untilMs === null ? 'none opens' : this.stamp(now.untilMs)),
      )
    else if (was && !now && r.status === 'RollingForward')
      this.push(nowMs, `rollout ${r.id} maintenance window open: resumes`)
  }

  /** An instant as the transcript's time, with the wall clock when there are windows. */
  private stamp(ms: number): string {
    const t = `t=${formatSeconds(ms - this.epochMs)}`
    return this.wall ? `${t} (${this.wall.format(ms)})` : t
  }

  /** batchSoak (docs/rollouts.md § Per-set timing): its start, restarts and pass. */
  private soak(nowMs: number, prev: Rollout | undefined, r: Rollout): void {
    const was = prev?.soak ?? null
    const now = r.soak ?? null
    if (now && (!was || was.batch !== now.batch)) {
      const min = (r.batchSoak?.minMs ?? 0) / 1000
      const max = (r.batchSoak?.maxMs ?? 0) / 1000
      this.push(
        nowMs,
        `rollout ${r.id} soaking after batch ${now.batch} (${min}s stable, at most ${max}s)`,
      )
    } else if (now && was && now.stableSinceMs !== was.stableSinceMs && now.lastChange) {
      const c = now.lastChange
      this.push(nowMs, `  soak restarted: ${c.instanceId} ${c.from} → ${c.to}`)
    } else if (was && !now) this.push(nowMs, `rollout ${r.id} soak passed`)
  }

  private push(nowMs: number, text: string): void {
    this.lines.push(`${this.stamp(nowMs)} ${text}`)
  }
}

function isInitial(state: string): boolean {
  return (
    state === 'Reimaging' || state === 'Updating' || state === 'Surging' || state === 'PreReimage'
  )
}

function summarize(fleet: readonly InstanceView[]): string {
  const byVersion = new Map<string, number>()
  for (const v of fleet) byVersion.set(v.osImageVersion, (byVersion.get(v.osImageVersion) ?? 0) + 1)
  const versions = [...byVersion.entries()].sort((a, b) => compareVersions(a[0], b[0]))
  const states = new Map<string, string[]>()
  for (const v of fleet) {
    const state =
      v.power === 'stopped' ? 'stopped' : v.provisioning === 'failed' ? 'failed' : verdict(v)
    if (state !== 'healthy') states.set(state, [...(states.get(state) ?? []), v.instanceId])
  }
  const notes = [...states.entries()].map(([state, ids]) => `${ids.join(',')} ${state}`)
  return (
    `fleet ${fleet.length}: ${versions.map(([v, n]) => `${n} on ${v}`).join(', ') || 'empty'}` +
    (notes.length ? ` (${notes.join('; ')})` : '')
  )
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(3)}s`
}

function flags(f: Record<string, boolean>): string {
  const on = Object.entries(f)
    .filter(([, v]) => v)
    .map(([k]) => k)
  return on.length ? `, ${on.join(', ')}` : ''
}
