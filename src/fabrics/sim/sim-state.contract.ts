/**
 * The contract every SimStateStore passes (STYLE R8): instances round-trip by key and by set,
 * the last of several writes of one instance in a turn wins, removal, and a turn's many writes
 * (a fleet's batch) all land. The memory, SQLite and PostgreSQL implementations run this suite.
 */
import { describe, expect, it } from 'vitest'
import type { SimInstance, SimStateStore } from '../types/sim-state.js'
import { parseSimUri } from './sim-behaviour.js'

export function simInstance(instanceId: string, version = '1.0.0'): SimInstance {
  return {
    instanceId,
    zone: null,
    updateDomain: 0,
    faultDomain: 0,
    disk: {
      serial: `${instanceId}-1`,
      version,
      behaviour: parseSimUri('sim:?boot=0'),
      modelGeneration: 1,
      startedAtMs: 1,
      failedExtension: null,
      extensionNames: [],
    },
    previous: null,
    stopped: false,
    healthOverride: null,
    dataDisks: [{ lun: 0, diskId: `${instanceId}-lun0` }],
    diskCount: 1,
    privateIp: '10.0.0.4',
    healthSource: 'probe',
  }
}

export function runSimStateContract(
  name: string,
  create: () => Promise<{ state: SimStateStore; close: () => Promise<void> }>,
): void {
  const run = async (fn: (state: SimStateStore) => Promise<void>): Promise<void> => {
    const { state, close } = await create()
    try {
      await fn(state)
    } finally {
      await close()
    }
  }

  describe(`SimStateStore contract: ${name}`, () => {
    it('keeps instances by set and key; overwrites and removes', () =>
      run(async (state) => {
        await state.put('/a', simInstance('0'))
        await state.put('/a', simInstance('1'))
        await state.put('/b', simInstance('0', '2.0.0'))
        expect((await state.list('/a')).map((i) => i.instanceId).sort()).toEqual(['0', '1'])
        expect((await state.get('/b', '0'))?.disk.version).toBe('2.0.0')
        await state.put('/a', simInstance('1', '1.1.0'))
        expect((await state.get('/a', '1'))?.disk.version).toBe('1.1.0')
        await state.remove('/a', '0')
        expect(await state.get('/a', '0')).toBeUndefined()
        expect((await state.list('/a')).map((i) => i.instanceId)).toEqual(['1'])
        expect(await state.list('/none')).toEqual([])
      }))

    it("lands a turn's many writes, the last write of an instance winning", () =>
      run(async (state) => {
        const ids = Array.from({ length: 1_100 }, (_, i) => String(i))
        await Promise.all([
          ...ids.map((id) => state.put('/fleet', simInstance(id))),
          ...ids.map((id) => state.put('/fleet', simInstance(id, '1.1.0'))),
        ])
        const all = await state.list('/fleet')
        expect(all).toHaveLength(1_100)
        expect(all.every((i) => i.disk.version === '1.1.0')).toBe(true)
        const got = await Promise.all(ids.slice(0, 50).map((id) => state.get('/fleet', id)))
        expect(got.map((i) => i?.instanceId)).toEqual(ids.slice(0, 50))
      }))
  })
}
