/**
 * One check of a hypervisor host (docs/api.md § Hosts): reach it over SSH with its pinned host
 * key and ask for `qemu-system-x86_64 --version`. The answer is a `HostStatus`: reachable with
 * the QEMU version found, or why not (unreachable, refused login, a host key that changed, with
 * the fingerprints it offered instead). The local host is checked by running QEMU here.
 */
import { execFile } from 'node:child_process'
import type { HostKey, HostStatus } from '../../core/hosts/host-spec.js'
import { qemuVersionOf } from '../../core/hosts/host-spec.js'
import type { HostProber, SshTarget } from '../types/hosts.js'
import type { SshClient, SshOptions } from './ssh.js'
import { publicKeyOf, scanHostKeys } from './ssh.js'

/** What osroll runs on a host to check it (and all it runs there in this build). */
export const QEMU_VERSION_COMMAND = ['qemu-system-x86_64', '--version'] as const

/** The hosts registry's prober over the system's OpenSSH client. */
export class SshHostProber implements HostProber {
  constructor(
    private readonly ssh: SshClient,
    private readonly o: SshOptions = {},
  ) {}

  scanHostKeys(address: string, port: number): Promise<HostKey[]> {
    return scanHostKeys(address, port, this.o)
  }

  publicKeyOf(privateKey: string): Promise<Readonly<{ publicKey: string; fingerprint: string }>> {
    return publicKeyOf(privateKey)
  }

  check(target: SshTarget, nowMs: number): Promise<HostStatus> {
    return checkHost(this.ssh, target, nowMs, this.o)
  }

  checkLocal(nowMs: number): Promise<HostStatus> {
    return checkLocalHost(nowMs)
  }
}

/**
 * @example await checkHost(ssh, target, 1_700_000_000_000)
 *   → { reachability: 'Reachable', qemuVersion: '7.2.22', message: null, offeredFingerprints: [], checkedAtMs: 1_700_000_000_000 }
 */
export async function checkHost(
  ssh: SshClient,
  target: SshTarget,
  nowMs: number,
  o: SshOptions = {},
): Promise<HostStatus> {
  const r = await ssh.run(target, QEMU_VERSION_COMMAND, o)
  const base = { qemuVersion: null, offeredFingerprints: [], checkedAtMs: nowMs }
  switch (r.kind) {
    case 'Ran': {
      const version = r.code === 0 ? qemuVersionOf(r.stdout) : null
      if (version)
        return { ...base, reachability: 'Reachable', qemuVersion: version, message: null }
      return { ...base, reachability: 'Reachable', message: noQemuMessage(r.code, r.stderr) }
    }
    case 'HostKeyChanged': {
      const offered = r.offered ? [r.offered] : await offeredFingerprints(target, o)
      return {
        ...base,
        reachability: 'HostKeyChanged',
        offeredFingerprints: offered,
        message: hostKeyChangedMessage(target.hostKey, offered),
      }
    }
    case 'AuthenticationFailed':
      return {
        ...base,
        reachability: 'AuthenticationFailed',
        message: `The host refused user '${target.user}' with osroll's key: ${r.message}`,
      }
    case 'Unreachable':
      return { ...base, reachability: 'Unreachable', message: r.message }
  }
}

/**
 * The message of a refused host key, quoting both fingerprints.
 * @example hostKeyChangedMessage({ type: 'ssh-ed25519', fingerprint: 'SHA256:old…' }, ['SHA256:new…'])
 *   → "The host offered the host key SHA256:new…, not the pinned ssh-ed25519 key SHA256:old…: …"
 */
export function hostKeyChangedMessage(
  pinned: Pick<HostKey, 'type' | 'fingerprint'>,
  offered: readonly string[],
): string {
  const what = offered.length > 0 ? `the host key ${offered.join(', ')}` : 'another host key'
  return `The host offered ${what}, not the pinned ${pinned.type} key ${pinned.fingerprint}: osroll refuses to connect. If the host was reinstalled, read its key on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and register it again with that fingerprint as properties.hostKeyFingerprint.`
}

/** The local host: this machine's `qemu-system-x86_64 --version`, run here. */
export function checkLocalHost(nowMs: number): Promise<HostStatus> {
  return new Promise((resolve) =>
    execFile(
      QEMU_VERSION_COMMAND[0],
      [...QEMU_VERSION_COMMAND.slice(1)],
      { encoding: 'utf8', timeout: 10_000 },
      (err, stdout, stderr) => {
        const version = err ? null : qemuVersionOf(stdout)
        const c = (err as { code?: unknown } | null)?.code
        const code = typeof c === 'number' ? c : 127 // ENOENT: not installed
        resolve({
          reachability: 'Reachable',
          qemuVersion: version,
          message: version ? null : noQemuMessage(err ? code : 0, stderr),
          offeredFingerprints: [],
          checkedAtMs: nowMs,
        })
      },
    ),
  )
}

function noQemuMessage(code: number, stderr: string): string {
  const said = stderr.trim().split('\n').at(-1) ?? ''
  return code === 127
    ? `qemu-system-x86_64 is not installed on the host (not on its PATH${said ? `: ${said}` : ''}); install the Debian package qemu-system-x86`
    : `qemu-system-x86_64 --version did not give a version (exit ${code}${said ? `: ${said}` : ''})`
}

async function offeredFingerprints(target: SshTarget, o: SshOptions): Promise<string[]> {
  try {
    return (await scanHostKeys(target.address, target.port, o)).map((k) => k.fingerprint)
  } catch {
    return []
  }
}
