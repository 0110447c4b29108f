// Lint: typescript-eslint's recommended rules, plus the layering of docs/architecture.md:
// src/core is pure (no node:*, no clock, no timers, no randomness, no imports from outside core),
// and every layer imports only the layers below it that it is allowed to (§ Layers).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// An import path into each layer, by its segments ('../../store/sql/x.js' is into store).
// `fabrics` is the fabric implementations; `fabrics/types` (what a fabric is and keeps) is below.
const into = {
  main: String.raw`^(\.\./)+main(\.js$|/)`,
  cli: String.raw`^(\.\./)+cli/`,
  api: String.raw`^(\.\./)+api/`,
  services: String.raw`^(\.\./)+services/`,
  runtime: String.raw`^(\.\./)+runtime/`,
  health: String.raw`^(\.\./)+health/`,
  store: String.raw`^(\.\./)+store/`,
  fabrics: String.raw`^(\.\./)+fabrics/(?!types/)`,
  'fabric-types': String.raw`^(\.\./)+fabrics/types/`,
  config: String.raw`^(\.\./)+config/`,
  arm: String.raw`^(\.\./)+arm/`,
  client: String.raw`^(\.\./)+client/`,
  tls: String.raw`^(\.\./)+tls/`,
  util: String.raw`^(\.\./)+util/`,
  errors: String.raw`^(\.\./)+errors\.js$`,
  core: String.raw`^(\.\./)+core/`,
}

// Each layer, top to bottom, and what it may import besides itself. The same table is in
// test/architecture/imports.test.ts, which checks the whole graph (and that it has no circle).
const layers = [
  {
    layer: 'cli',
    files: ['src/cli/**/*.ts'],
    // The CLI talks to a server only through the client; `serve` and `demo` start one (main).
    imports: ['client', 'main', 'config', 'services', 'store', 'fabrics', 'fabric-types', 'core'],
    also: [
      {
        // Every other command is a client command: it reaches a server only through the client.
        // `token create` writes the data dir's store; `image sample` (and the demo's fabric)
        // builds an image locally.
        files: ['src/cli/**/*.ts'],
        ignores: [
          'src/cli/serve.ts',
          'src/cli/demo.ts',
          'src/cli/token.ts',
          'src/cli/images.ts',
          'src/cli/demo-fabric.ts',
        ],
        regex: String.raw`^(\.\./)+(main(\.js$|/)|api/|services/|runtime/|health/|store/|fabrics/)`,
        message: 'a client command talks to the server only through the client',
      },
      {
        files: ['src/cli/images.ts', 'src/cli/demo-fabric.ts'],
        regex: String.raw`^(\.\./)+(main(\.js$|/)|api/|services/|runtime/|health/|store/|fabrics/(?!qemu/sample-image\.js$))`,
        message: 'the image commands talk to the server only through the client',
      },
    ],
  },
  {
    layer: 'api',
    files: ['src/api/**/*.ts'],
    imports: ['services', 'runtime', 'store', 'fabric-types', 'config', 'arm', 'errors', 'core'],
  },
  {
    layer: 'services',
    files: ['src/services/**/*.ts'],
    imports: ['runtime', 'store', 'fabric-types', 'config', 'arm', 'util', 'errors', 'core'],
  },
  {
    layer: 'runtime',
    files: ['src/runtime/**/*.ts'],
    imports: ['store', 'fabric-types', 'util', 'errors', 'core'],
  },
  { layer: 'health', files: ['src/health/**/*.ts'], imports: ['fabric-types', 'core'] },
  {
    layer: 'store',
    files: ['src/store/**/*.ts'],
    imports: ['fabric-types', 'util', 'errors', 'core'],
    // One backend never imports its sibling: what both need is in store/sql/, which imports
    // neither.
    also: [
      {
        files: ['src/store/**/*.ts'],
        ignores: ['src/store/postgres/**', 'src/store/sqlite/**'],
        regex: String.raw`(^|/)(sqlite|postgres)/`,
        message: 'store/ below the backends imports neither backend',
      },
      {
        files: ['src/store/postgres/**/*.ts'],
        regex: String.raw`(^|/)sqlite/`,
        message: 'postgres/ imports no sqlite/',
      },
      {
        files: ['src/store/sqlite/**/*.ts'],
        regex: String.raw`(^|/)postgres/`,
        message: 'sqlite/ imports no postgres/',
      },
    ],
  },
  {
    layer: 'fabrics',
    files: ['src/fabrics/**/*.ts'],
    imports: ['fabric-types', 'util', 'errors', 'core'],
    // A fabric is one folder: it never imports another fabric.
    also: [
      {
        files: ['src/fabrics/sim/**/*.ts'],
        regex: String.raw`^\.\./(local|qemu)/`,
        message: 'a fabric imports no other fabric',
      },
      {
        files: ['src/fabrics/local/**/*.ts'],
        regex: String.raw`^\.\./(sim|qemu)/`,
        message: 'a fabric imports no other fabric',
      },
      {
        files: ['src/fabrics/qemu/**/*.ts'],
        regex: String.raw`^\.\./(sim|local)/`,
        message: 'a fabric imports no other fabric (shared host code lives in fabrics/host/)',
      },
      {
        // What fabrics that run things on this host share: processes, listeners, artifacts.
        files: ['src/fabrics/host/**/*.ts'],
        regex: String.raw`^\.\./(sim|local|qemu)/`,
        message: 'fabrics/host is shared by the fabrics and imports none of them',
      },
    ],
  },
  {
    layer: 'fabric-types',
    files: ['src/fabrics/types/**/*.ts'],
    imports: ['core'],
    // Nothing of fabrics/ outside types/ either (those paths do not say `fabrics/`).
    also: [
      {
        files: ['src/fabrics/types/**/*.ts'],
        regex: String.raw`^\.\./(?!\.\./core/)`,
        message: 'fabrics/types imports only core',
      },
    ],
  },
  { layer: 'config', files: ['src/config/**/*.ts'], imports: ['fabric-types', 'core'] },
  { layer: 'arm', files: ['src/arm/**/*.ts'], imports: ['errors', 'core'] },
  { layer: 'client', files: ['src/client/**/*.ts'], imports: [] },
  { layer: 'tls', files: ['src/tls/**/*.ts'], imports: [] },
  { layer: 'util', files: ['src/util/**/*.ts'], imports: [] },
  { layer: 'errors', files: ['src/errors.ts'], imports: [] },
]

