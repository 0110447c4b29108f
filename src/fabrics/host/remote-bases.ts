/**
 * Image bases on a hypervisor host, content-addressed (issue 23, docs/qemu.md § Many hosts): a
 * local file (an OS disk's base, a kernel, an initramfs) is copied over SSH once, to
 * `{host dir}/bases/sha256-<hex>`, and its digest is checked on the host (`sha256sum`) before
 * each use. A base already there with the right digest is not copied again; one whose digest is
 * wrong is refused, naming both digests, and left for the operator to look at (osroll never
 * boots it, nor silently replaces what it did not expect to find). A copy is written to a
 * temporary name, checked, made read-only and renamed into place, so a half-made copy is never
 * found under a digest.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { SshTarget } from '../types/hosts.js'
import { saidBy, shOnHost } from './remote.js'
import type { SshClient } from './ssh.js'

export type RemoteBase = Readonly<{
  /** `sha256-<hex>` of the file's content. */
  digest: string
  /** Where it is on the host. */
  path: string
  /** Whether this call copied it (false: it was there with the right digest). */
  copied: boolean
  bytes: number
}>

/** How long one copy may take: a base of a few hundred MiB over a slow link. */
const COPY_TIMEOUT_MS = 30 * 60_000
/** `sha256sum` of a large base on a busy host. */
const DIGEST_TIMEOUT_MS = 5 * 60_000

/** `{hostDir}/bases/sha256-<hex>`: where a base with this digest lives on a host. */
export function basePath(hostDir: string, digest: string): string {
  return `${hostDir.replace(/\/+$/, '')}/bases/${digest}`
}

/** The `sha256-<hex>` digest of a local file, streamed. */
export async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return `sha256-${hash.digest('hex')}`
}

/**
 * Puts the local file `local` on the host under its digest, unless it is there already with the
 * right digest; throws when the host holds a file of another digest under that name.
 * @example await ensureBase(ssh, target, '/var/lib/osroll', './images/sha256-…/disk.qcow2')
 *   → { digest: 'sha256-9c…', path: '/var/lib/osroll/bases/sha256-9c…', copied: true, bytes: 6815744 }
 */
export async function ensureBase(
  ssh: SshClient,
  target: SshTarget,
  hostDir: string,
  local: string,
): Promise<RemoteBase> {
  const [digest, { size: bytes }] = await Promise.all([fileDigest(local), stat(local)])
  const path = basePath(hostDir, digest)
  const found = await digestOnHost(ssh, target, path)
  if (found === digest) return { digest, path, copied: false, bytes }
  if (found !== null) throw new Error(mismatch(target, path, digest, found))
  const part = `${path}.part-${randomBytes(4).toString('hex')}`
  const copy = await shOnHost(ssh, target, 'mkdir -p -- "$1" && cat > "$2"', [dirOf(path), part], {
    stdinFile: local,
    timeoutMs: COPY_TIMEOUT_MS,
  })
  if (copy.code !== 0)
    throw new Error(`copying ${local} to host ${target.name} failed: ${saidBy(copy)}`)
  const copied = await digestOnHost(ssh, target, part)
  if (copied !== digest) {
    await shOnHost(ssh, target, 'rm -f -- "$1"', [part])
    throw new Error(
      `the copy of ${local} on host ${target.name} has ${copied ?? 'no file'}, not ${digest}: the transfer was damaged; nothing was kept`,
    )
  }
  const place = await shOnHost(ssh, target, 'chmod 0444 -- "$1" && mv -f -- "$1" "$2"', [
    part,
    path,
  ])
  if (place.code !== 0)
    throw new Error(`placing the base ${path} on host ${target.name} failed: ${saidBy(place)}`)
  return { digest, path, copied: true, bytes }
}

/**
 * Checks, on the host, that the base at `path` has `digest`: run before each use of a base.
 * Throws naming both digests when it does not, or saying it is missing.
 */
export async function verifyBase(
  ssh: SshClient,
  target: SshTarget,
  base: Pick<RemoteBase, 'path' | 'digest'>,
): Promise<void> {
  const found = await digestOnHost(ssh, target, base.path)
  if (found === null)
    throw new Error(
      `host ${target.name} has no base ${base.path} (${base.digest}): copy it there first`,
    )
  if (found !== base.digest) throw new Error(mismatch(target, base.path, base.digest, found))
}

/** The digest of `path` on the host by its `sha256sum`, or null when there is no such file. */
async function digestOnHost(
  ssh: SshClient,
  target: SshTarget,
  path: string,
): Promise<string | null> {
  const r = await shOnHost(
    ssh,
    target,
    'if [ -f "$1" ]; then sha256sum -- "$1"; else echo absent; fi',
    [path],
    { timeoutMs: DIGEST_TIMEOUT_MS },
  )
  if (r.code === 127 || /sha256sum: (command )?not found/.test(r.stderr))
    throw new Error(
      `host ${target.name} has no sha256sum (install coreutils): osroll checks bases with it`,
    )
  if (r.code !== 0)
    throw new Error(`sha256sum of ${path} on host ${target.name} failed: ${saidBy(r)}`)
  if (r.stdout.trim() === 'absent') return null
  const hex = /^([0-9a-f]{64})\s/.exec(r.stdout)?.[1]
  if (!hex)
    throw new Error(
      `sha256sum on host ${target.name} gave no digest for ${path}: '${r.stdout.trim().slice(0, 200)}'`,
    )
  return `sha256-${hex}`
}

function mismatch(target: SshTarget, path: string, want: string, found: string): string {
  return `the base ${path} on host ${target.name} has digest ${found}, not ${want}: it was changed or damaged on the host; osroll refuses to use it. Look at it on the host, then remove it (osroll copies it again).`
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/'
}
