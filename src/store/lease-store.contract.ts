/**
 * Leases and fencing (issue 5): one holder at a time, epochs that only grow, and writes under a
 * fence refused by the database once the lease has moved — the guarantee a paused replica relies
 * on not to corrupt a rollout another replica has taken over.
 */
import { describe, expect, it } from 'vitest'
import type { Store } from './store.js'
import type { LeaseStore } from './lease-store.js'
import { fenceScope } from './lease-store.js'
import { rollout, runner, setState } from './store.contract.js'
import type { Run } from './store.contract.js'

const TTL = 10_000
const change = { from: 'a', to: 'b', reason: 'c' }
const protectedInstance = {
  instanceId: '0',
  protectFromScaleIn: true,
  protectFromScaleSetActions: false,
  osUpgradePending: false,
  osUpgradeApproved: false,
}

export function runLeaseStoreContract(
  name: string,
  create: () => Promise<{ store: Store & LeaseStore; close: () => Promise<void> }>,
): void {
  const run = runner(create)
  describe(`LeaseStore contract: ${name}`, () => {
    leaseCases(run)
    fenceCases(run)
    replicaCases(run)
  })
}

/** One holder at a time, epochs that only grow, a release handed over at once. */
function leaseCases(run: Run<Store & LeaseStore>): void {
  it('grants a lease to one holder until it expires, with a growing epoch', () =>
    run(async (store) => {
      expect(await store.acquireLease('k', 'a', 1_000, TTL)).toEqual({
        key: 'k',
        holder: 'a',
        epoch: 1,
        expiresAtMs: 11_000,
      })
      expect(await store.acquireLease('k', 'b', 10_999, TTL)).toBeNull()
      expect(await store.renewLeases('a', ['k'], 5_000, TTL)).toEqual(['k'])
      expect(await store.acquireLease('k', 'b', 14_999, TTL)).toBeNull()
      const taken = await store.acquireLease('k', 'b', 15_000, TTL)
      expect(taken).toMatchObject({ holder: 'b', epoch: 2, expiresAtMs: 25_000 })
      // The old holder cannot renew what it lost; the new one can.
      expect(await store.renewLeases('a', ['k'], 15_001, TTL)).toEqual([])
      expect(await store.renewLeases('b', ['k', 'other'], 15_001, TTL)).toEqual(['k'])
      expect(await store.listLeases()).toEqual([
        { key: 'k', holder: 'b', epoch: 2, expiresAtMs: 25_001 },
      ])
    }))

  it('hands a released lease over at once, keeping the epoch growing', () =>
    run(async (store) => {
      await store.acquireLease('k', 'a', 0, TTL)
      await store.releaseLease('k', 'b') // not b's: nothing happens
      expect(await store.acquireLease('k', 'b', 1, TTL)).toBeNull()
      await store.releaseLease('k', 'a')
      expect(await store.acquireLease('k', 'b', 1, TTL)).toMatchObject({ holder: 'b', epoch: 2 })
    }))
}

/** Writes under a fence whose lease moved are refused by the database. */
function fenceCases(run: Run<Store & LeaseStore>): void {
  it('refuses every write under a fence whose lease moved, and changes nothing', () =>
    run(async (store) => {
      const key =
        '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachineScaleSets/f'
      const saved = await store.putScaleSet(setState(key), null)
      const r = rollout('r1', key, 0)
      const a = await store.acquireLease(key, 'a', 0, TTL)
      expect(a?.epoch).toBe(1)
      const fenceA = { key, holder: 'a', epoch: 1 }
      // The holder writes under its fence.
      await fenceScope.run(fenceA, () => store.createRollout(r))
      const s1 = await fenceScope.run(fenceA, () =>
        store.putScaleSet({ ...saved, nextInstanceId: 1 }, saved.revision),
      )
      // a is paused; its lease expires and b takes over.
      expect(await store.acquireLease(key, 'b', TTL + 1, TTL)).toMatchObject({ epoch: 2 })
      const lost = { code: 'LeaseLost' }
      await expect(
        fenceScope.run(fenceA, () => store.putScaleSet({ ...s1, nextInstanceId: 9 }, s1.revision)),
      ).rejects.toMatchObject(lost)
      await expect(
        fenceScope.run(fenceA, () => store.saveRollout({ ...r, revision: 2 }, 1)),
      ).rejects.toMatchObject(lost)
      await expect(
        fenceScope.run(fenceA, () =>
          store.appendEvents([
            { rolloutId: 'r1', scaleSetKey: key, atMs: 1, instanceId: null, ...change },
          ]),
        ),
      ).rejects.toMatchObject(lost)
      await expect(
        fenceScope.run(fenceA, () => store.pruneRollouts(key, { beforeMs: 1e15, keepLast: 0 })),
      ).rejects.toMatchObject(lost)
      await expect(
        fenceScope.run(fenceA, () => store.putInstanceRecords(key, [protectedInstance])),
      ).rejects.toMatchObject(lost)
      // Nothing a refused write tried is there.
      expect((await store.getScaleSet(key))?.nextInstanceId).toBe(1)
      expect((await store.getRollout('r1'))?.revision).toBe(r.revision)
      expect(await store.listEvents('r1')).toEqual([])
      expect(await store.listInstanceRecords(key)).toEqual([])
      // The new holder writes; so does the API, which writes without a fence.
      await fenceScope.run({ key, holder: 'b', epoch: 2 }, () =>
        store.putScaleSet({ ...s1, nextInstanceId: 2 }, s1.revision),
      )
      expect((await store.getScaleSet(key))?.nextInstanceId).toBe(2)
      // A fence for a set nobody holds is refused too.
      await expect(
        fenceScope.run({ key: 'nobody', holder: 'a', epoch: 1 }, () =>
          store.putScaleSet(setState('nobody'), null),
        ),
      ).rejects.toMatchObject(lost)
      expect(await store.getScaleSet('nobody')).toBeUndefined()
    }))
}

/** Replicas counted by heartbeat. */
function replicaCases(run: Run<Store & LeaseStore>): void {
  it('counts the replicas seen within the lease time', () =>
    run(async (store) => {
      expect(await store.heartbeat('a', 1_000, TTL)).toBe(1)
      expect(await store.heartbeat('b', 5_000, TTL)).toBe(2)
      expect(await store.heartbeat('b', 11_500, TTL)).toBe(1) // a last seen at 1,000
      await store.leaveReplicas('b')
      expect(await store.heartbeat('a', 11_600, TTL)).toBe(1)
    }))
}
