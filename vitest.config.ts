import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

/**
 * Test files that boot QEMU virtual machines. Under TCG each boot keeps a core busy, so they run
 * one file at a time, after the rest, and never beside the I/O-bound files whose health deadlines
 * would feel the load.
 */
const VM_TESTS = ['test/e2e/qemu-*.test.ts', 'src/fabrics/qemu/qemu-fabric.test.ts']

/**
 * The other files wait mostly on child processes, sockets and polling, so more of them run at
 * once than there are cores (docs/operations.md § Running the tests). OSROLL_TEST_WORKERS overrides.
 */
const workers = Number(
  process.env['OSROLL_TEST_WORKERS'] ?? Math.max(2, availableParallelism() + 1),
)

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 30_000,
    // Fails the suite if an instance process outlives it (test-support/global-setup.ts).
    globalSetup: ['test-support/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: VM_TESTS,
          maxWorkers: workers,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'vm',
          include: VM_TESTS,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
