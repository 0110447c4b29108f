/**
 * What browser tests and benchmarks share: Debian's Chromium (never a downloaded browser), the
 * flags the project runs it with, and a build of the dashboard from the current sources.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { runCommand } from './run-command.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const CHROMIUM = '/usr/bin/chromium'

/** Builds dist/dashboard with Vite (well under a second); throws with Vite's output on failure. */
export async function buildDashboard(): Promise<void> {
  const built = await runCommand(
    process.execPath,
    [
      join(ROOT, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      'dashboard/vite.config.ts',
      '--logLevel',
      'warn',
    ],
    { cwd: ROOT },
  )
  if (built.code !== 0) throw new Error(`vite build failed:\n${built.stdout}\n${built.stderr}`)
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}
