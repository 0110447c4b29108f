/**
 * The host's side of the guest agent (docs/qemu.md § The guest agent), as pure functions: the
 * goal state of one OS disk (its extensions in `provisionAfterExtensions` order), the next step
 * the agent is told to take, the agent's reports turned into the extension statuses and the
 * provisioning outcome the `local` fabric gives (docs/rollouts.md R8: same messages), and the
 * Application Health results it probes in the guest turned into a health state.
 */
import { recordProbe, type ProbeResult, type ProbeStreak } from '../../core/health/probe-streak.js'
import type { HealthState } from '../../core/health/verdict.js'
import type { ExtensionModel, ExtensionStatus, HealthCheck } from '../types/fabric.js'
import { scrubber } from '../host/fetch-files.js'

/** What the agent of one goal (an OS disk and model generation) has done: kept per VM. */
export type AgentProgress = Readonly<{
  goal: string
  /** When the agent last asked or reported; null before it did. */
  contactAtMs: number | null
  /** By index in the model's extensions: the finished ones. */
  statuses: Readonly<Record<string, ExtensionStatus>>
  /** Indexes failed only because one they depend upon failed (not the root cause). */
  dependents: readonly number[]
  /** The in-guest Application Health probe's streak, and when the agent last reported it. */
  health: (ProbeStreak & { reportedAtMs: number }) | null
  /** Indexes of the Custom Scripts whose `fileUris` osroll has fetched (absent: none yet). */
  fetched?: readonly number[]
}>

/** What the goal state is made of: the instance's record, as the fabric keeps it. */
export type AgentGoalInput = Readonly<{
  vmId: string
  diskN: number
  modelGeneration: number
  /** When the VM booted this disk (or took this model): the extensions' time budget starts. */
  sinceMs: number
  extensions: readonly ExtensionModel[]
  budgetMs: number
}>

/**
 * What the agent is told: run a command, wait while osroll fetches an extension's `fileUris`
 * on the host (`fetch`: the endpoint does it, the agent is told to wait), or done.
 */
export type AgentStep = Readonly<
  | { kind: 'run'; index: number; command: string; timeoutSeconds: number; files: boolean }
  | { kind: 'fetch'; index: number; uris: readonly string[]; timeoutMs: number }
  | { kind: 'done' }
>

const CUSTOM_SCRIPT = [
  'microsoft.azure.extensions.customscript',
  'microsoft.compute.customscriptextension',
]
export const OUTPUT_TAIL = 2_000
/** The agent's health results stand this long without a new report; then the host probes. */
export const AGENT_HEALTH_STALE_MS = 30_000

/**
 * The goal's id: a new OS disk or a new model generation is a new goal, run again from the start.
 * @example goalOf({ vmId: '5c08…', diskN: 2, modelGeneration: 1, … }) === '5c08…-os2-g1'
 */
export function goalOf(g: AgentGoalInput): string {
  return `${g.vmId}-os${g.diskN}-g${g.modelGeneration}`
}

export function freshProgress(g: AgentGoalInput): AgentProgress {
  return { goal: goalOf(g), contactAtMs: null, statuses: {}, dependents: [], health: null }
}

/**
 * The indexes of `extensions` in the order the agent runs them: each after the ones its
 * `provisionAfterExtensions` names, otherwise in the model's order. A, B(after C), C → A, C, B.
 */
export function runOrder(extensions: readonly ExtensionModel[]): number[] {
  const byName = new Map(extensions.map((e, i) => [e.name.toLowerCase(), i]))
  const out: number[] = []
  const seen = new Set<number>()
  const visit = (i: number, depth: number) => {
    if (seen.has(i) || depth > extensions.length) return // cycles were refused at validation
    seen.add(i)
    for (const d of extensions[i]?.provisionAfterExtensions ?? []) {
      const j = byName.get(d.toLowerCase())
      if (j !== undefined) visit(j, depth + 1)
    }
    out.push(i)
  }
  extensions.forEach((_, i) => visit(i, 0))
  return out
}

/**
 * Decides what needs no guest (an extension whose dependency failed, a missing command, a spent
 * budget, the handlers run by osroll itself) and returns the next step: fetch a Custom Script's
 * `fileUris` (on the host) before its command runs, run the command, or done.
 * @example nextStep(goal, fresh, now) → { step: { kind: 'run', index: 0, command: 'echo hi', timeoutSeconds: 5400 }, progress }
 */
