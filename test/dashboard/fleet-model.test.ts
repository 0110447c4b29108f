/** The fleet pictures' model (dashboard/src/fleet-model.ts), without a browser. */
import { describe, expect, it } from 'vitest'
import { fleetAdoption, setAdoption, versionMatrix } from '../../dashboard/src/fleet-model.js'
import type { AdoptionPoint } from '../../dashboard/src/fleet-model.js'

describe('versionMatrix', () => {
  it('gives each set its share per version, oldest version first, and the fleet its own', () => {
    const m = versionMatrix([
      { setId: 'a', name: 'web', versions: { '1.10.0': 1, '1.9.0': 3 } },
      { setId: 'b', name: 'api', versions: { '1.10.0': 4 } },
    ])
    expect(m.versions).toEqual(['1.9.0', '1.10.0'])
    expect(m.rows.map((r) => [r.name, r.total, r.cells.map((c) => c.share)])).toEqual([
      ['web', 4, [0.75, 0.25]],
      ['api', 4, [0, 1]],
    ])
    expect(m.fleet).toEqual({
      total: 8,
      cells: [
        { n: 3, share: 0.375 },
        { n: 5, share: 0.625 },
      ],
    })
  })
  it('shares are 0, not NaN, for a set without instances', () => {
    const m = versionMatrix([{ setId: 'a', name: 'empty', versions: {} }])
    expect(m.fleet).toEqual({ total: 0, cells: [] })
  })
})

describe('adoption', () => {
  it('undoes each success back from what the instances run now', () => {
    const points = setAdoption(
      { '0': '1.1.0', '1': '1.1.0', '2': '1.0.0' },
      [
        {
          target: '1.1.0',
          startMs: 100,
          moves: [
            { instanceId: '0', atMs: 110 },
            { instanceId: '1', atMs: 120 },
          ],
        },
      ],
      200,
    )
    expect(points).toEqual([
      { atMs: 100, counts: { '1.0.0': 3 } },
      { atMs: 110, counts: { '1.1.0': 1, '1.0.0': 2 } },
      { atMs: 120, counts: { '1.1.0': 2, '1.0.0': 1 } },
      { atMs: 200, counts: { '1.1.0': 2, '1.0.0': 1 } },
    ])
  })
  it('takes the previous rollout target when every instance moved', () => {
    const points = setAdoption(
      { '0': '2.0.0' },
      [
        { target: '2.0.0', startMs: 50, moves: [{ instanceId: '0', atMs: 60 }] },
        { target: '1.0.0', startMs: 10, moves: [{ instanceId: '0', atMs: 20 }] },
      ],
      100,
    )
    expect(points.map((p) => [p.atMs, p.counts])).toEqual([
      [10, { earlier: 1 }],
      [20, { '1.0.0': 1 }],
      [50, { '1.0.0': 1 }],
      [60, { '2.0.0': 1 }],
      [100, { '2.0.0': 1 }],
    ])
  })
  it('sums the sets into the fleet share per version at every change', () => {
    const a: AdoptionPoint[] = [
      { atMs: 0, counts: { '1.0.0': 2 } },
      { atMs: 10, counts: { '1.1.0': 2 } },
    ]
    const b: AdoptionPoint[] = [{ atMs: 5, counts: { '1.0.0': 2 } }]
    expect(fleetAdoption([a, b])).toEqual({
      times: [0, 5, 10],
      versions: ['1.0.0', '1.1.0'],
      series: { '1.0.0': [1, 1, 0.5], '1.1.0': [0, 0, 0.5] },
    })
  })
})
