/**
 * The contract every LocalStateStore passes (STYLE R8): records round-trip by key, by set, in
 * batches and across sets; removal and overwrite. The memory, SQLite and PostgreSQL
 * implementations run this same suite.
 */
import { describe, expect, it } from 'vitest'
import type { LocalInstance, LocalStateStore } from '../types/local-state.js'

export function record(scaleSetKey: string, instanceId: string, pid = 100): LocalInstance {
  const disk = {
    n: 1,
    digest: `sha256-${'a'.repeat(64)}`,
    version: '1.0.0',
    label: 'web:1.0.0',
    modelGeneration: 1,
    startedAtMs: 1,
    customDataDone: false,
  }
  return {
    scaleSetKey,
    instanceId,
    zone: null,
    updateDomain: 0,
    faultDomain: 0,
    privateIp: `127.77.0.${Number(instanceId) + 1}`,
    computerName: `web00000${instanceId}`,
    disk,
    previous: null,
    process: { pid, startTicks: 42 },
    wantRunning: true,
    provisioning: { state: 'succeeded', error: null, extensions: [] },
    extensions: [],
    extensionsTimeBudgetMs: 5_400_000,
    dataDisks: [{ lun: 0, diskId: 'lun0-x' }],
    healthCheck: null,
    customData: null,
  }
}

export function runLocalStateContract(
  name: string,
  create: () => Promise<{ state: LocalStateStore; close: () => Promise<void> }>,
): void {
  const run = async (fn: (state: LocalStateStore) => Promise<void>): Promise<void> => {
    const { state, close } = await create()
    try {
      await fn(state)
    } finally {
      await close()
    }
  }
  describe(`LocalStateStore contract: ${name}`, () => {
    it('puts, reads by key, by set, in one batch and across sets; overwrites; removes', () =>
      run(async (state) => {
        for (const id of ['0', '1', '2']) await state.put(record('/a', id))
        await state.put(record('/b', '0'))
        expect(await state.get('/a', '1')).toEqual(record('/a', '1'))
        expect(await state.get('/a', '9')).toBeUndefined()
        expect((await state.list('/a')).map((i) => i.instanceId).sort()).toEqual(['0', '1', '2'])
        expect(await state.listAll()).toHaveLength(4)
        const some = await state.getMany('/a', ['2', '0', '7'])
        expect(some.map((i) => i.instanceId).sort()).toEqual(['0', '2'])
        expect(await state.getMany('/a', [])).toEqual([])
        expect(await state.getMany('/c', ['0'])).toEqual([])
        await state.put(record('/a', '1', 555))
        expect((await state.get('/a', '1'))?.process?.pid).toBe(555)
        await state.remove('/a', '1')
        expect(await state.get('/a', '1')).toBeUndefined()
        expect(await state.get('/b', '0')).toEqual(record('/b', '0'))
      }))
  })
}
