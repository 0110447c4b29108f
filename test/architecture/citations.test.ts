/**
 * Comments in `src/` cite the project's own docs, never the spec that is not in the repository
 * (issue 17 §8): no `SPEC §` anywhere in `src/`, and every `docs/<file>.md R<n>` or
 * `docs/<file>.md § <Heading>` names a doc that exists and a heading it has (`## R<n>.` for a
 * rule of docs/rollouts.md). A citation may go on with `, R<m>`, `–R<m>` or `, § <Other heading>`
 * of the same doc; each is checked.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '../..')
const SRC = join(ROOT, 'src')

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const abs = join(dir, entry.name)
    if (entry.isDirectory()) yield* walk(abs)
    else if (entry.name.endsWith('.ts')) yield abs
  }
}

interface Line {
  where: string
  text: string
}

function srcLines(): Line[] {
  const lines: Line[] = []
  for (const abs of walk(SRC)) {
    const file = relative(ROOT, abs).split(sep).join('/')
    readFileSync(abs, 'utf8')
      .split('\n')
      .forEach((text, i) => lines.push({ where: `${file}:${i + 1}`, text }))
  }
  return lines
}

const headingsCache = new Map<string, string[] | undefined>()

/** The heading texts of docs/<name>.md (any level), or undefined when the file is missing. */
function headings(name: string): string[] | undefined {
  if (!headingsCache.has(name)) {
    const path = join(ROOT, 'docs', `${name}.md`)
    headingsCache.set(
      name,
      existsSync(path)
        ? readFileSync(path, 'utf8')
            .split('\n')
            .flatMap((l) => {
              const m = /^#{1,6}\s+(.*?)\s*$/.exec(l)
              return m?.[1] === undefined ? [] : [m[1]]
            })
        : undefined,
    )
  }
  return headingsCache.get(name)
}

/** What is wrong with the citations on one line of source, one message per bad citation. */
export function checkLine(
  text: string,
  lookup: (name: string) => string[] | undefined = headings,
): string[] {
  const problems: string[] = []
  if (text.includes('SPEC §')) problems.push('cites SPEC §, which is not in the repository')
  for (const m of text.matchAll(/docs\/([\w-]+)\.md/g)) {
    const name = m[1] ?? ''
    const found = lookup(name)
    if (found === undefined) {
      problems.push(`docs/${name}.md does not exist`)
      continue
    }
    let rest = text.slice((m.index ?? 0) + m[0].length)
    for (;;) {
      const sepMatch = /^(?:,\s*|\s*[–-]\s*|\s+and\s+|\s+)/.exec(rest)
      const after = sepMatch === null ? rest : rest.slice(sepMatch[0].length)
      const rule = /^R(\d+)(?:\.\d+)?\b/.exec(after)
      if (rule !== null) {
        if (!found.some((h) => h.startsWith(`R${rule[1]}.`)))
          problems.push(`docs/${name}.md has no heading "## R${rule[1]}."`)
        rest = after.slice(rule[0].length)
        continue
      }
      if (after.startsWith('§ ')) {
        const cited = after.slice(2)
        const heading = found
          .filter((h) => cited.startsWith(h) && !/^[\w]/.test(cited.slice(h.length)))
          .sort((a, b) => b.length - a.length)[0]
        if (heading === undefined) {
          problems.push(`docs/${name}.md has no heading that "§ ${cited.trim()}" begins with`)
          break
        }
        rest = cited.slice(heading.length)
        continue
      }
      break
    }
  }
  return problems
}

describe('citations in src/ (issue 17 §8)', () => {
  it('cite docs that exist, by headings they have, and never SPEC §', () => {
    const bad = srcLines().flatMap(({ where, text }) =>
      checkLine(text).map((p) => `${where}: ${p}`),
    )
    expect(bad).toEqual([])
  })

  it('the check catches a bad citation', () => {
    const docs = (name: string) =>
      name === 'rollouts' ? ['How a rollout works', 'R1. What starts a rollout'] : undefined
    expect(checkLine('/** see SPEC §4.3 */', docs)).toHaveLength(1)
    expect(checkLine('// docs/rollouts.md R1, R2', docs)).toEqual([
      'docs/rollouts.md has no heading "## R2."',
    ])
    expect(checkLine('// docs/nowhere.md § Anything', docs)).toEqual([
      'docs/nowhere.md does not exist',
    ])
    expect(checkLine('// (docs/rollouts.md § How a rollout works)', docs)).toEqual([])
    expect(checkLine('// (docs/rollouts.md § How rollouts fail)', docs)).toHaveLength(1)
    expect(checkLine('// docs/rollouts.md R1.4', docs)).toEqual([])
  })
})
