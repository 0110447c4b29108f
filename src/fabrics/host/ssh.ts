/**
 * Reaching a hypervisor host with the system's OpenSSH client (issue 23, docs/api.md § Hosts):
 * scanning the keys a host offers (`ssh-keyscan`), deriving the public half of a private key
 * (`ssh-keygen -y`), and running a command over `ssh` that trusts the pinned host key alone.
 *
 * Each connection uses files osroll writes from the registry for that run alone, never the
 * user's: the private key (0600) and a known_hosts with the one pinned key under a
 * `HostKeyAlias`, in a fresh 0700 directory under `dir`, removed when ssh exits. `StrictHostKeyChecking=yes` makes ssh refuse any other key, and the
 * outcome says which key the host offered instead. No ssh_config is read (`-F /dev/null`).
 */
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  createReadStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { HostKey } from '../../core/hosts/host-spec.js'
import type { SshTarget } from '../types/hosts.js'

/** What one `ssh` run came to. */
export type SshOutcome =
  | Readonly<{ kind: 'Ran'; code: number; stdout: string; stderr: string }>
  /** The host offered another key than the pinned one (`offered`: its fingerprint, if ssh said). */
  | Readonly<{ kind: 'HostKeyChanged'; offered: string | null; message: string }>
  | Readonly<{ kind: 'AuthenticationFailed'; message: string }>
  | Readonly<{ kind: 'Unreachable'; message: string }>

export type SshOptions = Readonly<{
  connectTimeoutS?: number
  timeoutMs?: number
  /** A local file streamed to the remote command's stdin (an upload: `cat > file` there). */
  stdinFile?: string
}>

const CONNECT_TIMEOUT_S = 5
const TIMEOUT_MS = 20_000

/**
 * The SHA256 fingerprint of a key blob, as `ssh-keygen -l` prints it.
 * @example fingerprintOf('AAAAC3NzaC1lZDI1NTE5AAAAI…') → 'SHA256:1P2r…' (43 base64 characters, no padding)
 */
export function fingerprintOf(base64: string): string {
  const digest = createHash('sha256').update(Buffer.from(base64, 'base64')).digest('base64')
  return `SHA256:${digest.replace(/=+$/, '')}`
}

/**
 * The host keys `address:port` offers, in osroll's order of preference (ed25519, ECDSA, RSA).
 * Throws with ssh-keyscan's words when it offers none (not reached, or no SSH there).
 */
export async function scanHostKeys(
  address: string,
  port: number,
  o: SshOptions = {},
): Promise<HostKey[]> {
  const timeoutS = o.connectTimeoutS ?? CONNECT_TIMEOUT_S
  const r = await exec(
    'ssh-keyscan',
    ['-T', String(timeoutS), '-p', String(port), '-t', 'ed25519,ecdsa,rsa', '--', address],
    o.timeoutMs ?? TIMEOUT_MS,
  )
  const keys = r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 3 && !(f[0] as string).startsWith('#'))
    .map(([, type, base64]) => ({
      type: type as string,
      base64: base64 as string,
      fingerprint: fingerprintOf(base64 as string),
    }))
  if (keys.length === 0)
    throw new Error(
      `no SSH host key came from ${address}:${port}${lastLine(r.stderr) ? `: ${lastLine(r.stderr)}` : ' (nothing answered within the timeout)'}`,
    )
  const rank = (t: string) => ['ssh-ed25519', 'ecdsa', 'rsa'].findIndex((p) => t.includes(p))
  return keys.sort((a, b) => rank(a.type) - rank(b.type))
}

/**
 * The public key (`type base64`) of an unencrypted private key, and its fingerprint; throws
 * with ssh-keygen's reason when the text is not one (or needs a passphrase).
 */
