/**
 * Size limits of `src/` (issue 17, docs/architecture.md § Size limits): no file over 400 lines
 * and no function over 70, measured with the TypeScript compiler on every file but `*.test.ts`.
 * A function is a declaration, method, accessor, constructor, arrow or function expression; its
 * lines run from its first token (after its doc comment) to its last, nested functions included,
 * and each nested one is measured on its own too. The exceptions are the lists below, each entry
 * with its reason; an entry that no longer names an offender fails the test, so none goes stale.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const SRC = resolve(import.meta.dirname, '../../src')
const MAX_FILE_LINES = 400
const MAX_FUNCTION_LINES = 70

/**
 * A file (`fn` absent: its length) or a function of it (`fn`: its label, see {@link labelOf})
 * allowed over the limit.
 */
type Entry = Readonly<{ file: string; fn?: string }>

/**
 * Allowed for good. The SQL migrations are a list of schema steps, each a block of DDL written
 * once and never changed (a migration shipped is history): splitting them would only scatter it.
 */
const EXEMPT_DIRS: readonly string[] = ['src/store/migrations/']

/**
 * Declarative tables allowed over the limit, each with why it is one table and not logic. None
 * today: the CLI's registrations are one function per command, and the metrics one per concern.
 */
const EXEMPT: readonly (Entry & { why: string })[] = []

/** One thing over its limit: `file:line`, what it is and how long. */
type Offender = Readonly<{ file: string; line: number; fn?: string; lines: number }>

describe('sizes of src/', () => {
  const offenders = measure()
  const allowed = (o: Offender, entries: readonly Entry[]) =>
    entries.some((e) => e.file === o.file && e.fn === o.fn)

  it(`has no file over ${MAX_FILE_LINES} lines and no function over ${MAX_FUNCTION_LINES}`, () => {
    const over = offenders
      .filter((o) => !EXEMPT_DIRS.some((dir) => o.file.startsWith(dir)))
      .filter((o) => !allowed(o, EXEMPT))
      .map(describeOffender)
    expect(over, 'split these (docs/architecture.md § Size limits)').toEqual([])
  })

  it('lists in EXEMPT only what is still over the limit', () => {
    const stale = [...EXEMPT]
      .filter((e) => !offenders.some((o) => o.file === e.file && o.fn === e.fn))
      .map((e) => (e.fn === undefined ? e.file : `${e.file} ${e.fn}`))
    expect(stale, 'no longer over the limit: remove these entries').toEqual([])
  })

  it('measures what it says (a self-check of the measure on a made-up file)', () => {
    const body = Array.from({ length: MAX_FUNCTION_LINES - 2 }, (_, i) => `  f(${i})`).join('\n')
    const text = [
      `export function fits(): void {\n${body}\n}`,
      `function tooLong(): void {\n${body}\n  f()\n}`,
      `const arrow = () => {\n${body}\n  f()\n}`,
      `class C {\n  method(): void {\n  ${body}\n  f()\n  }\n}`,
      `describe('x', () => {\n${body}\n  f()\n})`,
      ...Array.from({ length: 60 }, () => '// filler, to take the file over its limit'),
    ].join('\n')
    const found = measureFile('src/x.ts', text).map(describeOffender)
    expect(found).toEqual([
      'src/x.ts:1 file (416 lines)',
      // `fits` (lines 1–70) is exactly at the limit: not an offender.
      'src/x.ts:71 tooLong (71 lines)',
      'src/x.ts:142 arrow (71 lines)',
      'src/x.ts:214 C.method (71 lines)',
      'src/x.ts:286 describe() (71 lines)',
    ])
  })
})

function describeOffender(o: Offender): string {
  return `${o.file}:${o.line} ${o.fn ?? 'file'} (${o.lines} lines)`
}

/** Every file and function of `src/` over its limit. */
function measure(): Offender[] {
  const found: Offender[] = []
  for (const abs of walk(SRC)) {
    const file = `src/${relative(SRC, abs).split(sep).join('/')}`
    found.push(...measureFile(file, readFileSync(abs, 'utf8')))
  }
  return found
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const abs = join(dir, entry.name)
    if (entry.isDirectory()) yield* walk(abs)
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) yield abs
  }
}

/** The file (as `wc -l` counts it) and its functions, where over the limit. */
function measureFile(file: string, text: string): Offender[] {
  const found: Offender[] = []
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0)
  if (lines > MAX_FILE_LINES) found.push({ file, line: 1, lines })
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const lineOf = (pos: number) => sf.getLineAndCharacterOfPosition(pos).line + 1
  const visit = (node: ts.Node): void => {
    if (isFunction(node)) {
      const first = lineOf(node.getStart(sf))
      const length = lineOf(node.getEnd()) - first + 1
      if (length > MAX_FUNCTION_LINES)
        found.push({ file, line: first, fn: labelOf(node, sf), lines: length })
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  return found
}

type FunctionNode =
  | ts.FunctionDeclaration
  | ts.MethodDeclaration
  | ts.ConstructorDeclaration
  | ts.GetAccessorDeclaration
  | ts.SetAccessorDeclaration
  | ts.ArrowFunction
  | ts.FunctionExpression

function isFunction(node: ts.Node): node is FunctionNode {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node) ||
    ts.isArrowFunction(node) ||
    ts.isFunctionExpression(node)
  )
}

/**
 * A name for a function that survives edits elsewhere in its file (line numbers do not): its own
 * name, `Class.method`, the variable or property it is assigned to, or, for a callback, the call
 * it is passed to (`describe()`), after the label of the function around it:
 * `runStoreContract › describe() › it()`.
 */
function labelOf(node: ts.Node, sf: ts.SourceFile): string {
  const own = ownName(node, sf)
  let outer: ts.Node | undefined = node.parent
  while (outer !== undefined && !isFunction(outer)) outer = outer.parent
  return outer === undefined ? own : `${labelOf(outer, sf)} › ${own}`
}

function ownName(node: ts.Node, sf: ts.SourceFile): string {
  const p = node.parent
  if (ts.isConstructorDeclaration(node)) return `${classOf(node)}.constructor`
  if (
    ts.isMethodDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  )
    return ts.isClassLike(p) ? `${classOf(node)}.${node.name.getText(sf)}` : node.name.getText(sf)
  if ((ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node)) && node.name)
    return node.name.text
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p))
    return p.name.getText(sf)
  if (ts.isCallExpression(p)) {
    const callee = p.expression
    const name = ts.isPropertyAccessExpression(callee) ? callee.name.text : callee.getText(sf)
    return `${name}()`
  }
  return 'function'
}

function classOf(node: ts.ClassElement): string {
  const c = node.parent
  return ts.isClassLike(c) && c.name ? c.name.text : 'class'
}