export function nextStep(
  g: AgentGoalInput,
  p: AgentProgress,
  nowMs: number,
): { step: AgentStep; progress: AgentProgress } {
  let progress: AgentProgress = { ...p, contactAtMs: nowMs }
  const deadline = g.sinceMs + g.budgetMs
  for (const i of runOrder(g.extensions)) {
    const ext = g.extensions[i] as ExtensionModel
    if (progress.statuses[i] !== undefined) continue
    const decided = decideOnHost(g, progress, ext, nowMs >= deadline)
    if (decided) {
      progress = withStatus(progress, i, decided.status, decided.dependent)
      continue
    }
    const uris = fileUrisOf(ext)
    const files = uris.length > 0
    if (files && !(progress.fetched ?? []).includes(i))
      return { step: { kind: 'fetch', index: i, uris, timeoutMs: deadline - nowMs }, progress }
    const command = commandOf(ext) as string
    const timeoutSeconds = Math.max(1, Math.floor((deadline - nowMs) / 1000))
    return { step: { kind: 'run', index: i, command, timeoutSeconds, files }, progress }
  }
  return { step: { kind: 'done' }, progress }
}

/**
 * The outcome of fetching extension `index`'s `fileUris` on the host: fetched (the agent is told
 * to run it next), or failed with `failure` (local's message: `Failed to download file …`).
 * Null when the goal's progress has moved on (the extension already has a status).
 */
export function applyFetch(
  g: AgentGoalInput,
  p: AgentProgress,
  index: number,
  failure: string | null,
): AgentProgress | null {
  const ext = g.extensions[index]
  if (!ext || p.statuses[index] !== undefined) return null
  if (failure === null) return { ...p, fetched: [...(p.fetched ?? []), index] }
  const status: ExtensionStatus = {
    name: ext.name,
    type: typeOf(ext),
    state: 'failed',
    message: failure,
  }
  return withStatus(p, index, status, false)
}

/**
 * The agent's report of a command: its exit code (or `timeout`, or `files` when it could not copy
 * the fetched files into the guest) and its output's tail, as the local fabric words them. Null when the report is not for the extension the agent was told
 * to run (stale, or already reported).
 * @example applyReport(goal, p, 0, 3, 'no such file', now).statuses['0'].message
 *   === 'The command exited with code 3: no such file'
 */
export function applyReport(
  g: AgentGoalInput,
  p: AgentProgress,
  index: number,
  exit: number | 'timeout' | 'files',
  output: string,
  nowMs: number,
): AgentProgress | null {
  const ext = g.extensions[index]
  if (!ext || p.statuses[index] !== undefined || nowMs >= g.sinceMs + g.budgetMs + 60_000)
    return null
  const tail = output.slice(-OUTPUT_TAIL)
  // As on local: a fileUri's credentials the command printed never reach the instance view.
  const scrub = scrubber(fileUrisOf(ext))
  const status = (state: 'succeeded' | 'failed', message: string): ExtensionStatus => ({
    name: ext.name,
    type: typeOf(ext),
    state,
    message: scrub(message),
  })
  const s =
    exit === 'timeout'
      ? status('failed', `The command did not finish within ${Math.round(g.budgetMs / 1000)} s.`)
      : exit === 'files'
        ? status(
            'failed',
            `The guest agent could not copy the fetched fileUris into the guest: ${tail}`,
          )
        : exit === 0
          ? status('succeeded', `Enable succeeded: ${tail}`)
          : status('failed', `The command exited with code ${exit}: ${tail}`)
  return withStatus({ ...p, contactAtMs: nowMs }, index, s, false)
}

/**
 * The extensions' statuses in the model's order and the provisioning outcome: `updating` while
 * any is unfinished (those show `transitioning`), then `failed` naming the root cause as local
 * does, else `succeeded`. Past the budget, what the agent has not done has failed.
 */
