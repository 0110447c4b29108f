import { describe, expect, it } from 'vitest'
import type { Layer } from './import-graph.js'
import { findCycles, layerOf, layerViolations, readImportGraph } from './import-graph.js'

/**
 * The layers of docs/architecture.md § Layers, top to bottom, with what each may import besides
 * itself. `eslint.config.js` holds the same rules as `no-restricted-imports` patterns.
 */
const LAYERS: readonly Layer[] = [
  {
    name: 'cli',
    // The commands that do not talk to a server: `serve` and `demo` start one through main,
    // `token create` writes the data dir's store, `image sample` (and the demo's fabric) builds
    // an image locally; and the registrations of every command.
    holds: [
      'cli/serve.ts',
      'cli/demo.ts',
      'cli/demo-fabric.ts',
      'cli/token.ts',
      'cli/images.ts',
      'cli/main.ts',
    ],
    imports: [
      'cli-client',
      'client',
      'main',
      'config',
      'services',
      'store-sqlite',
      'store',
      'fabrics',
      'fabric-types',
      'core',
    ],
  },
  // Every other command talks to a server only through the client.
  { name: 'cli-client', holds: ['cli/'], imports: ['client', 'config', 'core'] },
  {
    name: 'main',
    // The composition root: main.ts (startServer) and its wiring in main/.
    holds: ['main.ts', 'main/'],
    imports: [
      'api',
      'services',
      'runtime',
      'health',
      'store-sqlite',
      'store-postgres',
      'store',
      'fabrics',
      'fabric-types',
      'config',
      'arm',
      'tls',
      'util',
      'errors',
      'core',
    ],
  },
  {
    name: 'api',
    holds: ['api/'],
    imports: ['services', 'runtime', 'store', 'fabric-types', 'config', 'arm', 'errors', 'core'],
  },
  {
    name: 'services',
    holds: ['services/'],
    imports: ['runtime', 'store', 'fabric-types', 'config', 'arm', 'util', 'errors', 'core'],
  },
  {
    name: 'runtime',
    holds: ['runtime/'],
    imports: ['store', 'fabric-types', 'util', 'errors', 'core'],
  },
  { name: 'health', holds: ['health/'], imports: ['fabric-types', 'core'] },
  // Two backends side by side: what both need is in store/sql/, below them.
  { name: 'store-sqlite', holds: ['store/sqlite/'], imports: ['store', 'core'] },
  { name: 'store-postgres', holds: ['store/postgres/'], imports: ['store', 'core'] },
  { name: 'store', holds: ['store/'], imports: ['fabric-types', 'util', 'errors', 'core'] },
  { name: 'fabrics', holds: ['fabrics/'], imports: ['fabric-types', 'util', 'errors', 'core'] },
  { name: 'config', holds: ['config/'], imports: ['fabric-types', 'core'] },
  { name: 'fabric-types', holds: ['fabrics/types/'], imports: ['core'] },
  { name: 'arm', holds: ['arm/'], imports: ['errors', 'core'] },
  { name: 'client', holds: ['client/'], imports: [] },
  { name: 'tls', holds: ['tls/'], imports: [] },
  { name: 'util', holds: ['util/'], imports: [] },
  { name: 'errors', holds: ['errors.ts'], imports: [] },
  { name: 'core', holds: ['core/'], imports: [] },
]

describe('imports of src/', () => {
  const graph = readImportGraph('src')

  it('reads the graph (a check of the reader itself)', () => {
    expect(graph.get('main/system.ts')).toContain('api/app.ts')
    expect(graph.get('store/sql/sql-store.ts')).toContain('errors.ts')
    expect(graph.size).toBeGreaterThan(100)
  })

  it('has no import circle', () => {
    expect(findCycles(graph)).toEqual([])
  })

  it('puts every file in a layer, and imports only downward or beside as allowed', () => {
    expect(layerViolations(graph, LAYERS)).toEqual([])
  })

  it('names only layers that exist, and allows no layer to import one above it', () => {
    const names = LAYERS.map((l) => l.name)
    LAYERS.forEach((l, i) => {
      for (const target of l.imports) expect(names.indexOf(target)).toBeGreaterThan(i)
    })
    expect(layerOf(LAYERS, 'fabrics/types/fabric.ts')?.name).toBe('fabric-types')
    expect(layerOf(LAYERS, 'fabrics/sim/sim-fabric.ts')?.name).toBe('fabrics')
  })
})

describe('findCycles', () => {
  it('finds a circle of two, a file importing itself, and nothing in a tree', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['a.ts', 'c.ts']],
      ['c.ts', []],
      ['d.ts', ['d.ts']],
    ])
    expect(findCycles(g)).toEqual([['a.ts', 'b.ts'], ['d.ts']])
    expect(
      findCycles(
        new Map([
          ['a.ts', ['b.ts']],
          ['b.ts', []],
        ]),
      ),
    ).toEqual([])
  })
})

describe('layerViolations', () => {
  it('reports an import upward and one between siblings', () => {
    const layers: Layer[] = [
      { name: 'top', holds: ['top/'], imports: ['left', 'right'] },
      { name: 'left', holds: ['left/'], imports: [] },
      { name: 'right', holds: ['right/'], imports: [] },
    ]
    const g = new Map([
      ['top/a.ts', ['left/b.ts']],
      ['left/b.ts', ['right/c.ts', 'top/a.ts']],
      ['right/c.ts', []],
    ])
    expect(layerViolations(g, layers)).toEqual([
      'left/b.ts → right/c.ts (left → right)',
      'left/b.ts → top/a.ts (left → top)',
    ])
  })
})
