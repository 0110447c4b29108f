import { describe, expect, it } from 'vitest'
import { ReadBatcher } from './read-batcher.js'

describe('ReadBatcher', () => {
  it('reads asked for in one turn become one fetch per group; later ones a new fetch', async () => {
    const fetches: [string, string[]][] = []
    const b = new ReadBatcher<string>(async (group, ids) => {
      fetches.push([group, [...ids]])
      return new Map(ids.filter((id) => id !== 'missing').map((id) => [id, `${group}/${id}`]))
    })
    const [x, y, z, many, missing] = await Promise.all([
      b.get('a', '1'),
      b.get('a', '2'),
      b.get('b', '1'),
      b.getMany('a', ['2', '3', 'missing']),
      b.get('a', 'missing'),
    ])
    expect([x, y, z, missing]).toEqual(['a/1', 'a/2', 'b/1', undefined])
    expect(many).toEqual(['a/2', 'a/3'])
    expect(fetches).toEqual([
      ['a', ['1', '2', '3', 'missing']],
      ['b', ['1']],
    ])
    expect(await b.get('a', '1')).toBe('a/1')
    expect(fetches).toHaveLength(3)
  })

  it('a failed fetch fails every read of its batch, and only those', async () => {
    let fail = true
    const b = new ReadBatcher<number>(async (_g, ids) => {
      if (fail) throw new Error('connection terminated')
      return new Map(ids.map((id) => [id, Number(id)]))
    })
    const results = await Promise.allSettled([b.get('s', '1'), b.getMany('s', ['2'])])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    fail = false
    expect(await b.get('s', '7')).toBe(7)
  })
})
