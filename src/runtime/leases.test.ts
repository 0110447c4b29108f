import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../test-support/manual-clock.js'
import { openSqliteStore } from '../store/sqlite/open-sqlite.js'
import { silentLogger } from './logger.js'
import { LeaseManager } from './leases.js'
import type { SqlStore } from '../store/sql/sql-store.js'

const KEYS = Array.from({ length: 10 }, (_, i) => `set-${i}`)

function manager(store: SqlStore, clock: ManualClock, id: string, acquired: string[]) {
  return new LeaseManager({
    store,
    replicaId: id,
    clock,
    log: silentLogger,
    ttlMs: 10_000,
    listKeys: async () => KEYS,
    onAcquired: (k) => acquired.push(k),
    canRelease: () => true,
  })
}

describe('LeaseManager', () => {
  it('spreads sets over replicas, hands over to a joiner and takes over from a dead one', async () => {
    const store = await openSqliteStore(':memory:')
    const clock = new ManualClock(1_000)
    const gotA: string[] = []
    const gotB: string[] = []
    const a = manager(store, clock, 'a', gotA)
    const b = manager(store, clock, 'b', gotB)
    await a.tick()
    expect(a.heldKeys()).toEqual(KEYS)
    expect(gotA).toHaveLength(10)
    expect(a.fence('set-3')).toEqual({ key: 'set-3', holder: 'a', epoch: 1 })

    // b joins: nothing is free yet; a sees two replicas and hands half over; b takes them.
    await b.tick()
    expect(b.heldKeys()).toEqual([])
    clock.advanceTo(2_000)
    await a.tick()
    expect(a.heldKeys()).toHaveLength(5)
    await b.tick()
    expect(b.heldKeys()).toHaveLength(5)
    expect(new Set([...a.heldKeys(), ...b.heldKeys()])).toEqual(new Set(KEYS))
    for (const k of b.heldKeys()) expect(b.fence(k)?.epoch).toBe(2)
    expect(b.fence(a.heldKeys()[0] as string)).toBeNull()

    // a dies (stops renewing). Until its leases expire b cannot take them, then it takes all.
    clock.advanceTo(11_000)
    await b.tick()
    expect(b.heldKeys()).toHaveLength(5)
    expect(a.fence(a.heldKeys()[0] as string)).not.toBeNull()
    clock.advanceTo(12_001)
    expect(a.fence(a.heldKeys()[0] as string)).toBeNull() // its own view: expired
    await b.tick()
    expect(b.heldKeys()).toEqual(KEYS)
    expect(gotB).toHaveLength(10)

    // a wakes up: its renewal fails, it lets go of everything.
    await a.tick()
    expect(a.heldKeys()).toEqual([])
    await store.close()
  })
})
