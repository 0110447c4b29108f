/** Runs the `osroll` command line (src/cli/main.ts under tsx) against a server, as a user would. */
import { fileURLToPath } from 'node:url'
import { runCommand } from './run-command.js'
import type { CommandResult } from './run-command.js'

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))

/** An `osroll(...args)` bound to one endpoint and token (read when each command runs). */
export function cliRunner(
  target: () => { endpoint: string; token: string },
): (...args: string[]) => Promise<CommandResult> {
  return (...args) => {
    const { endpoint, token } = target()
    return runCommand(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      env: { ...process.env, OSROLL_ENDPOINT: endpoint, OSROLL_TOKEN: token },
      timeout: 60_000,
    })
  }
}
