/**
 * The guest agent's routes under the metadata service (docs/qemu.md § The guest agent):
 * `/metadata/osroll/extensions` (the goal state), `…/extensions/next` (the next command, as
 * text a busybox shell reads), `…/extensions/{i}/files[/{n}]` (the Custom Script's `fileUris`,
 * fetched on the host by this endpoint before it says `run`), `…/extensions/{i}/status` (a
 * command's outcome) and
 * `/metadata/osroll/health` (the in-guest Application Health results). The VM is the one whose
 * socket the request came on (`metadata-sockets.ts`): a guest reads and reports for itself only.
 * What each agent has done is kept beside its VM in `agent.json`, written by this endpoint alone
 * (one request at a time per VM), never in the VM's record, which the fabric alone writes.
 */
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { ProbeResult } from '../../core/health/probe-streak.js'
import type {
  GuestIdentity,
  GuestMetadata,
  MetadataAnswer,
  MetadataRequest,
} from '../types/metadata.js'
import { DEFAULT_DOWNLOAD_POLICY, downloadFailure, fetchFileUris } from '../host/fetch-files.js'
import { MARK_ROOT } from '../host/processes.js'
import type { DownloadPolicy } from '../types/local-options.js'
import {
  agentHealth,
  applyFetch,
  applyHealth,
  applyReport,
  freshProgress,
  goalOf,
  nextStep,
  provisioningOf,
  runOrder,
  type AgentGoalInput,
  type AgentProgress,
} from './guest-agent.js'
import { vmDir, type QemuInstance, type QemuStateStore } from './qemu-state.js'

export const AGENT_FILE = 'agent.json'
/** Where a VM's fetched `fileUris` wait for its agent: `{vm dir}/files/{goal}/{index}/`. */
export const FILES_DIR = 'files'
const PREFIX = '/metadata/osroll/'
/** The agent makes one request every few seconds; a burst of reports stays far below this. */
export const AGENT_REQUESTS_PER_SECOND = 20

export type GuestAgentOptions = Readonly<{
  rootDir: string
  state: QemuStateStore
  nowMs: () => number
  /** Told when an agent's report may change what the instance's view says. */
  onChange?: (scaleSetKey: string) => void
  /** What Custom Script `fileUris` may reach (`--file-uri-*`); default: no file://, no loopback. */
  downloads?: DownloadPolicy
}>

/** The extensions' goal of the instance's current disk and model, or null when it has none. */
export function goalInput(i: QemuInstance): AgentGoalInput | null {
  const extensions = i.extensions ?? []
  if (extensions.length === 0) return null
  return {
    vmId: i.vmId,
    diskN: i.disk.n,
    modelGeneration: i.disk.modelGeneration,
    sinceMs: i.disk.startedAtMs,
    extensions,
    budgetMs: i.extensionsTimeBudgetMs ?? 90 * 60_000,
  }
}

export class GuestAgentEndpoint {
  private readonly cache = new Map<string, AgentProgress | null>()
  private readonly queues = new Map<string, Promise<unknown>>()
  private readonly windows = new Map<string, { second: number; count: number }>()
  /** The downloads running, by `{vm dir}|{goal}|{index}`: one at a time per extension. */
  private readonly fetching = new Set<string>()

  constructor(private readonly o: GuestAgentOptions) {}

  /**
   * Routes `/metadata/osroll/…` here and everything else to `imds`.
   * @example new MetadataSockets(agent.around(metadata))
   */
  around(imds: GuestMetadata): GuestMetadata {
    return {
      answer: (guest, req) =>
        req.url.startsWith(PREFIX) ? this.answer(guest, req) : imds.answer(guest, req),
    }
  }

  /** The agent's progress on the instance's current goal, or null (none yet, or another goal's). */
  async progressOf(i: QemuInstance): Promise<AgentProgress | null> {
    const g = goalInput(i)
    if (!g) return null
    const p = await this.load(i)
    return p?.goal === goalOf(g) ? p : null
  }

