/** Runs a command to its end and returns its exit code and output (never rejects). */
import { execFile } from 'node:child_process'
import type { ExecFileOptions } from 'node:child_process'

export type CommandResult = Readonly<{ code: number; stdout: string; stderr: string }>

export function runCommand(
  file: string,
  args: readonly string[],
  options: ExecFileOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve) =>
    execFile(file, [...args], { encoding: 'utf8', ...options }, (err, stdout, stderr) =>
      resolve({
        code: err ? ((err as { code?: number }).code ?? 1) : 0,
        stdout: String(stdout),
        stderr: String(stderr),
      }),
    ),
  )
}
