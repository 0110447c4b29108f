/**
 * Operating errors come from the one catalogue, `Errors` in src/errors.ts (STYLE R11): no file
 * of `src/` constructs an `AppError` itself, so every code keeps its one status and retryable
 * flag. src/arm/arm.ts's `problemsError` is the exception: it builds an error with details.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import { describe, expect, it } from 'vitest'

const SRC = resolve(import.meta.dirname, '../../src')
const ALLOWED = new Set(['errors.ts', 'arm/arm.ts'])

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const abs = join(dir, entry.name)
    if (entry.isDirectory()) yield* walk(abs)
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) yield abs
  }
}

/** Each `file:line` of `src/` (outside ALLOWED) that says `new AppError(`. */
function directConstructions(): string[] {
  const found: string[] = []
  for (const abs of walk(SRC)) {
    const file = relative(SRC, abs).split(sep).join('/')
    if (ALLOWED.has(file)) continue
    readFileSync(abs, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/\bnew\s+AppError\s*\(/.test(line)) found.push(`src/${file}:${i + 1}`)
      })
  }
  return found
}

describe('errors', () => {
  it('constructs AppError only in src/errors.ts (and arm.ts problemsError)', () => {
    expect(directConstructions(), 'use a named constructor of Errors (src/errors.ts)').toEqual([])
  })
})
