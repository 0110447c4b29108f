/**
 * Running a command on a hypervisor host for the fabric (issue 23, docs/qemu.md § Many hosts):
 * over the pinned-key SshClient, with every way it can fail turned into one clear error that
 * names the host (unreachable, refused login, a changed host key with both fingerprints).
 */
import { hostKeyChangedMessage } from './host-check.js'
import type { SshClient, SshOptions } from './ssh.js'
import type { SshTarget } from '../types/hosts.js'

export type Ran = Readonly<{ code: number; stdout: string; stderr: string }>

/**
 * Runs `argv` on the host and returns its exit code and output; throws when ssh itself failed.
 * @example await runOnHost(ssh, target, ['sha256sum', '--', '/var/lib/osroll/bases/sha256-…'])
 */
export async function runOnHost(
  ssh: SshClient,
  target: SshTarget,
  argv: readonly string[],
  o: SshOptions = {},
): Promise<Ran> {
  const r = await ssh.run(target, argv, o)
  switch (r.kind) {
    case 'Ran':
      return r
    case 'HostKeyChanged':
      throw new Error(
        `host ${target.name}: ${hostKeyChangedMessage(target.hostKey, r.offered ? [r.offered] : [])}`,
      )
    case 'AuthenticationFailed':
      throw new Error(
        `host ${target.name} refused user '${target.user}' with osroll's key: ${r.message}`,
      )
    case 'Unreachable':
      throw new Error(`host ${target.name} (${target.address}) is unreachable: ${r.message}`)
  }
}

/** Runs a POSIX shell script on the host, its arguments as `$1`, `$2`, …; as `runOnHost`. */
export function shOnHost(
  ssh: SshClient,
  target: SshTarget,
  script: string,
  args: readonly string[],
  o: SshOptions = {},
): Promise<Ran> {
  return runOnHost(ssh, target, ['sh', '-c', script, 'sh', ...args], o)
}

/** The last non-empty line of a tool's stderr, or what to say when there is none. */
export function saidBy(r: Ran): string {
  return r.stderr.trim().split('\n').at(-1)?.trim() || `exit ${r.code}, no message`
}
