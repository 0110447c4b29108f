/**
 * The host tools the qemu fabric runs, each named with the Debian package that provides it, so
 * that a missing one is an error that says what to install.
 */
import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { Errors } from '../../errors.js'

const run = promisify(execFile)

/** Tool → the Debian package that installs it. */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  genisoimage: 'genisoimage',
  busybox: 'busybox-static',
  mke2fs: 'e2fsprogs',
  debugfs: 'e2fsprogs',
  'dpkg-deb': 'dpkg',
  'apt-get': 'apt',
}

/** The absolute path of `tool` on PATH (also /usr/sbin and /sbin), or null. */
export function findTool(tool: string, path = process.env.PATH ?? ''): string | null {
  const dirs = [...path.split(delimiter), '/usr/sbin', '/sbin'].filter(Boolean)
  for (const dir of dirs) {
    const candidate = join(dir, tool)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return null
}

/**
 * Refuses, naming the Debian packages to install, when any of `tools` is missing.
 * @example requireTools(['qemu-img']) // throws "… apt-get install qemu-utils"
 */
export function requireTools(tools: readonly string[], path?: string): void {
  const missing = tools.filter((t) => findTool(t, path) === null)
  if (missing.length === 0) return
  const packages = [...new Set(missing.map((t) => TOOL_PACKAGES[t] ?? t))]
  throw Errors.FabricUnavailable(
    `The qemu fabric needs ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not installed. ` +
      `Install ${packages.length === 1 ? 'the Debian package' : 'the Debian packages'}: apt-get install ${packages.join(' ')}`,
  )
}

export type RunResult = Readonly<{ stdout: string; stderr: string }>

/** Runs a tool to completion; its stderr is quoted in the error when it fails. */
export async function runTool(
  tool: string,
  args: readonly string[],
  options: Readonly<{ cwd?: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal }> = {},
): Promise<RunResult> {
  try {
    const r = await run(tool, [...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      signal: options.signal,
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'utf8',
    })
    return { stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const err = e as { stderr?: string; message?: string; code?: unknown }
    const detail = (err.stderr ?? '').trim().split('\n').slice(-5).join(' | ')
    throw new Error(`${tool} ${args.join(' ')} failed: ${detail || err.message || String(e)}`, {
      cause: e,
    })
  }
}