export async function publicKeyOf(
  privateKey: string,
): Promise<Readonly<{ publicKey: string; fingerprint: string }>> {
  const dir = mkdtempSync(join(tmpdir(), 'osroll-key-'))
  try {
    const file = join(dir, 'id')
    writeFileSync(file, withNewline(privateKey), { mode: 0o600 })
    const r = await exec('ssh-keygen', ['-y', '-P', '', '-f', file], TIMEOUT_MS)
    const [type, base64] = r.stdout.trim().split(/\s+/)
    if (r.code !== 0 || !type || !base64)
      throw new Error(
        /passphrase|incorrect/i.test(r.stderr)
          ? 'the private key is protected by a passphrase: osroll logs in unattended, so give a key without one'
          : `ssh-keygen cannot read the private key: ${lastLine(r.stderr) || 'invalid format'}`,
      )
    return { publicKey: `${type} ${base64}`, fingerprint: fingerprintOf(base64) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs commands on hosts over ssh with osroll's own key and known_hosts files. */
export class SshClient {
  private swept = false

  constructor(private readonly o: Readonly<{ dir: string }>) {}

  /**
   * Runs `argv` (each word quoted for the remote shell) on the host.
   * @example await ssh.run(target, ['qemu-system-x86_64', '--version'])
   *   → { kind: 'Ran', code: 0, stdout: 'QEMU emulator version 7.2.22 …', stderr: '' }
   */
  async run(target: SshTarget, argv: readonly string[], o: SshOptions = {}): Promise<SshOutcome> {
    const files = this.filesOf(target)
    const args = [...this.optionsOf(target, files, o), '--', target.address]
    const r = await exec(
      'ssh',
      [...args, argv.map(shellQuote).join(' ')],
      o.timeoutMs ?? TIMEOUT_MS,
      o.stdinFile,
    ).finally(files.done)
    return classify(r, target)
  }

  /**
   * Forwards the local unix socket `local` to `remote` on the host (`ssh -N -L local:remote`),
   * until the returned process exits or is killed; its key files go with it. The caller waits
   * for `local` to accept (ssh binds it once logged in) and kills the process when done.
   * @example ssh.forward(target, '/tmp/q/vm0.qmp', '/var/lib/osroll/vms/vm0/qmp.sock')
   */
  forward(target: SshTarget, local: string, remote: string, o: SshOptions = {}): ChildProcess {
    const files = this.filesOf(target)
    const child = spawn(
      'ssh',
      [
        ...this.optionsOf(target, files, o),
        ...['-N', '-o', 'ExitOnForwardFailure=yes', '-o', 'StreamLocalBindUnlink=yes'],
        ...['-L', `${local}:${remote}`, '--', target.address],
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    child.once('exit', files.done)
    child.once('error', files.done)
    return child
  }

  private optionsOf(target: SshTarget, files: { key: string; knownHosts: string }, o: SshOptions) {
    return [
      ...['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes'],
      ...['-o', `UserKnownHostsFile=${files.knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null'],
      ...[
        '-o',
        `HostKeyAlias=${aliasOf(target)}`,
        '-o',
        `HostKeyAlgorithms=${algorithmsOf(target)}`,
      ],
      ...['-o', 'CheckHostIP=no', '-o', 'UpdateHostKeys=no', '-o', 'IdentitiesOnly=yes'],
      ...['-o', `IdentityFile=${files.key}`, '-o', 'IdentityAgent=none'],
      ...['-o', `ConnectTimeout=${o.connectTimeoutS ?? CONNECT_TIMEOUT_S}`],
      ...['-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=2'],
      ...['-o', 'LogLevel=ERROR', '-p', String(target.port), '-l', target.user],
    ]
  }

  /**
   * The host's key and known_hosts, written for one run into a fresh 0700 directory under `dir`
   * (removed by `done`): no key stays on disk after a host leaves the registry, on any replica.
   */
  private filesOf(t: SshTarget): { key: string; knownHosts: string; done: () => void } {
    mkdirSync(this.o.dir, { recursive: true, mode: 0o700 })
    chmodSync(this.o.dir, 0o700)
    if (!this.swept) this.sweep()
    const dir = mkdtempSync(join(this.o.dir, 'run-'))
    const key = join(dir, 'id')
    const knownHosts = join(dir, 'known_hosts')
    writeFileSync(key, withNewline(t.privateKey), { mode: 0o600 })
    writeFileSync(knownHosts, `${aliasOf(t)} ${t.hostKey.type} ${t.hostKey.base64}\n`, {
      mode: 0o600,
    })
    return { key, knownHosts, done: () => rmSync(dir, { recursive: true, force: true }) }
  }

  /** Once per process: the run directories a killed osroll left (one osroll per data dir). */
  private sweep(): void {
    this.swept = true
    for (const d of readdirSync(this.o.dir))
      if (d.startsWith('run-')) rmSync(join(this.o.dir, d), { recursive: true, force: true })
  }
}

function aliasOf(t: SshTarget): string {
  return `osroll-host-${t.name.toLowerCase()}`
}

/** The algorithms that can present the pinned key, so ssh asks the host for that key alone. */
function algorithmsOf(t: SshTarget): string {
  if (t.hostKey.type === 'ssh-rsa') return 'rsa-sha2-512,rsa-sha2-256,ssh-rsa'
  return t.hostKey.type
}

function classify(r: ExecResult, t: SshTarget): SshOutcome {
  if (r.code !== 255) return { kind: 'Ran', code: r.code, stdout: r.stdout, stderr: r.stderr }
  const err = r.stderr
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/i.test(err)) {
    // "The fingerprint for the ED25519 key sent by the remote host is\nSHA256:…."
    const offered = /sent by the remote host is\s+(SHA256:[A-Za-z0-9+/]+)/.exec(err)?.[1] ?? null
    return { kind: 'HostKeyChanged', offered, message: lastLine(err) }
  }
  if (/no matching host key type found/i.test(err))
    return {
      kind: 'HostKeyChanged',
      offered: null,
      message: `the host no longer offers a ${t.hostKey.type} key`,
    }
  if (/Permission denied/i.test(err))
    return { kind: 'AuthenticationFailed', message: lastLine(err) }
  return { kind: 'Unreachable', message: lastLine(err) || 'ssh failed with no message' }
}

type ExecResult = Readonly<{ code: number; stdout: string; stderr: string }>

/** Runs a tool to its end or its timeout (then killed); never rejects for a non-zero exit. */
function exec(
  file: string,
  args: readonly string[],
  timeoutMs: number,
  stdinFile?: string,
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      [...args],
      { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: unknown; killed?: boolean }) | null
        if (e?.killed)
          resolve({
            code: 255,
            stdout,
            stderr: `${stderr}\n${file} timed out after ${timeoutMs} ms`,
          })
        else if (e && typeof e.code !== 'number')
          resolve({ code: 255, stdout, stderr: `${stderr}\n${file}: ${e.message}` })
        else resolve({ code: e ? (e.code as number) : 0, stdout, stderr })
      },
    )
    if (!stdinFile) return
    // A failed read ends stdin early: the remote side sees a short file, and its digest says so.
    const input = createReadStream(stdinFile)
    input.once('error', () => child.stdin?.end())
    child.stdin?.once('error', () => input.destroy())
    if (child.stdin) input.pipe(child.stdin)
  })
}

function withNewline(s: string): string {
  return s.endsWith('\n') ? s : `${s}\n`
}

/** One word for a POSIX shell: single-quoted, with `'` written as `'\''`. */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./=:@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

function lastLine(s: string): string {
  return (
    s
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !/^@+$/.test(l))
      .at(-1) ?? ''
  )
}