/** The no-restricted-imports blocks of one layer: every other layer it does not import. */
function layerRules({ layer, files, imports, also = [] }) {
  const forbidden = Object.keys(into).filter((l) => l !== layer && !imports.includes(l))
  const patterns = forbidden.map((l) => ({
    regex: into[l],
    message: `${layer} imports no ${l} (docs/architecture.md § Layers)`,
  }))
  const rule = (extra) => ({
    'no-restricted-imports': ['error', { patterns: [...patterns, ...extra] }],
  })
  return [
    { files, ignores: ['**/*.test.ts', '**/*.contract.ts'], rules: rule([]) },
    ...also.map((a) => ({
      files: a.files,
      ignores: ['**/*.test.ts', '**/*.contract.ts', ...(a.ignores ?? [])],
      rules: rule([{ regex: a.regex, message: `${a.message} (docs/architecture.md § Layers)` }]),
    })),
  ]
}

const impureGlobals = [
  { name: 'setTimeout', message: 'core is pure: return wakeAtMs instead of scheduling' },
  { name: 'setInterval', message: 'core is pure: return wakeAtMs instead of scheduling' },
  { name: 'setImmediate', message: 'core is pure' },
  { name: 'process', message: 'core is pure: take configuration as arguments' },
]

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Tests read untyped JSON response bodies.
    files: ['test/**/*.ts', 'test-support/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } },
  },
  ...layers.flatMap(layerRules),
  {
    files: ['src/core/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-globals': ['error', ...impureGlobals],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='Date'][property.name='now']",
          message: 'core is pure: take nowMs',
        },
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'core is pure: take nowMs',
        },
        {
          selector: "MemberExpression[object.name='Math'][property.name='random']",
          message: 'core is pure: inject an Rng',
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                'fs',
                'path',
                'os',
                'crypto',
                'child_process',
                'http',
                'https',
                'net',
              ],
              message: 'core is pure: no I/O',
            },
            {
              group: [
                '../../runtime/*',
                '../../fabrics/*',
                '../../store/*',
                '../../api/*',
                '../../services/*',
                '../runtime/*',
                '../fabrics/*',
                '../store/*',
                '../api/*',
                '../services/*',
              ],
              message: 'core imports only core',
            },
          ],
        },
      ],
    },
  },
)
