/**
 * Provisioning of a new OS disk on the local fabric (docs/rollouts.md R8): the custom data script
 * (a `#!`
 * first line) runs once before `boot`; then the model's extensions run, each after the ones its
 * `provisionAfterExtensions` names and in parallel otherwise, sharing `extensionsTimeBudget`. Custom Script downloads its
 * `fileUris` (file://, http://, https://) into its own folder and runs `commandToExecute` there;
 * a download that fails (an expired token answering 403, say) fails the extension. Dependents of
 * a failed extension fail with Azure's message; `suppressFailures` keeps a failure from failing
 * the instance. Everything runs in the instance's sandbox (`InstanceJail`, sandbox.ts), downloads
 * included (host/fetch-files.ts); credentials of fileUris (user-info, query) never reach a message or
 * a log.
 */
import { appendFile, chmod, lstat, mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ExtensionModel, ExtensionStatus } from '../types/fabric.js'
import {
  DEFAULT_DOWNLOAD_POLICY,
  downloadFailure,
  fetchFileUris,
  scrubber,
} from '../host/fetch-files.js'
import { runCommand as run } from '../host/commands.js'
import type { DownloadPolicy } from '../types/local-options.js'
import type { SandboxedCommand } from './sandbox.js'

/** Where an instance's commands run: its sandbox, as its uid (local-fabric.ts makes one). */
export type InstanceJail = Readonly<{
  /** The argv running `command` in the sandbox; `readOnly` host paths shown as they are. */
  wrap: (
    command: string,
    args: readonly string[],
    cwd: string,
    o?: { readOnly?: readonly string[]; reportPid?: boolean },
  ) => SandboxedCommand
  /** Gives a folder osroll just made to the instance, so what runs there may write in it. */
  give: (path: string) => Promise<void>
}>

/** No sandbox: commands run as osroll (`--instance-sandbox none`, and direct calls in tests). */
export const UNJAILED: InstanceJail = {
  wrap: (command, args, cwd) => ({ command, args, cwd, reportsPid: false }),
  give: async () => undefined,
}

export type ProvisionResult = Readonly<{
  error: string | null
  extensions: readonly ExtensionStatus[]
}>

const CUSTOM_SCRIPT = [
  'microsoft.azure.extensions.customscript',
  'microsoft.compute.customscriptextension',
]
const OUTPUT_TAIL = 2_000

/** Runs the custom data script if it is one; returns an error message or null. */
export async function runCustomData(o: {
  file: string
  cwd: string
  env: Record<string, string>
  timeoutMs: number
  logFile: string
  jail?: InstanceJail
}): Promise<string | null> {
  const text = await readFile(o.file, 'utf8').catch(() => '')
  if (!text.startsWith('#!')) return null // plain data: only handed to the instance
  await chmod(o.file, 0o700)
  const r = await run((o.jail ?? UNJAILED).wrap(o.file, [], o.cwd), o.env, o.timeoutMs)
  await appendLog(o.logFile, `[osroll] custom data exited ${r.code ?? r.signal}\n${r.output}`)
  if (r.timedOut)
    return `The custom data script did not finish within ${Math.round(o.timeoutMs / 1000)} s.`
  return r.code === 0
    ? null
    : `The custom data script exited with code ${r.code ?? r.signal}: ${r.output.slice(-OUTPUT_TAIL)}`
}

/**
 * Runs the extensions; never throws: failures are statuses. Each starts as soon as the ones it
 * is provisioned after have finished, so extensions with no ordering between them run in
 * parallel (docs/rollouts.md R8 allows it; Azure does it).
 */
export async function runExtensions(o: {
  extensions: readonly ExtensionModel[]
  dir: string
  env: Record<string, string>
  budgetMs: number
  logFile: string
  jail?: InstanceJail
  downloads?: DownloadPolicy
}): Promise<ProvisionResult> {
  const where: Where = {
    root: o.dir,
    env: o.env,
    logFile: o.logFile,
    jail: o.jail ?? UNJAILED,
    policy: o.downloads ?? DEFAULT_DOWNLOAD_POLICY,
  }
  const deadline = Date.now() + o.budgetMs
  const byName = new Map(o.extensions.map((e) => [e.name.toLowerCase(), e]))
  const running = new Map<string, Promise<ExtensionStatus>>()
  /** Extensions marked failed only because one they depend upon failed. */
  const dependents = new Set<string>()
  const provision = (ext: ExtensionModel): Promise<ExtensionStatus> => {
    const key = ext.name.toLowerCase()
    let p = running.get(key)
    if (p) return p
    p = (async () => {
      // Dependencies that are not in the model were refused at validation; ignore them here.
      const deps = ext.provisionAfterExtensions.flatMap((d) => {
        const e = byName.get(d.toLowerCase())
        return e ? [e] : []
      })
      const after = await Promise.all(deps.map(provision))
      const failed = after.findIndex((s) => s.state === 'failed')
      if (failed >= 0) dependents.add(key)
      return runOne(ext, failed >= 0 ? (deps[failed] ?? null) : null, where, {
        deadline,
        budgetMs: o.budgetMs,
      })
    })()
    running.set(key, p)
    return p
  }
  const statuses = await Promise.all(o.extensions.map(provision))
  return { error: rootCause(o.extensions, statuses, dependents), extensions: statuses }
}

/**
 * One extension, once those it is provisioned after have finished: failed when one of them
 * failed (`failedDependency`) or the budget is spent, else run (Custom Script) or succeeded.
 */
