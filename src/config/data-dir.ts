/**
 * The data dir holds the admin token, the database (admin passwords, protected settings) and the
 * TLS keys: only osroll's own user may read it (issue 15). At start it is made 0700 and every
 * file osroll keeps at its top and in `tls/` 0600; a dir or file osroll cannot fix (owned by
 * another user) is refused. `images/` and `instances/` belong to the local fabric and are left
 * as they are (the dir's 0700 already keeps other users out of them).
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** Files osroll writes at the top of the data dir and in `tls/` (the rest is the fabric's). */
const OWN_FILES = /^(token|secrets\.key|osroll\.db(-wal|-shm|-journal)?)$/

export class DataDirError extends Error {
  override readonly name = 'DataDirError'
}

/**
 * Creates the dir 0700 or tightens it and its files; returns one warning line per mode changed.
 * @example secureDataDir('./.osroll') // [] on a fresh dir
 */
export function secureDataDir(dir: string): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const warnings = [tighten(dir, 0o700, 'data dir')]
  for (const name of readdirSync(dir))
    if (OWN_FILES.test(name)) warnings.push(tighten(join(dir, name), 0o600, 'file'))
  const tls = join(dir, 'tls')
  if (existsSync(tls)) {
    warnings.push(tighten(tls, 0o700, 'TLS dir'))
    for (const name of readdirSync(tls)) warnings.push(tighten(join(tls, name), 0o600, 'file'))
  }
  return warnings.filter((w) => w !== '')
}

/** Sets `mode` on a path whose group/other bits are set; '' when it was already private. */
function tighten(path: string, mode: number, what: string): string {
  const st = lstatSync(path)
  if (st.isSymbolicLink())
    throw new DataDirError(`${path} is a symbolic link; osroll keeps only its own files here.`)
  const old = st.mode & 0o777
  if ((old & 0o077) === 0) return ''
  if (typeof process.getuid === 'function' && st.uid !== process.getuid())
    throw new DataDirError(
      `${what} ${path} has mode ${octal(old)} and belongs to uid ${st.uid}, not to osroll's user (uid ${process.getuid()}): chown it to this user or chmod ${octal(mode)} it.`,
    )
  chmodSync(path, mode)
  return `${what} ${path} had mode ${octal(old)}, readable by other users; changed to ${octal(mode)}`
}

function octal(mode: number): string {
  return '0' + mode.toString(8).padStart(3, '0')
}

/**
 * Refuses a secret key file (TLS key, secrets key) that users other than the owner can read.
 * @example assertPrivateFile('/etc/osroll/tls.key', '--tls-key')
 */
export function assertPrivateFile(path: string, flag: string): void {
  const mode = statSync(path).mode & 0o777
  if ((mode & 0o077) !== 0)
    throw new DataDirError(
      `${flag} ${path} has mode ${octal(mode)}: other users can read this private key. Run: chmod 600 ${path}`,
    )
}
