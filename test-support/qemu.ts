/** What the tests of the qemu fabric share: whether it can run here, sample images, its VMs. */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { QEMU_TOOLS } from '../src/fabrics/qemu/qemu-fabric.js'
import { buildSampleImage } from '../src/fabrics/qemu/sample-image.js'
import { findTool } from '../src/fabrics/qemu/tools.js'

/** The tools the qemu tests need and this machine lacks (the tests skip, naming them). */
export const QEMU_MISSING = [...QEMU_TOOLS, 'apt-get', 'busybox', 'debugfs'].filter(
  (t) => !findTool(t),
)

/** The downloaded Debian cloud kernel is kept here between test files and runs. */
export const KERNEL_CACHE = join(tmpdir(), 'osroll-kernel-cache')

/** Builds the sample VM image `version` under `work` and returns its file:// URI. */
export async function qemuSample(
  work: string,
  version: string,
  health: 'healthy' | 'unhealthy' = 'healthy',
): Promise<string> {
  const out = join(work, `${version}-${health}`)
  await buildSampleImage({ version, health, outDir: out, cacheDir: KERNEL_CACHE })
  return pathToFileURL(out).href
}

/** The QEMU processes whose command line names `dir`, as `pid args` lines. */
export function qemuProcessesOf(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', `qemu-system.*${dir}`], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '')
  } catch {
    return [] // pgrep exits 1 when nothing matches
  }
}

/** Kills the QEMU processes of `dir` (tests call it in a finally: no VM outlives a test). */
export function killQemuOf(dir: string): void {
  for (const line of qemuProcessesOf(dir)) {
    try {
      process.kill(Number(line.split(' ')[0]), 'SIGKILL')
    } catch {
      // already gone
    }
  }
}

/** The files under `dir` whose names end with `suffix` (disks left behind, say). */
export function filesUnder(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(suffix))
}