export function provisioningOf(
  g: AgentGoalInput,
  p: AgentProgress,
  nowMs: number,
): {
  state: 'updating' | 'succeeded' | 'failed'
  error: string | null
  extensions: ExtensionStatus[]
} {
  const spent = nowMs >= g.sinceMs + g.budgetMs
  const statuses = g.extensions.map((ext, i): ExtensionStatus => {
    const s = p.statuses[i]
    if (s) return s
    if (!spent) return { name: ext.name, type: typeOf(ext), state: 'transitioning', message: '' }
    const seconds = Math.round(g.budgetMs / 1000)
    return {
      name: ext.name,
      type: typeOf(ext),
      state: 'failed',
      message:
        p.contactAtMs === null
          ? `The guest agent did not ask for its extensions within the extensions time budget of ${seconds} s: the image may carry no agent (docs/qemu.md).`
          : `VM Extension '${ext.name}' did not run: the extensions time budget of ${seconds} s was spent.`,
    }
  })
  if (statuses.some((s) => s.state === 'transitioning'))
    return { state: 'updating', error: null, extensions: statuses }
  const counts = (i: number) =>
    statuses[i]?.state === 'failed' && !g.extensions[i]?.suppressFailures
  const idx = g.extensions.map((_, i) => i)
  const root = idx.find((i) => counts(i) && !p.dependents.includes(i)) ?? idx.find(counts)
  if (root === undefined) return { state: 'succeeded', error: null, extensions: statuses }
  const error = `VM has reported a failure when processing extension '${g.extensions[root]?.name}'. Error message: "${statuses[root]?.message}"`
  return { state: 'failed', error, extensions: statuses }
}

/**
 * Folds the agent's Application Health results (`count` times `result`) into its streak, with
 * the prober's own rule; the grace period starts at the first report.
 */
export function applyHealth(
  p: AgentProgress,
  check: HealthCheck,
  result: ProbeResult,
  count: number,
  nowMs: number,
): AgentProgress {
  let streak: ProbeStreak = p.health ?? {
    state: 'initializing',
    last: null,
    streak: 0,
    registeredAtMs: nowMs,
  }
  for (let n = 0; n < Math.min(Math.max(1, count), check.threshold + 1); n++)
    streak = recordProbe(streak, check, result, nowMs)
  return { ...p, contactAtMs: nowMs, health: { ...streak, reportedAtMs: nowMs } }
}

/**
 * The health the agent reports, while it reports: undefined once its last report is older than
 * `AGENT_HEALTH_STALE_MS` (the host's probe is then the fallback).
 */
export function agentHealth(p: AgentProgress | null, nowMs: number): HealthState | undefined {
  if (!p?.health || nowMs - p.health.reportedAtMs > AGENT_HEALTH_STALE_MS) return undefined
  return p.health.state
}

export function isCustomScript(ext: ExtensionModel): boolean {
  return CUSTOM_SCRIPT.includes(typeOf(ext).toLowerCase())
}

function decideOnHost(
  g: AgentGoalInput,
  p: AgentProgress,
  ext: ExtensionModel,
  spent: boolean,
): { status: ExtensionStatus; dependent: boolean } | null {
  const status = (state: 'succeeded' | 'failed', message: string, dependent = false) => ({
    status: { name: ext.name, type: typeOf(ext), state, message },
    dependent,
  })
  const byName = new Map(g.extensions.map((e, i) => [e.name.toLowerCase(), i]))
  for (const d of ext.provisionAfterExtensions) {
    const j = byName.get(d.toLowerCase())
    if (j !== undefined && p.statuses[j]?.state === 'failed')
      return status(
        'failed',
        `VM Extension '${ext.name}' is marked as failed since it depends upon the VM Extension '${g.extensions[j]?.name}' which has failed.`,
        true,
      )
  }
  if (spent)
    return status(
      'failed',
      `VM Extension '${ext.name}' did not run: the extensions time budget of ${Math.round(g.budgetMs / 1000)} s was spent.`,
    )
  if (!isCustomScript(ext)) return status('succeeded', 'Enable succeeded') // Application Health
  if (commandOf(ext) === null) return status('failed', 'commandToExecute is required.')
  return null
}

/** A Custom Script's `fileUris` (protected settings win, as for the command). */
export function fileUrisOf(ext: ExtensionModel): string[] {
  const u = ({ ...ext.settings, ...ext.protectedSettings } as { fileUris?: unknown }).fileUris
  return Array.isArray(u) ? u.map(String) : []
}

function commandOf(ext: ExtensionModel): string | null {
  const c = ({ ...ext.settings, ...ext.protectedSettings } as { commandToExecute?: unknown })
    .commandToExecute
  return typeof c === 'string' && c !== '' ? c : null
}

function withStatus(
  p: AgentProgress,
  i: number,
  s: ExtensionStatus,
  dependent: boolean,
): AgentProgress {
  return {
    ...p,
    statuses: { ...p.statuses, [i]: s },
    dependents: dependent ? [...p.dependents, i] : p.dependents,
  }
}

function typeOf(ext: ExtensionModel): string {
  return `${ext.publisher}.${ext.type}`
}
