/**
 * The dashboard's pictures in a real browser (issue 22): Debian's Chromium (playwright-core)
 * against a real `osroll serve` on the sim fabric. The plan before start, then start → pause →
 * resume → complete through the confirmations, the timeline filling in live (its pause a marked
 * wait), the fleet matrix following the rollout; a rollout that rolls back, its instances marked
 * with their typed reason, its version quarantined and released from the fleet view; rows
 * aggregated by batch; axe-core on every view (0 serious or critical violations). Screenshots go
 * to test-artifacts/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AxeBuilder } from '@axe-core/playwright'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe } from '../../test-support/serve-process.js'
import type { ServeProcess } from '../../test-support/serve-process.js'
import { CHROMIUM, buildDashboard, launchChromium } from '../../test-support/browser.js'
import {
  armPaths,
  autoUpgradeSetBody,
  createResourceGroup,
  healthyInstances,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'
import { waitFor } from '../../test-support/api-harness.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ARTIFACTS = join(ROOT, 'test-artifacts')
const available = existsSync(CHROMIUM)
const inCi = process.env['CI'] === 'true'
const UPGRADES = '/providers/Osroll.Upgrades'

const dir = mkdtempSync(join(tmpdir(), 'osroll-dashboard-pictures-'))
let server: ServeProcess
let browser: Browser
const consoleErrors: string[] = []

async function open(path = '/'): Promise<Page> {
  // A context of its own: axe-core's run opens a page beside it.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${m.text()} (${m.location().url})`)
  })
  page.on('pageerror', (e) => consoleErrors.push(String(e)))
  await page.goto(`${server.url}${path}#token=${encodeURIComponent(server.token)}`)
  return page
}

/** axe-core on the page as it is: no serious or critical violation. */
async function accessible(page: Page, what: string): Promise<void> {
  const r = await new AxeBuilder({ page }).analyze()
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
    what,
  ).toEqual([])
}

