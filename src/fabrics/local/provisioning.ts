/**
 * Provisioning of a new OS disk on the local fabric (SPEC §7): the custom data script (a `#!`
 * first line) runs once before `boot`; then the model's extensions run, each after the ones its
 * `provisionAfterExtensions` names and in parallel otherwise, sharing `extensionsTimeBudget`. Custom Script downloads its
 * `fileUris` (file://, http://, https://) into its own folder and runs `commandToExecute` there;
 * a download that fails (an expired token answering 403, say) fails the extension. Dependents of
 * a failed extension fail with Azure's message; `suppressFailures` keeps a failure from failing
 * the instance.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { appendFile, chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ExtensionModel, ExtensionStatus } from '../fabric.js'
import { crashPoint, MARK_SPAWN } from './processes.js'

export type ProvisionResult = Readonly<{
  error: string | null
  extensions: readonly ExtensionStatus[]
}>

const CUSTOM_SCRIPT = [
  'microsoft.azure.extensions.customscript',
  'microsoft.compute.customscriptextension',
]
const DOWNLOAD_TIMEOUT_MS = 30_000
const OUTPUT_TAIL = 2_000

/** Runs the custom data script if it is one; returns an error message or null. */
export async function runCustomData(o: {
  file: string
  cwd: string
  env: Record<string, string>
  timeoutMs: number
  logFile: string
}): Promise<string | null> {
  const text = await readFile(o.file, 'utf8').catch(() => '')
  if (!text.startsWith('#!')) return null // plain data: only handed to the instance
  await chmod(o.file, 0o700)
  const r = await run(o.file, [], o.cwd, o.env, o.timeoutMs)
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
 * parallel (SPEC §7 allows it; Azure does it).
 */
export async function runExtensions(o: {
  extensions: readonly ExtensionModel[]
  dir: string
  env: Record<string, string>
  budgetMs: number
  logFile: string
}): Promise<ProvisionResult> {
  const deadline = Date.now() + o.budgetMs
  const byName = new Map(o.extensions.map((e) => [e.name.toLowerCase(), e]))
  const running = new Map<string, Promise<ExtensionStatus>>()
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
      return runOne(ext, deps, after)
    })()
    running.set(key, p)
    return p
  }
  const runOne = async (
    ext: ExtensionModel,
    deps: readonly ExtensionModel[],
    after: readonly ExtensionStatus[],
  ): Promise<ExtensionStatus> => {
    const type = `${ext.publisher}.${ext.type}`
    const failed = after.findIndex((s) => s.state === 'failed')
    if (failed >= 0)
      return {
        name: ext.name,
        type,
        state: 'failed',
        message: `VM Extension '${ext.name}' is marked as failed since it depends upon the VM Extension '${deps[failed]?.name}' which has failed.`,
      }
    if (Date.now() >= deadline)
      return {
        name: ext.name,
        type,
        state: 'failed',
        message: `VM Extension '${ext.name}' did not run: the extensions time budget of ${Math.round(o.budgetMs / 1000)} s was spent.`,
      }
    if (CUSTOM_SCRIPT.includes(type.toLowerCase()))
      return customScript(ext, type, o.dir, o.env, deadline - Date.now(), o.logFile)
    return { name: ext.name, type, state: 'succeeded', message: 'Enable succeeded' } // Application Health, Service Fabric node
  }
  const statuses = await Promise.all(o.extensions.map(provision))
  // The instance's error names the first failed extension in the model's order.
  const first = o.extensions.findIndex(
    (e, i) => statuses[i]?.state === 'failed' && !e.suppressFailures,
  )
  const ext = o.extensions[first]
  return {
    error:
      ext === undefined
        ? null
        : `VM has reported a failure when processing extension '${ext.name}'. Error message: "${statuses[first]?.message}"`,
    extensions: statuses,
  }
}

async function customScript(
  ext: ExtensionModel,
  type: string,
  root: string,
  env: Record<string, string>,
  timeoutMs: number,
  logFile: string,
): Promise<ExtensionStatus> {
  const settings = { ...ext.settings, ...ext.protectedSettings } as {
    fileUris?: unknown
    commandToExecute?: unknown
  }
  const fail = (message: string): ExtensionStatus => ({
    name: ext.name,
    type,
    state: 'failed',
    message,
  })
  const dir = join(root, 'extensions', ext.name)
  await mkdir(dir, { recursive: true })
  const uris = Array.isArray(settings.fileUris) ? settings.fileUris.map(String) : []
  for (const uri of uris) {
    const problem = await download(uri, dir)
    if (problem) return fail(`Failed to download file '${redact(uri)}': ${problem}`)
  }
  if (typeof settings.commandToExecute !== 'string' || settings.commandToExecute === '')
    return fail('commandToExecute is required.')
  const r = await run('/bin/sh', ['-c', settings.commandToExecute], dir, env, timeoutMs)
  await appendLog(
    logFile,
    `[osroll] extension ${ext.name} exited ${r.code ?? r.signal}\n${r.output}`,
  )
  if (r.timedOut)
    return fail(`The command did not finish within ${Math.round(timeoutMs / 1000)} s.`)
  if (r.code !== 0)
    return fail(
      `The command exited with code ${r.code ?? r.signal}: ${r.output.slice(-OUTPUT_TAIL)}`,
    )
  return {
    name: ext.name,
    type,
    state: 'succeeded',
    message: `Enable succeeded: ${r.output.slice(-OUTPUT_TAIL)}`,
  }
}

/** Downloads one file into `dir`; returns why it failed, or null. */
async function download(uri: string, dir: string): Promise<string | null> {
  try {
    const url = new URL(uri)
    const name = basename(decodeURIComponent(url.pathname)) || 'download'
    if (url.protocol === 'file:') {
      await copyFile(fileURLToPath(url), join(dir, name))
      return null
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return `the scheme '${url.protocol}' is not one of file, http, https`
    const res = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) })
    if (!res.ok)
      return `the server answered HTTP ${res.status}${res.status === 403 ? ' (an expired or wrong token?)' : ''}`
    await writeFile(join(dir, name), Buffer.from(await res.arrayBuffer()))
    return null
  } catch (err) {
    return (err as Error).message
  }
}

type RunResult = { code: number | null; signal: string | null; output: string; timedOut: boolean }

function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<RunResult> {
  return new Promise((resolve) => {
    // Its own spawn id, named by no record: a command that outlives this control plane (the
    // marker's root is in `env`) is an orphan the next start stops (orphans.ts).
    const child = spawn(command, args, {
      cwd,
      env: { ...env, [MARK_SPAWN]: randomUUID() },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    child.once('spawn', () => crashPoint('command-spawned'))
    let output = ''
    const add = (d: Buffer) => {
      output = (output + d.toString()).slice(-64 * 1024)
    }
    child.stdout.on('data', add)
    child.stderr.on('data', add)
    let timedOut = false
    const timer = setTimeout(
      () => {
        timedOut = true
        try {
          process.kill(-(child.pid as number), 'SIGKILL')
        } catch {
          /* gone */
        }
      },
      Math.max(1, timeoutMs),
    )
    child.on('error', (err) => {
      clearTimeout(timer)
      resolve({ code: 127, signal: null, output: err.message, timedOut: false })
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, output, timedOut })
    })
  })
}

/** Secrets hide in query strings (SAS tokens): never echo them. */
function redact(uri: string): string {
  return uri.replace(/\?.*$/, '?…')
}

async function appendLog(file: string, text: string): Promise<void> {
  await appendFile(file, text.endsWith('\n') ? text : text + '\n').catch(() => undefined)
}
