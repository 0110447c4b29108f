// Lint: typescript-eslint's recommended rules, plus the layering of docs/architecture.md:
// src/core is pure (no node:*, no clock, no timers, no randomness, no imports from outside core).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

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
