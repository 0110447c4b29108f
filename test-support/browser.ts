/**
 * What browser tests and benchmarks share: Debian's Chromium (never a downloaded browser), the
 * flags the project runs it with, and a build of the dashboard from the current sources.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'
import { AxeBuilder } from '@axe-core/playwright'
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

/**
 * A page in a context of its own (axe-core's run opens a page beside it), 1280 × 900, whose
 * console errors and uncaught exceptions are appended to `errors`, at `url`.
 */
export async function openPage(browser: Browser, url: string, errors: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`)
  })
  page.on('pageerror', (e) => errors.push(String(e)))
  await page.goto(url)
  return page
}

/** axe-core on the page as it is: its serious and critical violations, each in one line. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).analyze()
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`)
}
