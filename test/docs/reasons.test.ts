/**
 * docs/rollouts.md § Reason catalogue lists exactly the catalogue's codes, with their kind and
 * signal: the page users read is the list the code checks against.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { REASONS } from '../../src/core/rollout/reasons.js'

const page = readFileSync(join(import.meta.dirname, '../../docs/rollouts.md'), 'utf8')

describe('docs/rollouts.md § Reason catalogue', () => {
  it('lists every code of the catalogue, and no other', () => {
    const start = page.indexOf('\n## Reason catalogue')
    const end = page.indexOf('\n## ', start + 1)
    const section = page.slice(start, end === -1 ? undefined : end)
    const rows = [...section.matchAll(/^\| `([^`]+)`\s*\|\s*(\w+)\s*\|\s*(\w+)\s*\|/gm)].map(
      (m) => ({
        code: m[1]!.replace('Batch<N>Soak', 'BatchSoak').replace('Batch<N>', 'Batch'),
        kind: m[2],
        signal: m[3],
      }),
    )
    expect(rows).toEqual(
      Object.entries(REASONS).map(([code, e]) => ({ code, kind: e.kind, signal: e.signal })),
    )
  })
})
