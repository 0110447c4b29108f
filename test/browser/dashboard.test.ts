/**
 * The dashboard in a real browser (issue 7): Debian's Chromium driven by playwright-core against
 * a real `osroll serve` (sim fabric). The page shows a scale set and its instances; a rollout
 * started from another client appears and progresses live, without a reload; the cancel button
 * (with its confirmation) cancels; a Reader token sees no action buttons; the console stays free
 * of errors. Screenshots go to test-artifacts/. Chromium is installed by .ci/run; outside CI the
 * test is skipped when /usr/bin/chromium is missing.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe } from '../../test-support/serve-process.js'
import type { ServeProcess } from '../../test-support/serve-process.js'
import { runCommand } from '../../test-support/run-command.js'
import { CHROMIUM, buildDashboard, launchChromium } from '../../test-support/browser.js'
import {
  armPaths,
  createResourceGroup,
  createSimFleet,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'
import { waitFor } from '../../test-support/api-harness.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ARTIFACTS = join(ROOT, 'test-artifacts')
const available = existsSync(CHROMIUM)
const inCi = process.env['CI'] === 'true'

const dir = mkdtempSync(join(tmpdir(), 'osroll-dashboard-'))
let server: ServeProcess
let browser: Browser
let readerToken = ''
const consoleErrors: string[] = []

async function open(token: string, path = '/'): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${m.text()} (${m.location().url})`)
  })
  page.on('pageerror', (e) => consoleErrors.push(String(e)))
  await page.goto(`${server.url}${path}#token=${encodeURIComponent(token)}`)
  return page
}

describe.skipIf(!available && !inCi)('dashboard in Chromium', () => {
  beforeAll(async () => {
    expect(
      available,
      `${CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)`,
    ).toBe(true)
    await buildDashboard() // from the current sources
    mkdirSync(ARTIFACTS, { recursive: true })
    server = await startServe(dir)
    const reader = await runCommand(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'src/cli/main.ts'),
        'token',
        'create',
        '--role',
        'Reader',
        '--data-dir',
        dir,
      ],
      { cwd: ROOT },
    )
    readerToken = /osr_[A-Za-z0-9_-]+/.exec(reader.stdout)?.[0] ?? ''
    expect(readerToken).not.toBe('')
    const p = armPaths(server.subscriptionId)
    await createSimFleet(server.call, server.subscriptionId, { capacity: 10 })
    await waitFor(
      async () =>
        (await server.call('GET', p.set())).body.properties?.provisioningState === 'Succeeded',
      'set created',
      30_000,
    )
    browser = await launchChromium()
  }, 90_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  })

  it(
    'shows the fleet and a scale set, a rollout started elsewhere live, and cancels it',
    { timeout: 90_000 },
    async () => {
      const page = await open(server.token)
      await page.getByRole('link', { name: 'web' }).waitFor()
      expect(await page.getByTestId('set-row').count()).toBe(1)
      expect(await page.getByTestId('live').textContent()).toMatch(/live|reconnecting/)
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-fleet.png'), fullPage: true })

      await page.getByRole('link', { name: 'web' }).click()
      await expect.poll(() => page.getByTestId('instance').count(), { timeout: 10_000 }).toBe(10)
      expect(await page.locator('[data-testid=instance][data-version="1.0.0"]').count()).toBe(10)
      expect(await page.getByText('No rollout has run on this scale set.').count()).toBe(1)
      await page.getByTestId('instance').first().click()
      await page.getByTestId('details').waitFor()
      expect(await page.getByTestId('details').textContent()).toContain('1.0.0')

      // Another client publishes 1.1.0 (each instance boots for 3 s): the page follows along.
      const p = armPaths(server.subscriptionId)
      await server.call('PUT', p.image('1.1.0'), imageBody('sim:?boot=3'))
      await expect
        .poll(() => page.getByTestId('rollout-status').textContent(), { timeout: 15_000 })
        .toBe('RollingForward')
      await expect
        .poll(() => page.locator('[data-testid=instance][data-state=upgrading]').count(), {
          timeout: 10_000,
        })
        .toBeGreaterThan(0)
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-rollout.png'), fullPage: true })
      await expect
        .poll(() => page.locator('[data-testid=instance][data-version="1.1.0"]').count(), {
          timeout: 15_000,
        })
        .toBeGreaterThan(0)

      // Cancel, confirmed in the dialog: the rollout ends Cancelled after its current batch.
      await page.getByRole('button', { name: 'Cancel rollout' }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Yes' }).click()
      await expect
        .poll(() => page.getByTestId('rollout-status').textContent(), { timeout: 20_000 })
        .toBe('Cancelled')
      const history = await page.getByTestId('history').textContent()
      expect(history).toContain('Cancelled')
      expect(
        await page.locator('[data-testid=instance][data-version="1.0.0"]').count(),
      ).toBeGreaterThan(0)
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-cancelled.png'), fullPage: true })
      await page.close()
    },
  )

  it('gives a Reader token no action buttons', { timeout: 30_000 }, async () => {
    const set = armPaths(server.subscriptionId).set()
    const page = await open(readerToken, `/?set=${encodeURIComponent(set)}`)
    await page.getByTestId('grid').waitFor()
    expect(await page.getByTestId('role').textContent()).toContain('Reader')
    expect(await page.getByRole('button', { name: /rollout/i }).count()).toBe(0)
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-reader.png'), fullPage: true })
    await page.close()
  })

  it(
    'asks for a token when none is given, and refuses a wrong one',
    { timeout: 30_000 },
    async () => {
      const page = await browser.newPage()
      await page.goto(server.url)
      await page.getByLabel('API token').fill('osr_not-a-token')
      await page.getByRole('button', { name: 'Open the dashboard' }).click()
      await page.getByRole('alert').waitFor()
      expect(await page.getByRole('alert').textContent()).toContain('not accepted')
      await page.close()
    },
  )

  it(
    'reconnects to a server that restarts, and goes on updating live',
    { timeout: 90_000 },
    async () => {
      // A server of its own on a fixed port, so that the restarted one is at the same address.
      const port = await new Promise<number>((resolve) => {
        const probe = createServer().listen(0, '127.0.0.1', () => {
          const a = probe.address() as { port: number }
          probe.close(() => resolve(a.port))
        })
      })
      const own = join(dir, 'restart')
      let other = await startServe(own, ['--port', String(port)])
      const p = armPaths(other.subscriptionId)
      await createSimFleet(other.call, other.subscriptionId, { capacity: 3 })
      // Not the shared console listener: while the server is down the browser logs refused fetches.
      const page = await browser.newPage()
      try {
        await page.goto(`${other.url}/?set=${encodeURIComponent(p.set())}#token=${other.token}`)
        await expect
          .poll(() => page.getByTestId('live').textContent(), { timeout: 10_000 })
          .toBe('live')
        await other.stop('SIGTERM')
        await expect
          .poll(() => page.getByTestId('live').textContent(), { timeout: 10_000 })
          .toBe('reconnecting…')
        other = await startServe(own, ['--port', String(port)])
        await expect
          .poll(() => page.getByTestId('live').textContent(), { timeout: 20_000 })
          .toBe('live')
        await other.call('PUT', p.image('1.1.0'), imageBody('sim:?boot=3'))
        await expect
          .poll(() => page.getByTestId('rollout-status').textContent(), { timeout: 15_000 })
          .toBe('RollingForward')
      } finally {
        await page.close()
        await other.stop('SIGTERM')
      }
    },
  )

  it(
    'shows a subscription without a display name by its id, once',
    { timeout: 30_000 },
    async () => {
      // An Owner's first use of a subscription creates it, with no display name of its own.
      const sub = '5c0b5e55-0000-4000-8000-00000000abcd'
      await createResourceGroup(server.call, sub)
      const lb = await server.call(
        'PUT',
        armPaths(sub).lb,
        loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }),
      )
      expect(lb.status).toBeLessThan(300)
      const page = await open(server.token)
      try {
        const heading = page.getByTestId('subscription').filter({ hasText: sub })
        await heading.waitFor()
        expect((await heading.textContent())?.trim()).toBe(sub)
        // One with a display name shows both: the default subscription.
        const named = page.getByTestId('subscription').filter({ hasText: server.subscriptionId })
        expect((await named.textContent())?.trim()).toBe(`default ${server.subscriptionId}`)
      } finally {
        await page.close()
      }
    },
  )

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([])
  })
})
