/**
 * The per-set extension resources (upgradeSettings, healthGates, lifecycleHooks,
 * maintenanceWindows) are fields of one scale set state (services/set-extension.ts): a PUT of
 * each in turn keeps every other one as it was, and so does a PUT of the set itself, which carries
 * them all over (services/set-fields.ts). Two rounds, so a write that put back an older value of
 * another extension would show too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { armPaths, autoUpgradeSetBody } from '../../test-support/arm-fixtures.js'
import { servedSimFleet } from '../../test-support/served-fleet.js'
import type { ServedFleet } from '../../test-support/served-fleet.js'

let f: ServedFleet
beforeAll(async () => {
  f = await servedSimFleet({ capacity: 2 })
})
afterAll(() => f.close())

const NAMES = ['upgradeSettings', 'healthGates', 'lifecycleHooks', 'maintenanceWindows'] as const
type Name = (typeof NAMES)[number]

/** Round `r`'s body of each: the values differ from round to round. */
const bodyOf = (name: Name, r: number): unknown =>
  ({
    upgradeSettings: { properties: { healthDeadline: `PT${r + 1}M`, adaptiveRamp: r === 1 } },
    healthGates: {
      properties: {
        gates: [{ name: `ask${r}`, kind: 'webhook', url: `http://127.0.0.1:9/g${r}` }],
      },
    },
    lifecycleHooks: {
      properties: {
        preReimage: {
          url: `http://127.0.0.1:9/pre${r}`,
          timeout: 'PT1S',
          defaultAction: 'continue',
        },
      },
    },
    maintenanceWindows: {
      properties: { timeZone: 'UTC', windows: [{ cron: `0 ${r + 2} * * *`, duration: 'PT1H' }] },
    },
  })[name]

/** A resource as read back, without what depends on the time it is read (a window's status). */
const stable = (body: { properties?: Record<string, unknown> }) => {
  const { status: _status, ...properties } = body.properties ?? {}
  return { ...body, properties }
}

describe('per-set extensions', () => {
  it('a PUT of each extension in turn, and of the set, keeps every other one', async () => {
    const set = armPaths(f.h.sub).set()
    const path = (name: Name) => `${set}/providers/Osroll.Upgrades/${name}/default`
    const shown = new Map<Name, unknown>()
    const expectAll = async (after: string) => {
      for (const name of NAMES) {
        const got = await f.call('GET', path(name))
        const want = shown.get(name)
        if (want === undefined) expect([after, name, got.status]).toEqual([after, name, 404])
        else expect([after, name, got.status, stable(got.body)]).toEqual([after, name, 200, want])
      }
    }
    await expectAll('nothing yet')
    for (let r = 0; r < 2; r++) {
      for (const name of NAMES) {
        const put = await f.call('PUT', path(name), bodyOf(name, r))
        expect([name, put.status]).toEqual([name, r === 0 ? 201 : 200])
        shown.set(name, stable(put.body))
        await expectAll(`PUT ${name}, round ${r}`)
      }
      const again = await f.call(
        'PUT',
        set,
        // A tag that changes: a PUT of the same body would write nothing.
        {
          ...autoUpgradeSetBody({ sub: f.h.sub, capacity: 2, probe: 'tcp' }),
          tags: { round: `${r}` },
        },
      )
      expect(again.status).toBe(200)
      await expectAll(`PUT of the set, round ${r}`)
    }
  })
})
