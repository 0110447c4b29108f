/**
 * Maintenance windows (issue 21 §2, docs/rollouts.md § Maintenance windows) through the API and
 * the CLI on the sim fabric: the resource is validated (a bad one is a 400 and changes nothing),
 * kept across a set PUT, and a rollout outside its window waits, says until when (status,
 * condition, events, metric), shows the windows in its dry-run plan, and goes on once the
 * windows are removed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../test-support/api-harness.js'
import { armPaths, imageBody } from '../../test-support/arm-fixtures.js'
import { servedSimFleet } from '../../test-support/served-fleet.js'
import type { ServedFleet } from '../../test-support/served-fleet.js'

let f: ServedFleet
const WINDOWS = '/providers/Osroll.Upgrades/maintenanceWindows/default'
const CURRENT = '/providers/Osroll.Upgrades/rollouts/current'

beforeAll(async () => {
  f = await servedSimFleet({ capacity: 4, healthDeadline: 'PT30S' })
})
afterAll(() => f.close())

/** A cron of a daily one-minute window 12 hours from now: closed now, whatever the time. */
function closedNow(): string {
  const later = new Date(Date.now() + 12 * 3_600_000)
  return `${later.getUTCMinutes()} ${later.getUTCHours()} * * *`
}

describe('maintenanceWindows', () => {
  it('refuses bad windows with a clear 400, and nothing changes', async () => {
    const path = `${armPaths(f.h.sub).set()}${WINDOWS}`
    const none = await f.call('GET', path)
    expect([none.status, none.body.error.code]).toEqual([404, 'ResourceNotFound'])
    const good = { cron: '0 2 * * *', duration: 'PT1H' }
    const bad: [unknown, string, RegExp][] = [
      [
        { timeZone: 'UTC', windows: [{ cron: 'every night', duration: 'PT1H' }] },
        'properties.windows[0].cron',
        /five fields/,
      ],
      [
        { timeZone: 'UTC', windows: [{ cron: '0 25 * * *', duration: 'PT1H' }] },
        'properties.windows[0].cron',
        /Window 1:/,
      ],
      [{ timeZone: 'Mars/Olympus_Mons', windows: [good] }, 'properties.timeZone', /IANA time zone/],
      [
        { timeZone: 'UTC', windows: [{ cron: '0 2 * * *', duration: 'PT0S' }] },
        'properties.windows[0].duration',
        /from PT1S to P7D/,
      ],
      [
        { timeZone: 'UTC', windows: [{ cron: '0 2 * * *', duration: '-PT1H' }] },
        'properties.windows[0].duration',
        /from PT1S to P7D/,
      ],
      [
        { timeZone: 'UTC', windows: [{ cron: '0 2 * * *', duration: 'P8D' }] },
        'properties.windows[0].duration',
        /from PT1S to P7D/,
      ],
      [
        { timeZone: 'UTC', windows: [{ cron: '0 0 30 2 *', duration: 'PT1H' }] },
        'properties.windows[0].cron',
        /never fires/,
      ],
      [
        { timeZone: 'UTC', windows: [good, { cron: '30 2 * * *', duration: 'PT1H' }] },
        'properties.windows[1]',
        /Windows 1 and 2 overlap: window 2 opens at .*T02:30:00.000Z while window 1 is open/,
      ],
      [
        { timeZone: 'UTC', windows: [{ cron: '0 * * * *', duration: 'PT2H' }] },
        'properties.windows[0]',
        /Window 1 overlaps itself/,
      ],
      [
        {
          timeZone: 'Europe/Berlin',
          windows: [{ weekly: 'Sat 02:00-Sun 06:00' }, { weekly: 'Sun 05:00-Sun 08:00' }],
        },
        'properties.windows[1]',
        /overlap/,
      ],
      [
        { timeZone: 'UTC', windows: [{ weekly: 'Sat 02:00-Sat 02:00' }] },
        'properties.windows[0].weekly',
        /end at another time/,
      ],
      [
        { timeZone: 'UTC', windows: [{ weekly: 'Saturday night' }] },
        'properties.windows[0].weekly',
        /such as "Sat 02:00-Sun 06:00"/,
      ],
      [{ timeZone: 'UTC', windows: [] }, 'properties.windows', /1 to 20 windows/],
      [
        { timeZone: 'UTC', windows: [{ cron: '0 2 * * *' }] },
        'properties.windows[0]',
        /this one has cron/,
      ],
      [
        { timeZone: 'UTC', windows: [good], color: 'blue' },
        'properties.color',
        /Unknown maintenanceWindows member 'color'/,
      ],
      [{ windows: [good] }, 'properties.timeZone', /timeZone is required/],
    ]
    for (const [properties, target, message] of bad) {
      const r = await f.call('PUT', path, { properties })
      expect(
        [r.status, r.body.error?.code, r.body.error?.target],
        JSON.stringify(properties),
      ).toEqual([400, 'InvalidParameter', target])
      expect(r.body.error.message).toMatch(message)
    }
    expect((await f.call('GET', path)).status).toBe(404) // nothing was written

    const put = await f.call('PUT', path, {
      properties: { timeZone: 'Europe/Berlin', windows: [{ weekly: 'Sat 02:00–Sun 06:00' }] },
    })
    expect(put.status, JSON.stringify(put.body)).toBe(201)
    expect(put.body).toMatchObject({
      id: `${armPaths(f.h.sub).set().toLowerCase()}${WINDOWS}`,
      name: 'default',
      type: 'Osroll.Upgrades/maintenanceWindows',
      properties: {
        timeZone: 'Europe/Berlin',
        windows: [{ weekly: 'Sat 02:00-Sun 06:00' }],
        status: { open: expect.any(Boolean) },
      },
    })
    // A bad PATCH changes nothing either.
    const patch = await f.call('PATCH', path, { properties: { timeZone: 'Nowhere/Else' } })
    expect(patch.status).toBe(400)
    expect((await f.call('GET', path)).body.properties.timeZone).toBe('Europe/Berlin')
    // A set PUT (a scale) keeps them (saveState).
    const set = await f.call('GET', armPaths(f.h.sub).set())
    const scaled = { ...set.body, sku: { ...set.body.sku, capacity: 4 } }
    expect((await f.call('PUT', armPaths(f.h.sub).set(), scaled)).status).toBe(200)
    expect((await f.call('GET', path)).body.properties.windows).toEqual([
      { weekly: 'Sat 02:00-Sun 06:00' },
    ])
    expect((await f.call('DELETE', path)).status).toBe(200)
    expect((await f.call('DELETE', path)).status).toBe(204)
  })

  it(
    'a rollout outside its window waits and says until when; it goes on once they are removed',
    { timeout: 60_000 },
    async () => {
      const set = armPaths(f.h.sub).set()
      const key = set.toLowerCase()
      const cron = closedNow()
      const cli = await f.osroll(
        'vmss',
        'maintenance-window',
        'set',
        '-g',
        'rg',
        '-n',
        'web',
        '--time-zone',
        'UTC',
        '--cron',
        cron,
        '--duration',
        'PT1M',
      )
      expect(cli.code, cli.stderr).toBe(0)
      expect(JSON.parse(cli.stdout).properties).toMatchObject({
        timeZone: 'UTC',
        windows: [{ cron, duration: 'PT1M' }],
        status: { open: false },
      })
      const unpaired = await f.osroll(
        'vmss',
        'maintenance-window',
        'set',
        '-g',
        'rg',
        '-n',
        'web',
        '--cron',
        cron,
      )
      expect(unpaired.code).not.toBe(0)
      expect(unpaired.stderr).toMatch(/Each --cron needs its --duration/)
      const next = (await f.call('GET', `${set}${WINDOWS}`)).body.properties.status
        .nextOpenAt as string

      // The plan waits for the window too: batch 1 starts when it opens.
      expect(
        (await f.call('PUT', armPaths(f.h.sub).image('1.1.0'), imageBody('sim:?boot=1'))).status,
      ).toBe(201)
      const plan = await waitFor(async () => {
        const p = await f.call('GET', `${set}/providers/Osroll.Upgrades/plans/default`)
        return p.status === 200 && p.body
      }, 'the plan')
      expect(plan.properties.batches[0].window).toEqual({
        estimatedStart: next,
        opensAt: next,
        closesAt: new Date(Date.parse(next) + 60_000).toISOString(),
      })
      expect(plan.properties.worstCaseAssumes).toContain(
        'each batch starts only inside a maintenance window, else waits for the next one',
      )

      const table = await f.osroll(
        'vmss',
        'rolling-upgrade',
        'plan',
        '-g',
        'rg',
        '-n',
        'web',
        '-o',
        'table',
      )
      expect(table.code, table.stderr).toBe(0)
      expect(table.stdout).toMatch(/LatestStart/)
      expect(table.stdout).toContain(next)
      const current = await waitFor(
        async () => {
          const r = await f.call('GET', `${set}${CURRENT}`)
          return (
            r.status === 200 && r.body.properties.waitingForMaintenanceWindow === true && r.body
          )
        },
        'waiting',
        30_000,
      )
      expect(current.properties).toMatchObject({
        runningStatus: { code: 'RollingForward' },
        batchesStarted: 0,
        waitingUntil: next,
        statusMessage: `waiting for maintenance window until ${next}`,
      })
      expect(current.properties.conditions).toContainEqual(
        expect.objectContaining({
          type: 'WaitingForMaintenanceWindow',
          status: 'True',
          reason: 'MaintenanceWindowClosed',
        }),
      )
      const events = await f.h.sys.deps.store.listEvents(current.properties.rolloutId)
      expect(events.find((e) => e.reason === 'MaintenanceWindowClosed')).toMatchObject({
        from: 'RollingForward',
        to: 'WaitingForWindow',
        untilMs: Date.parse(next),
      })
      const metrics = await f.h.call('GET', '/metrics', { apiVersion: null })
      expect(String(metrics.body)).toMatch(
        /osroll_rollout_waiting_for_window\{scale_set="[^"]*web"\} 1/,
      )
      expect(String(metrics.body)).toMatch(/osroll_maintenance_window_waits_total 1/)
      await f.h.settle()
      expect((await f.h.sys.deps.store.getActiveRollout(key))?.batchCount).toBe(0) // still waiting

      // Without windows, batches start at any time: the rollout goes on and completes.
      expect(
        (await f.osroll('vmss', 'maintenance-window', 'delete', '-g', 'rg', '-n', 'web')).code,
      ).toBe(0)
      const done = await waitFor(
        async () => {
          const r = (await f.h.sys.deps.store.listRollouts(key, { limit: 1 }))[0]
          return r?.status === 'Completed' && r
        },
        'completed',
        30_000,
      )
      const all = await f.h.sys.deps.store.listEvents(done.id)
      expect(all.find((e) => e.reason === 'MaintenanceWindowOpened')).toMatchObject({
        from: 'WaitingForWindow',
        to: 'RollingForward',
      })
      expect(String((await f.h.call('GET', '/metrics', { apiVersion: null })).body)).toMatch(
        /osroll_rollout_waiting_for_window\{scale_set="[^"]*web"\} 0/,
      )
    },
  )
})
