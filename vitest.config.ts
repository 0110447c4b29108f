import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    // Fails the suite if an instance process outlives it (test-support/global-setup.ts).
    globalSetup: ['test-support/global-setup.ts'],
  },
})
