/**
 * The instance drawer's live console (issue 22 §4) on the local fabric: Debian's Chromium
 * against a real `osroll serve --fabric local` whose one instance is a real process. The drawer
 * shows the console's tail (the sample image's start line) and re-reads it while Follow is on.
 * axe-core finds no serious or critical violation with the drawer open. Addresses: 127.96/16.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe } from '../../test-support/serve-process.js'
import type { ServeProcess } from '../../test-support/serve-process.js'
import {
  CHROMIUM,
  buildDashboard,
  launchChromium,
  seriousViolations,
} from '../../test-support/browser.js'
import {
  HTTP_HEALTH_PROBE,
  armPaths,
  autoUpgradeSetBody,
  createResourceGroup,
  healthyInstances,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'
import { sampleImage } from '../../test-support/sample-images.js'
import { waitFor } from '../../test-support/api-harness.js'

const available = existsSync(CHROMIUM)
const inCi = process.env['CI'] === 'true'
const dir = mkdtempSync(join(tmpdir(), 'osroll-dashboard-console-'))
let server: ServeProcess
let browser: Browser

describe.skipIf(!available && !inCi)('the instance drawer follows its console', () => {
  const p = () => armPaths(server.subscriptionId)

  beforeAll(async () => {
    expect(available, `${CHROMIUM} is missing: apt-get install chromium`).toBe(true)
    await buildDashboard()
    server = await startServe(join(dir, 'data'), [
      '--fabric',
      'local',
      '--address-range',
      '127.96.0.0/16',
    ])
    const sub = server.subscriptionId
    await createResourceGroup(server.call, sub)
    for (const [path, b] of [
      [p().image('1.0.0'), imageBody(sampleImage(join(dir, 'img'), { version: '1.0.0' }))],
      [p().lb, loadBalancerBody(HTTP_HEALTH_PROBE)],
      [p().set(), autoUpgradeSetBody({ sub, capacity: 1, probe: 'http' })],
    ] as const) {
      const r = await server.call('PUT', path, b)
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300)
    }
    const get = async (path: string) => (await server.call('GET', path)).body
    await waitFor(() => healthyInstances(get, p().set(), 1), 'one healthy instance', 60_000)
    browser = await launchChromium()
  }, 90_000)

  afterAll(async () => {
    await browser?.close()
    // Deleting the set stops its instance process; then the server.
    await server?.call('DELETE', p().set()).catch(() => undefined)
    await server?.stop('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  })

  it('shows the tail and re-reads it while following', { timeout: 60_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const reads: number[] = []
    page.on('request', (r) => {
      if (r.url().includes('/bootDiagnostics')) reads.push(Date.now())
    })
    await page.goto(`${server.url}/?set=${encodeURIComponent(p().set())}#token=${server.token}`)
    await page.locator('[data-testid=instance]').first().click()
    const consoleTail = page.getByTestId('console')
    await expect
      .poll(() => consoleTail.textContent(), { timeout: 15_000 })
      .toMatch(/sample web 1\.0\.0 listening on 127\.96\.\d+\.\d+:8080/)
    // Following: read again and again (every 2 s).
    await expect.poll(() => reads.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(3)
    expect(await seriousViolations(page)).toEqual([])
    // Follow off: the drawer says so; the reads' stop is the effect's cleanup (not timed here:
    // proving that nothing happens would take a real-time sleep).
    await page.getByTestId('console-follow').uncheck()
    expect(await page.getByTestId('console-follow').isChecked()).toBe(false)
    await page.getByTestId('console-follow').check()
    const at = reads.length
    await expect.poll(() => reads.length, { timeout: 10_000 }).toBeGreaterThan(at)
    await context.close()
  })
})