describe.skipIf(!available && !inCi)('dashboard pictures in Chromium', () => {
  const p = () => armPaths(server.subscriptionId)
  beforeAll(async () => {
    expect(available, `${CHROMIUM} is missing: apt-get install chromium`).toBe(true)
    await buildDashboard()
    mkdirSync(ARTIFACTS, { recursive: true })
    server = await startServe(dir, ['--health-deadline', 'PT2S'])
    await createResourceGroup(server.call, server.subscriptionId)
    // Upgraded manually (no automatic start); four update domains, so four batches of one.
    const body = autoUpgradeSetBody({ sub: server.subscriptionId, capacity: 4, probe: 'tcp' })
    ;(body['properties'] as Record<string, unknown>)['upgradePolicy'] = {
      mode: 'Rolling',
      rollingUpgradePolicy: { maxBatchInstancePercent: 50 },
    }
    for (const [path, b] of [
      [p().image('1.0.0'), imageBody('sim:?boot=0')],
      [p().lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 })],
      [p().set(), body],
    ] as const) {
      const r = await server.call('PUT', path, b)
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300)
    }
    const get = async (path: string) => (await server.call('GET', path)).body
    await waitFor(() => healthyInstances(get, p().set(), 4), 'four healthy instances', 30_000)
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  })

  it(
    'plan → start → pause → resume → complete, the timeline live, the matrix following',
    { timeout: 60_000 },
    async () => {
      await server.call('PUT', p().image('1.1.0'), imageBody('sim:?boot=2'))
      const fleet = await open('/')
      const web = fleet.locator('[data-testid=matrix-row][data-set=web]')
      await web.waitFor()
      expect(await web.locator('[data-version="1.0.0"]').getAttribute('data-share')).toBe('100%')
      await accessible(fleet, 'fleet view')

      const page = await open(`/?set=${encodeURIComponent(p().set())}`)
      await page.getByTestId('plan-batch').first().waitFor()
      expect(await page.getByTestId('plan-batch').count()).toBe(4)
      expect(await page.getByTestId('plan-summary').textContent()).toMatch(
        /To 1\.1\.0 .*4 instances in 4 batches.*worst case/,
      )
      expect(await page.getByTestId('plan-precheck').textContent()).toContain('precheck passes')
      await accessible(page, 'set view with its plan')
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-plan.png'), fullPage: true })

      // Start, by keyboard: the dialog says what it will do.
      await page.getByRole('button', { name: 'Start OS rollout' }).focus()
      await page.keyboard.press('Enter')
      const dialog = page.getByRole('dialog')
      expect(await dialog.textContent()).toMatch(/to 1\.1\.0 now: 4 instances in 4 batches/)
      await dialog.getByRole('button', { name: 'Yes, start' }).click()
      // Pause at once: batch 1 finishes, batch 2 waits.
      await page.getByRole('button', { name: 'Pause rollout' }).click()
      expect(await dialog.textContent()).toMatch(/batch in progress finishes/)
      await dialog.getByRole('button', { name: 'Yes, pause' }).click()
      await expect
        .poll(() => page.getByTestId('pause-state').textContent(), { timeout: 15_000 })
        .toContain('paused')
      // Live: batch 1's row is there, batch 2's not yet; the pause is a marked wait.
      await expect
        .poll(() => page.locator('[data-testid=timeline-row][data-outcome=Succeeded]').count(), {
          timeout: 10_000,
        })
        .toBe(1)
      expect(await page.getByTestId('timeline-row').count()).toBe(1)
      await expect.poll(() => page.getByTestId('timeline-wait').count()).toBe(1)
      await expect
        .poll(
          () =>
            fleet
              .locator('[data-testid=matrix-fleet] [data-version="1.1.0"]')
              .getAttribute('data-share'),
          { timeout: 10_000 },
        )
        .toBe('25%')
      await accessible(page, 'set view, rollout paused')
      await page.screenshot({
        path: join(ARTIFACTS, 'dashboard-timeline-paused.png'),
        fullPage: true,
      })

      await page.getByRole('button', { name: 'Resume rollout' }).click()
      expect(await dialog.textContent()).toMatch(/goes on with its next batch/)
      await dialog.getByRole('button', { name: 'Yes, resume' }).click()
      // Half-way: the timeline fills in as batches go (the docs' picture of a rollout).
      await expect
        .poll(() => page.locator('[data-testid=timeline-row][data-outcome=Succeeded]').count(), {
          timeout: 15_000,
        })
        .toBeGreaterThanOrEqual(2)
      await page.getByTestId('timeline').screenshot({
        path: join(ARTIFACTS, 'dashboard-timeline-live.png'),
      })
      await expect
        .poll(() => page.getByTestId('rollout-status').textContent(), { timeout: 20_000 })
        .toBe('Completed')
      await expect
        .poll(() => page.locator('[data-testid=timeline-row][data-outcome=Succeeded]').count(), {
          timeout: 10_000,
        })
        .toBe(4)
      // One critical (slowest) row per batch; a row's focus tells its steps in words.
      expect(await page.locator('[data-testid=timeline-row][data-critical=true]').count()).toBe(4)
      await page.getByTestId('timeline-row').first().focus()
      expect(await page.getByTestId('timeline-focus').textContent()).toMatch(
        /#\d \(critical path.*\): Succeeded.*stopped, disk swapping .*initializing/,
      )
      await expect
        .poll(() => web.locator('[data-version="1.1.0"]').getAttribute('data-share'), {
          timeout: 10_000,
        })
        .toBe('100%')
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-timeline.png'), fullPage: true })
      await fleet.getByTestId('adoption').locator('canvas').waitFor()
      await fleet.screenshot({
        path: join(ARTIFACTS, 'dashboard-fleet-pictures.png'),
        fullPage: true,
      })
      await fleet.close()
      await page.close()
    },
  )

  it(
    'a rollback: marked with its typed reason, its version quarantined and released',
    { timeout: 60_000 },
    async () => {
      await server.call('PUT', p().image('1.2.0'), imageBody('sim:?boot=0&health=unhealthy'))
      const started = await server.call('POST', `${p().set()}${UPGRADES}/rollouts/start`, {
        version: '1.2.0',
        rollback: true,
      })
      expect(started.status, JSON.stringify(started.body)).toBe(202)
      const page = await open(`/?set=${encodeURIComponent(p().set())}`)
      await expect
        .poll(() => page.getByTestId('rollout-status').textContent(), { timeout: 30_000 })
        .toBe('Faulted')
      const back = page.locator('[data-testid=timeline-row][data-outcome=RolledBack]')
      await expect.poll(() => back.count(), { timeout: 10_000 }).toBeGreaterThan(0)
      expect(await back.first().getAttribute('aria-label')).toMatch(
        /RolledBack \(HealthDeadlineExceeded\).*failed: HealthDeadlineExceeded/,
      )
      expect(await back.first().locator('title').first().textContent()).toContain(
        'HealthDeadlineExceeded',
      )
      expect(await page.getByTestId('timeline-mark').count()).toBeGreaterThan(0)
      // The instance's drawer: its rows of both rollouts, the rolled-back one marked.
      await page.locator('[data-testid=instance]', { hasText: /^0$/ }).click()
      const across = page.getByTestId('instance-history').locator('li')
      await expect.poll(() => across.count(), { timeout: 10_000 }).toBe(2)
      expect(await across.first().textContent()).toContain('1.2.0')
      expect(await across.first().getByTestId('timeline-row').getAttribute('data-outcome')).toBe(
        'RolledBack',
      )
      await accessible(page, 'set view, rolled back, an instance drawer open')
      await back.first().focus() // its reason written below the chart
      await page.getByTestId('timeline').screenshot({
        path: join(ARTIFACTS, 'dashboard-rollback.png'),
      })

      const rows = page.getByTestId('timeline').getByTestId('timeline-row')
      // Rows per batch on request (what 1,000 instances get by themselves).
      await page.getByTestId('timeline-rows').selectOption('batch')
      await expect.poll(() => rows.count()).toBe(1)
      expect(await page.getByTestId('timeline-aggregated').textContent()).toMatch(
        /instances shown as one row per batch/,
      )
      expect(await rows.first().getAttribute('aria-label')).toMatch(
        /Batch 1 \(\d\).*RolledBack.*× /,
      )
      // Replay of the history entry before it: the earlier rollout drawn as it was half-way.
      await page.getByTestId('timeline-rollout').selectOption({ index: 2 })
      await expect.poll(() => page.getByTestId('timeline-status').textContent()).toBe('Completed')
      await page.getByTestId('timeline-rows').selectOption('instance')
      const replay = page.getByTestId('replay')
      await replay.focus()
      await page.keyboard.press('Home')
      await expect.poll(() => rows.count()).toBeLessThan(4)
      // Play: the position moves on to the end, and the rows fill in.
      await page.getByRole('button', { name: '▶ Play' }).click()
      await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(4)
      await page.getByRole('button', { name: '▶ Play' }).waitFor({ timeout: 15_000 })
      await page.close()

      const fleet = await open('/')
      const row = fleet.getByTestId('quarantined')
      await row.waitFor()
      expect(await row.textContent()).toContain('1.2.0')
      await accessible(fleet, 'fleet view with a quarantined version')
      await fleet.getByRole('button', { name: 'Release 1.2.0' }).click()
      await fleet.getByRole('dialog').getByRole('button', { name: 'Yes, release' }).click()
      await fleet.getByTestId('quarantine-none').waitFor()
      const left = await server.call('GET', `${p().set()}${UPGRADES}/quarantinedVersions`)
      expect(left.body.value).toEqual([])
      await fleet.close()
    },
  )

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([])
  })
})