  /** The provisioning an instance on a running VM shows, with its extensions' statuses. */
  provisioning(i: QemuInstance, p: AgentProgress | null) {
    const g = goalInput(i)
    return g ? provisioningOf(g, p ?? freshProgress(g), this.o.nowMs()) : null
  }

  /** The in-guest Application Health state while the agent reports it (else undefined). */
  health(i: QemuInstance, p: AgentProgress | null) {
    return i.healthSource === 'extension' ? agentHealth(p, this.o.nowMs()) : undefined
  }

  forget(i: Pick<QemuInstance, 'scaleSetKey' | 'instanceId'>): void {
    this.cache.delete(this.dirOf(i))
  }

  async answer(guest: GuestIdentity, req: MetadataRequest): Promise<MetadataAnswer> {
    if (req.metadataHeader?.trim().toLowerCase() !== 'true')
      return json(400, { error: 'Bad request. Required metadata header not specified' })
    const key = vmDir(this.o.rootDir, guest.scaleSetKey, guest.instanceId)
    if (this.overLimit(key)) return json(429, { error: 'Too many requests' })
    return this.serialised(key, () => this.route(guest, req))
  }

  /** Runs `f` after whatever this VM's endpoint is doing: one change of its agent.json at a time. */
  private serialised<T>(key: string, f: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(key) ?? Promise.resolve()).then(f)
    const settled = run.catch(() => undefined)
    this.queues.set(key, settled)
    void settled.then(() => this.queues.get(key) === settled && this.queues.delete(key))
    return run
  }

  /**
   * Fetches extension `index`'s `fileUris` into the VM's files folder, on the host and in the
   * background (the agent is told to wait meanwhile), then records the outcome in its progress.
   */
  private startFetch(
    i: QemuInstance,
    goal: string,
    step: { index: number; uris: readonly string[]; timeoutMs: number },
  ) {
    const dir = this.dirOf(i)
    const key = `${dir}|${goal}|${step.index}`
    if (this.fetching.has(key)) return
    this.fetching.add(key)
    const into = join(dir, FILES_DIR, goal, String(step.index))
    void (async () => {
      let failure: string | null
      try {
        await this.dropOtherGoals(dir, goal)
        await rm(into, { recursive: true, force: true })
        await mkdir(into, { recursive: true, mode: 0o700 })
        const problem = await fetchFileUris({
          uris: step.uris,
          dir: into,
          timeoutMs: Math.max(1000, step.timeoutMs),
          policy: this.o.downloads ?? DEFAULT_DOWNLOAD_POLICY,
          // Marked with the fabric's root: one that outlives osroll is stopped at its next start.
          env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', [MARK_ROOT]: this.o.rootDir },
        })
        failure = problem ? downloadFailure(step.uris, problem) : await unplaceable(into)
      } catch (err) {
        failure = `The fileUris could not be fetched: ${(err as Error).message}`
      }
      await this.serialised(dir, async () => {
        const [now] = await this.o.state.getMany(i.scaleSetKey, [i.instanceId])
        const g = now ? goalInput(now) : null
        const p = now ? await this.progressOf(now) : null
        if (!now || !g || !p || p.goal !== goal) return
        const next = applyFetch(g, p, step.index, failure)
        if (next) await this.save(now, next, p)
      }).catch(() => undefined)
    })().finally(() => this.fetching.delete(key))
  }

  /** Removes the fetched files of earlier goals (an earlier disk's, an earlier model's). */
  private async dropOtherGoals(dir: string, goal: string): Promise<void> {
    const names = await readdir(join(dir, FILES_DIR)).catch(() => [] as string[])
    for (const n of names)
      if (n !== goal) await rm(join(dir, FILES_DIR, n), { recursive: true, force: true })
  }

  /** At most `AGENT_REQUESTS_PER_SECOND` a second per VM: a guest cannot flood osroll's disk. */
  private overLimit(key: string): boolean {
    const second = Math.floor(this.o.nowMs() / 1000)
    if (this.windows.size > 10_000) this.windows.clear() // a bound, never reached by a live fleet
    const w = this.windows.get(key)
    if (!w || w.second !== second) this.windows.set(key, { second, count: 1 })
    else if (++w.count > AGENT_REQUESTS_PER_SECOND) return true
    return false
  }

  private async route(guest: GuestIdentity, req: MetadataRequest): Promise<MetadataAnswer> {
    const [path = '', query = ''] = req.url.slice(PREFIX.length).split('?', 2)
    const q = new URLSearchParams(query)
    const [i] = await this.o.state.getMany(guest.scaleSetKey, [guest.instanceId])
    if (!i) return json(404, { error: 'Not found' })
    const g = goalInput(i)
    const stored = await this.progressOf(i)
    const p = g ? (stored ?? freshProgress(g)) : null
    const method = req.method.toUpperCase()
    if (path === 'extensions' && method === 'GET')
      return json(200, goalDocument(i, g, p, this.o.nowMs()))
    if (path === 'extensions/next' && method === 'GET') {
      if (!g || !p) return text(`done ${goalId(i)} ${healthLine(i)}\n`)
      const { step, progress } = nextStep(g, p, this.o.nowMs())
      await this.save(i, progress, p)
      if (step.kind === 'done') return text(`done ${progress.goal} ${healthLine(i)}\n`)
      if (step.kind === 'fetch') {
        this.startFetch(i, progress.goal, step)
        return text(`wait ${progress.goal}\n`)
      }
      const files = step.files ? (await this.filesOf(i, progress.goal, step.index)).length : 0
      return text(
        `run ${progress.goal} ${step.index} ${step.timeoutSeconds} ${files}\n${step.command}\n`,
      )
    }
    const files = /^extensions\/(0|[1-9][0-9]{0,3})\/files(?:\/(0|[1-9][0-9]{0,4}))?$/.exec(path)
    if (files && method === 'GET') {
      if (!g || !p || q.get('goal') !== p.goal) return json(404, { error: 'Not found' })
      const names = await this.filesOf(i, p.goal, Number(files[1]))
      if (files[2] === undefined) return text(names.map((n, k) => `${k} ${n}\n`).join(''))
      const name = names[Number(files[2])]
      if (name === undefined) return json(404, { error: 'Not found' })
      const file = join(this.dirOf(i), FILES_DIR, p.goal, files[1] as string, name)
      return { status: 200, contentType: 'application/octet-stream', body: '', file }
    }
    const report = /^extensions\/(0|[1-9][0-9]{0,3})\/status$/.exec(path)
    if (report && method === 'POST') {
      const exit = q.get('exit')
      const code =
        exit === 'timeout' || exit === 'files'
          ? exit
          : /^[0-9]{1,3}$/.test(exit ?? '')
            ? Number(exit)
            : null
      if (code === null)
        return json(400, { error: 'Bad request. exit must be a number, timeout or files' })
      // A report for another goal (an earlier disk's, a cut-short run's) changes nothing.
      if (!g || !p || q.get('goal') !== p.goal) return text('ignored\n')
      const next = applyReport(g, p, Number(report[1]), code, req.body, this.o.nowMs())
      if (next) await this.save(i, next, p)
      return text(next ? 'ok\n' : 'ignored\n')
    }
    if (path === 'health' && method === 'POST') {
      const result = q.get('result') as ProbeResult | null
      const count = Number(q.get('count') ?? '1')
      if (!['healthy', 'unhealthy', 'unknown'].includes(result ?? '') || !(count >= 1))
        return json(400, { error: 'Bad request. result must be healthy, unhealthy or unknown' })
      if (g && p && i.healthCheck && q.get('goal') === p.goal)
        await this.save(
          i,
          applyHealth(p, i.healthCheck, result as ProbeResult, count, this.o.nowMs()),
          p,
        )
      return text(`goal ${goalId(i)}\n`)
    }
    return json(404, { error: 'Not found' })
  }

  private async save(i: QemuInstance, next: AgentProgress, before: AgentProgress): Promise<void> {
    const dir = this.dirOf(i)
    this.cache.set(dir, next)
    const tmp = join(dir, `${AGENT_FILE}.tmp`)
    const fh = await open(tmp, 'w', 0o600)
    try {
      await fh.writeFile(JSON.stringify(next))
    } finally {
      await fh.close()
    }
    await rename(tmp, join(dir, AGENT_FILE))
    const changed =
      JSON.stringify(next.statuses) !== JSON.stringify(before.statuses) ||
      next.health?.state !== before.health?.state
    if (changed) this.o.onChange?.(i.scaleSetKey)
  }

  private async load(i: QemuInstance): Promise<AgentProgress | null> {
    const dir = this.dirOf(i)
    if (this.cache.has(dir)) return this.cache.get(dir) ?? null
    const text = await readFile(join(dir, AGENT_FILE), 'utf8').catch(() => null)
    const p = text === null ? null : (JSON.parse(text) as AgentProgress)
    this.cache.set(dir, p)
    return p
  }

  /** The fetched files of extension `index` of `goal`, sorted: the agent asks for each by number. */
  private async filesOf(i: QemuInstance, goal: string, index: number): Promise<string[]> {
    const dir = join(this.dirOf(i), FILES_DIR, goal, String(index))
    return (await readdir(dir).catch(() => [] as string[])).sort()
  }

  private dirOf(i: Pick<QemuInstance, 'scaleSetKey' | 'instanceId'>): string {
    return vmDir(this.o.rootDir, i.scaleSetKey, i.instanceId)
  }
}

