/**
 * OS disks of the local fabric: a private tree per disk, built from a published artifact without
 * paying for its bytes again where the filesystem allows.
 *
 * - `reflink` (XFS, Btrfs, …): every file is a copy-on-write clone; fully private.
 * - `link` (ext4 and others without clones): directories are private and every file is a hard
 *   link to a read-only shared copy of the artifact (`{images}/.shared/<digest>`), never to the
 *   published artifact itself. Replacing a file (write a new one, rename it over) — how package
 *   managers and most programs update files — is private to the disk. A file written in place
 *   by a process that ignores its read-only mode (root) would change the shared copy for every
 *   disk linked to it: before each new disk is linked, osroll compares every shared file with
 *   what it recorded (size, modification time) and repairs a changed one from the published
 *   artifact, so no new disk is built from a changed file. Images that write their own files in
 *   place should run with `copy`.
 * - `copy`: a full copy (the safe choice for such images).
 * - `auto` (default): `reflink` where the filesystem clones, else `link`.
 */
import { constants } from 'node:fs'
import {
  chmod,
  copyFile,
  cp,
  link,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { artifactDir } from '../host/artifacts.js'
import type { OsDiskMode } from '../types/local-options.js'

/** A shared file as recorded when it was made: what a change in place would alter. */
type Stamp = readonly [size: number, mtimeMs: number]
type Manifest = Record<string, Stamp>

export type DiskBuildStats = { disks: number; linkedFiles: number; repairedFiles: number }

export class OsDisks {
  private resolved: Promise<Exclude<OsDiskMode, 'auto'>> | null = null
  private readonly shared = new Map<string, Promise<Manifest>>()
  /** Counters for tests and the operator (how many files were linked, repaired). */
  readonly stats: DiskBuildStats = { disks: 0, linkedFiles: 0, repairedFiles: 0 }

  constructor(
    private readonly casDir: string,
    private readonly mode: OsDiskMode = 'auto',
  ) {}

  /** The mode in effect: `auto` resolved against the filesystem of the image store. */
  async effectiveMode(digest: string): Promise<Exclude<OsDiskMode, 'auto'>> {
    if (this.mode === 'link' || this.mode === 'copy') return this.mode
    const forced = this.mode === 'reflink'
    this.resolved ??= canReflink(artifactDir(this.casDir, digest)).then((yes) => {
      if (yes) return 'reflink'
      if (forced)
        throw new Error(
          `--os-disk-mode reflink: the filesystem of ${this.casDir} cannot clone files (XFS and Btrfs can); use auto, link or copy.`,
        )
      return 'link'
    })
    return this.resolved
  }

  /** Builds `target` (which must not exist) as an OS disk of the artifact `digest`. */
  async build(digest: string, target: string): Promise<void> {
    const source = artifactDir(this.casDir, digest)
    const mode = await this.effectiveMode(digest)
    if (mode === 'link') await this.linkTree(digest, target)
    else
      await cp(source, target, {
        recursive: true,
        verbatimSymlinks: true,
        mode: mode === 'reflink' ? constants.COPYFILE_FICLONE_FORCE : 0,
      })
    this.stats.disks++
  }

  private async linkTree(digest: string, target: string): Promise<void> {
    const pristine = artifactDir(this.casDir, digest)
    const pool = join(this.casDir, '.shared', digest)
    const manifest = await this.sharedCopy(digest)
    let repaired = false
    const walk = async (rel: string): Promise<void> => {
      await mkdir(join(target, rel), { recursive: true })
      for (const e of await readdir(join(pristine, rel), { withFileTypes: true })) {
        const path = join(rel, e.name)
        if (e.isDirectory()) await walk(path)
        else if (e.isSymbolicLink())
          await symlink(await readlink(join(pristine, path)), join(target, path))
        else {
          const s = await lstat(join(pool, path)).catch(() => null)
          const want = manifest[path]
          if (!s || !want || s.size !== want[0] || s.mtimeMs !== want[1]) {
            manifest[path] = await shareFile(join(pristine, path), join(pool, path))
            this.stats.repairedFiles++
            repaired = true
          }
          await linkOrCopy(join(pool, path), join(target, path))
          this.stats.linkedFiles++
        }
      }
    }
    await walk('')
    if (repaired) await writeManifest(pool, manifest)
  }

  /** The shared copy of an artifact, made once (then reused across restarts), and its manifest. */
  private sharedCopy(digest: string): Promise<Manifest> {
    let p = this.shared.get(digest)
    if (!p) {
      p = makeSharedCopy(artifactDir(this.casDir, digest), join(this.casDir, '.shared', digest))
      p.catch(() => this.shared.delete(digest))
      this.shared.set(digest, p)
    }
    return p
  }
}

async function makeSharedCopy(pristine: string, pool: string): Promise<Manifest> {
  const existing = await readFile(join(pool, '.osroll-manifest.json'), 'utf8').catch(() => null)
  if (existing !== null) return JSON.parse(existing) as Manifest
  const staging = `${pool}.tmp-${randomUUID().slice(0, 8)}`
  await mkdir(join(pool, '..'), { recursive: true })
  const manifest: Manifest = {}
  const walk = async (rel: string): Promise<void> => {
    await mkdir(join(staging, rel), { recursive: true })
    for (const e of await readdir(join(pristine, rel), { withFileTypes: true })) {
      const path = join(rel, e.name)
      if (e.isDirectory()) await walk(path)
      else if (e.isFile())
        manifest[path] = await shareFile(join(pristine, path), join(staging, path))
    }
  }
  try {
    await walk('')
    await writeManifest(staging, manifest)
    await rm(pool, { recursive: true, force: true }) // a copy cut off before its manifest
    await rename(staging, pool)
  } catch (err) {
    await rm(staging, { recursive: true, force: true })
    throw err
  }
  return manifest
}

/** Copies one file into the shared tree, read-only (execute bits kept), atomically. */
async function shareFile(from: string, to: string): Promise<Stamp> {
  const tmp = `${to}.tmp-${randomUUID().slice(0, 8)}`
  await copyFile(from, tmp, constants.COPYFILE_FICLONE)
  const mode = (await lstat(from)).mode & 0o555
  await chmod(tmp, mode)
  await rename(tmp, to)
  const s = await lstat(to)
  return [s.size, s.mtimeMs]
}

async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const tmp = join(dir, `.osroll-manifest.json.tmp-${randomUUID().slice(0, 8)}`)
  await writeFile(tmp, JSON.stringify(manifest))
  await rename(tmp, join(dir, '.osroll-manifest.json'))
}

/** A hard link; a copy where the filesystem refuses one (another device, too many links). */
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EXDEV' && code !== 'EMLINK' && code !== 'EPERM') throw err
    await copyFile(from, to)
  }
}

/** Whether the filesystem under `dir` clones files (FICLONE): tried on the artifact's `boot`. */
async function canReflink(dir: string): Promise<boolean> {
  const probe = join(dir, '..', `.reflink-probe-${randomUUID().slice(0, 8)}`)
  try {
    await copyFile(join(dir, 'boot'), probe, constants.COPYFILE_FICLONE_FORCE)
    return true
  } catch {
    return false
  } finally {
    await unlink(probe).catch(() => undefined)
  }
}