async function runOne(
  ext: ExtensionModel,
  failedDependency: ExtensionModel | null,
  where: Where,
  time: Readonly<{ deadline: number; budgetMs: number }>,
): Promise<ExtensionStatus> {
  const type = `${ext.publisher}.${ext.type}`
  if (failedDependency)
    return {
      name: ext.name,
      type,
      state: 'failed',
      message: `VM Extension '${ext.name}' is marked as failed since it depends upon the VM Extension '${failedDependency.name}' which has failed.`,
    }
  if (Date.now() >= time.deadline)
    return {
      name: ext.name,
      type,
      state: 'failed',
      message: `VM Extension '${ext.name}' did not run: the extensions time budget of ${Math.round(time.budgetMs / 1000)} s was spent.`,
    }
  if (CUSTOM_SCRIPT.includes(type.toLowerCase()))
    return customScript(ext, type, where, time.deadline - Date.now())
  return { name: ext.name, type, state: 'succeeded', message: 'Enable succeeded' } // Application Health, Service Fabric node
}

/**
 * The instance's error, naming the root cause: the first extension in the model's order that
 * failed on its own, before any that failed only because it depends upon a failed one
 * (`dependents`, lower-cased names); null when none failed that counts.
 */
function rootCause(
  extensions: readonly ExtensionModel[],
  statuses: readonly ExtensionStatus[],
  dependents: ReadonlySet<string>,
): string | null {
  const counts = (e: ExtensionModel, i: number) =>
    statuses[i]?.state === 'failed' && !e.suppressFailures
  const root = extensions.findIndex((e, i) => counts(e, i) && !dependents.has(e.name.toLowerCase()))
  const first = root >= 0 ? root : extensions.findIndex(counts)
  const ext = extensions[first]
  return ext === undefined
    ? null
    : `VM has reported a failure when processing extension '${ext.name}'. Error message: "${statuses[first]?.message}"`
}

type Where = Readonly<{
  root: string
  env: Record<string, string>
  logFile: string
  jail: InstanceJail
  policy: DownloadPolicy
}>

async function customScript(
  ext: ExtensionModel,
  type: string,
  at: Where,
  timeoutMs: number,
): Promise<ExtensionStatus> {
  const settings = { ...ext.settings, ...ext.protectedSettings } as {
    fileUris?: unknown
    commandToExecute?: unknown
  }
  const uris = Array.isArray(settings.fileUris) ? settings.fileUris.map(String) : []
  const scrub = scrubber(uris)
  const status = (state: 'succeeded' | 'failed', message: string): ExtensionStatus => ({
    name: ext.name,
    type,
    state,
    message: scrub(message),
  })
  const folder = folderName(ext.name)
  if (folder === null)
    return status(
      'failed',
      `The extension name '${ext.name}' cannot name its folder: it must not be empty, '.' or '..', nor hold '/', '\\' or control characters.`,
    )
  const dir = await extensionFolder(at, folder)
  const problem = await download(uris, dir, at, timeoutMs)
  if (problem) return status('failed', downloadFailure(uris, problem))
  if (typeof settings.commandToExecute !== 'string' || settings.commandToExecute === '')
    return status('failed', 'commandToExecute is required.')
  const r = await run(
    at.jail.wrap('/bin/sh', ['-c', settings.commandToExecute], dir),
    at.env,
    timeoutMs,
  )
  await appendLog(
    at.logFile,
    scrub(`[osroll] extension ${ext.name} exited ${r.code ?? r.signal}\n${r.output}`),
  )
  if (r.timedOut)
    return status('failed', `The command did not finish within ${Math.round(timeoutMs / 1000)} s.`)
  if (r.code !== 0)
    return status(
      'failed',
      `The command exited with code ${r.code ?? r.signal}: ${r.output.slice(-OUTPUT_TAIL)}`,
    )
  return status('succeeded', `Enable succeeded: ${r.output.slice(-OUTPUT_TAIL)}`)
}

/**
 * The extension's folder name: its name when that is one plain path component, else null (never
 * joined into a path). `../../tmp/x` → null; `install-web.v2` → itself.
 */
export function folderName(name: string): string | null {
  // eslint-disable-next-line no-control-regex
  if (name === '' || name === '.' || name === '..' || /[/\\\x00-\x1f\x7f]/.test(name)) return null
  return Buffer.byteLength(name) <= 200 ? name : null
}

/** `{root}/extensions/{folder}`, made by osroll (its parent stays osroll's), given to the instance. */
async function extensionFolder(at: Where, folder: string): Promise<string> {
  const parent = join(at.root, 'extensions')
  await mkdir(parent, { recursive: true })
  const dir = join(parent, folder)
  const made = await mkdir(dir).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err
      return false
    },
  )
  if (!made && !(await lstat(dir)).isDirectory()) throw new Error(`${dir} is not a directory`)
  await at.jail.give(dir) // again each time: a folder made before the sandbox was osroll's
  return dir
}

/** Downloads the files into `dir` in the sandbox (host/fetch-files.ts); which failed and why, or null. */
function download(uris: readonly string[], dir: string, at: Where, timeoutMs: number) {
  return fetchFileUris({
    uris,
    dir,
    timeoutMs,
    policy: at.policy,
    env: at.env,
    wrap: (command, args, cwd) =>
      at.jail.wrap(command, args, cwd, { readOnly: at.policy.fileRoots }),
  })
}

async function appendLog(file: string, text: string): Promise<void> {
  await appendFile(file, text.endsWith('\n') ? text : text + '\n').catch(() => undefined)
}