/**
 * Why the fetched files cannot be placed in the guest, or null: the agent reads their names one
 * a line, so a name may hold no control character (`%0A` in a URL's path, say).
 */
async function unplaceable(dir: string): Promise<string | null> {
  // eslint-disable-next-line no-control-regex
  const bad = (await readdir(dir)).find((n) => /[\x00-\x1f\x7f]/.test(n))
  return bad === undefined
    ? null
    : `The file name ${JSON.stringify(bad)} holds a control character: the guest agent cannot place it. Rename the file.`
}

/** The goal of a disk with no extensions still has an id: the agent learns of a new one by it. */
function goalId(i: QemuInstance): string {
  return goalOf({
    vmId: i.vmId,
    diskN: i.disk.n,
    modelGeneration: i.disk.modelGeneration,
    sinceMs: 0,
    extensions: [],
    budgetMs: 0,
  })
}

/**
 * What the agent probes in the guest: `none`, or the Application Health extension's probe as
 * `protocol port path intervalSeconds threshold mode` (a path holds no space: it is a URL's).
 */
function healthLine(i: QemuInstance): string {
  const c = i.healthCheck
  if (i.healthSource !== 'extension' || !c) return 'none'
  const path = c.requestPath === '' ? '/' : c.requestPath.replaceAll(' ', '%20')
  const interval = Math.max(1, Math.round(c.intervalMs / 1000))
  return `${c.protocol} ${c.port} ${path} ${interval} ${c.threshold} ${c.mode}`
}

/** `GET /metadata/osroll/extensions`: the goal and its extensions in the order they run. */
function goalDocument(
  i: QemuInstance,
  g: AgentGoalInput | null,
  p: AgentProgress | null,
  nowMs: number,
) {
  const shown = g && p ? provisioningOf(g, p, nowMs).extensions : []
  return {
    goal: goalId(i),
    extensions: g
      ? runOrder(g.extensions).map((n) => {
          const e = g.extensions[n]!
          return {
            index: n,
            name: e.name,
            type: `${e.publisher}.${e.type}`,
            typeHandlerVersion: e.typeHandlerVersion,
            provisionAfterExtensions: e.provisionAfterExtensions,
            settings: { ...e.settings, ...e.protectedSettings },
            status: shown[n]?.state ?? 'transitioning',
          }
        })
      : [],
    applicationHealth: healthLine(i) === 'none' ? null : i.healthCheck,
  }
}

function json(status: number, body: unknown): MetadataAnswer {
  return { status, contentType: 'application/json; charset=utf-8', body: JSON.stringify(body) }
}

function text(body: string): MetadataAnswer {
  return { status: 200, contentType: 'text/plain; charset=utf-8', body }
}
