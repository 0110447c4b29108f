/**
 * The import graph of `src/`, read with the TypeScript compiler's own import scanner (every
 * `import`, `import type`, `export … from` and dynamic `import()`), and the two checks of
 * docs/architecture.md § Layers: no import circle, and no import from a lower layer to a higher
 * one. `eslint.config.js` enforces the same rules file by file; this sees the whole graph.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import ts from 'typescript'

/** A file of `src/`, relative to `src/` with forward slashes: `store/sql/sql-store.ts`. */
export type SrcFile = string

export type ImportGraph = ReadonlyMap<SrcFile, readonly SrcFile[]>

/** Files that are not part of the program: tests and contract suites (they may reach across). */
export function isTestFile(f: SrcFile): boolean {
  return /\.(test|contract)\.ts$/.test(f)
}

/** The relative imports of every non-test `.ts` file under `srcDir`. */
export function readImportGraph(srcDir: string): ImportGraph {
  const root = resolve(srcDir)
  const graph = new Map<SrcFile, SrcFile[]>()
  for (const abs of walk(root)) {
    const file = toSrc(root, abs)
    if (isTestFile(file)) continue
    const info = ts.preProcessFile(readFileSync(abs, 'utf8'), true, true)
    const targets = info.importedFiles
      .map((i) => i.fileName)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => toSrc(root, resolve(dirname(abs), spec.replace(/\.js$/, '.ts'))))
      // package.json (the CLI's --version) is data, not a module of a layer.
      .filter((target) => !target.startsWith('../'))
    graph.set(file, [...new Set(targets)].sort())
  }
  return graph
}

/**
 * Every import circle, each once, as the path that closes it (Tarjan's strongly connected
 * components: a component of two or more files, or a file importing itself, is a circle).
 * @example findCycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['a.ts']]])) → [['a.ts', 'b.ts']]
 */
export function findCycles(graph: ImportGraph): SrcFile[][] {
  const index = new Map<SrcFile, number>()
  const low = new Map<SrcFile, number>()
  const onStack = new Set<SrcFile>()
  const stack: SrcFile[] = []
  const cycles: SrcFile[][] = []
  let next = 0
  const visit = (v: SrcFile): void => {
    index.set(v, next)
    low.set(v, next)
    next++
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
      }
    }
    if (low.get(v) !== index.get(v)) return
    const component: SrcFile[] = []
    for (;;) {
      const w = stack.pop() as SrcFile
      onStack.delete(w)
      component.push(w)
      if (w === v) break
    }
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort())
  }
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v)
  return cycles
}

/**
 * A layer: the files it holds (path prefixes under `src/`) and the layers it may import besides
 * itself. Lists, not ranks, so two layers side by side (the store and the fabrics) can be kept
 * apart as firmly as a lower one from a higher one.
 */
export type Layer = Readonly<{ name: string; holds: readonly string[]; imports: readonly string[] }>

/** The layer holding a file: the one whose longest prefix matches it. */
export function layerOf(layers: readonly Layer[], f: SrcFile): Layer | undefined {
  let best: { layer: Layer; length: number } | undefined
  for (const layer of layers)
    for (const prefix of layer.holds)
      if (f.startsWith(prefix) && (!best || prefix.length > best.length))
        best = { layer, length: prefix.length }
  return best?.layer
}

/** Every import a layer does not allow, as `from → to (layer → layer)`. */
export function layerViolations(graph: ImportGraph, layers: readonly Layer[]): string[] {
  const out: string[] = []
  for (const [from, targets] of graph) {
    const a = layerOf(layers, from)
    for (const to of targets) {
      const b = layerOf(layers, to)
      if (!a || !b) {
        out.push(`${from} → ${to}: ${a ? to : from} is in no layer`)
        continue
      }
      if (a !== b && !a.imports.includes(b.name))
        out.push(`${from} → ${to} (${a.name} → ${b.name})`)
    }
  }
  return out.sort()
}

function* walk(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) yield* walk(p)
    else if (e.name.endsWith('.ts')) yield p
  }
}

function toSrc(root: string, abs: string): SrcFile {
  return relative(root, abs).split(sep).join('/')
}
