/**
 * Image artifacts of the local fabric (docs/architecture.md § Local images and their environment):
 * a `file:///abs/dir`, or a `.tar`/`.tar.gz`
 * file, holding an executable `boot` at its root. On publish the artifact is copied into a
 * content-addressed store in the data dir, so later changes to the source never change a
 * published version. Archives are extracted safely: no absolute paths, no `..`, no device
 * files, no entry written through a link, hard links only to files of the archive, limits on
 * entries and bytes. Symbolic links are kept only when they stay inside the artifact once
 * resolved against the imported tree itself, link by link (`a/b/q -> ../..` then
 * `up2 -> a/b/q/../..` leaves it, though each looks harmless as text); absolute ones are refused.
 */
import { createHash } from 'node:crypto'
import { constants, existsSync, realpathSync } from 'node:fs'
import {
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
} from 'node:fs/promises'
import { join, posix, relative, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as tar from 'tar'
import { Errors } from '../../errors.js'
import type { AppError } from '../../errors.js'

export type ArtifactLimits = Readonly<{ maxBytes: number; maxEntries: number }>
export const DEFAULT_LIMITS: ArtifactLimits = { maxBytes: 1024 * 1024 * 1024, maxEntries: 100_000 }

const TARGET = 'properties.source.uri'

/**
 * Imports an artifact into `casDir` and returns its digest (`sha256-<hex>`); importing the same
 * content twice is a no-op.
 * @example await importArtifact('file:///srv/images/web-v2', './.osroll/images') → 'sha256-3f…'
 */
export async function importArtifact(
  uri: string,
  casDir: string,
  limits: ArtifactLimits = DEFAULT_LIMITS,
  /** What makes the artifact bootable: the local fabric's executable `boot` (the default), or
   * another fabric's check (the qemu fabric reads its manifest), run on the imported tree. */
  check: (dir: string, uri: string) => Promise<void> = checkBoot,
): Promise<string> {
  const source = sourcePath(uri)
  const info = await stat(source).catch(() => {
    throw bad(`The image artifact '${uri}' does not exist or cannot be read.`)
  })
  await mkdir(casDir, { recursive: true })
  const staging = await mkdtemp(join(casDir, '.import-'))
  try {
    if (info.isDirectory()) await copyTree(source, staging, limits)
    else if (/\.(tar|tar\.gz|tgz)$/i.test(source)) await extractTar(source, staging, limits)
    else throw bad(`The image artifact '${uri}' must be a directory or a .tar/.tar.gz file.`)
    await checkLinks(staging)
    await check(staging, uri)
    const digest = `sha256-${await treeDigest(staging)}`
    const final = join(casDir, digest)
    if (existsSync(final)) await rm(staging, { recursive: true, force: true })
    else await rename(staging, final)
    return digest
  } catch (err) {
    await rm(staging, { recursive: true, force: true })
    throw err
  }
}

/**
 * Confines a file:// image source to the operator's `--image-source-roots` and keeps it out of
 * the data dir (its token, database, keys and instances; only `{data-dir}/sources` may be a
 * root). Symbolic links are resolved first and the resolved path is what gets imported, so a
 * link planted under a root cannot lead out of it. Returns the URI to import.
 * @example confineImageSource('file:///tmp/web-1', { roots: ['/tmp'], dataDir: '/var/lib/osroll' }) → 'file:///tmp/web-1'
 */
export function confineImageSource(
  uri: string,
  o: { roots: readonly string[]; dataDir: string },
): string {
  const source = sourcePath(uri)
  let real: string
  try {
    real = realpathSync(source)
  } catch {
    throw bad(`The image artifact '${uri}' does not exist or cannot be read.`)
  }
  const real0 = (d: string) => {
    try {
      return realpathSync(d)
    } catch {
      return d
    }
  }
  const within = (dir: string) => {
    const r = relative(real0(dir), real)
    return r === '' || (!r.startsWith('..') && !r.startsWith(sep) && !/^[a-zA-Z]:/.test(r))
  }
  const sources = join(o.dataDir, 'sources')
  if (within(o.dataDir) && !within(sources))
    throw bad(
      `The image artifact '${uri}' is inside osroll's data dir, which holds its token, database and keys; publish from a directory outside it.`,
    )
  if (!o.roots.some((root) => within(root)))
    throw bad(
      o.roots.length === 0
        ? `The image artifact '${uri}' is refused: this server reads file:// image sources from no directory (--image-source-roots is empty).`
        : `The image artifact '${uri}' is not under one of the directories this server reads image sources from (--image-source-roots: ${o.roots.join(':')}).`,
    )
  return pathToFileURL(real).href
}

/** Where an imported artifact lives. */
export function artifactDir(casDir: string, digest: string): string {
  if (!/^sha256-[0-9a-f]{64}$/.test(digest)) throw new Error(`not an artifact digest: ${digest}`)
  return join(casDir, digest)
}

function sourcePath(uri: string): string {
  if (uri.startsWith('file://')) {
    try {
      return fileURLToPath(uri)
    } catch {
      throw bad(
        `'${uri}' is not a valid file:// URI; use an absolute path, e.g. file:///srv/images/web.`,
      )
    }
  }
  throw bad(
    `The local fabric boots file:// artifacts (a directory or a .tar/.tar.gz with an executable 'boot'), not '${uri}'.`,
  )
}

async function copyTree(source: string, dest: string, limits: ArtifactLimits): Promise<void> {
  let entries = 0
  let bytes = 0
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const path = join(dir, name)
      const s = await lstat(path)
      if (++entries > limits.maxEntries)
        throw bad(`The artifact has more than ${limits.maxEntries} entries.`)
      if (s.isSymbolicLink())
        continue // resolved against the copy (checkLinks)
      else if (s.isDirectory()) await walk(path)
      else if (s.isFile()) {
        bytes += s.size
        if (bytes > limits.maxBytes)
          throw bad(`The artifact is larger than ${limits.maxBytes} bytes.`)
      } else
        throw bad(
          `The artifact holds '${relative(source, path)}', which is neither a file, a directory nor a link.`,
        )
    }
  }
  await walk(source)
  await cp(source, dest, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true })
}

async function extractTar(file: string, dest: string, limits: ArtifactLimits): Promise<void> {
  const seen = { entries: 0, bytes: 0, files: new Set<string>(), links: new Set<string>() }
  const paths: string[] = []
  let problem: AppError | null = null
  // Pass 1: inspect every entry and refuse unsafe archives outright (not silently strip them).
  await tar
    .list({
      file,
      onReadEntry: (e) => {
        if (problem) return
        paths.push(entryPath(e.path))
        problem = entryProblem(e, seen, limits)
      },
    })
    .catch((err: unknown) => {
      throw bad(`The archive cannot be read: ${(err as Error).message}`)
    })
  problem ??= throughLink(paths, seen.links)
  if (problem) throw problem
  await tar.extract({ file, cwd: dest, strict: true, preservePaths: false, noChmod: false })
}

type Seen = { entries: number; bytes: number; files: Set<string>; links: Set<string> }

/** Why one archive entry is refused, or null; records what it is in `seen`. */
function entryProblem(
  e: { path: string; type: string; size?: number; linkpath?: string },
  seen: Seen,
  limits: ArtifactLimits,
): AppError | null {
  seen.entries++
  seen.bytes += e.size ?? 0
  const path = e.path
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path))
    return bad(`The archive holds an absolute path: '${path}'.`)
  if (path.split(/[\\/]/).includes('..'))
    return bad(`The archive holds a path that climbs out: '${path}'.`)
  const target = e.linkpath ?? ''
  if (e.type === 'SymbolicLink') {
    if (target.startsWith('/'))
      return bad(`The archive's link '${path}' points outside it ('${target}').`)
    seen.links.add(entryPath(path))
  } else if (e.type === 'Link') {
    // A hard link names a file by path from the archive's root: one this archive holds already.
    if (!seen.files.has(entryPath(target)))
      return bad(`The archive's hard link '${path}' points outside it ('${target}').`)
  } else if (['File', 'OldFile', 'ContiguousFile'].includes(e.type)) seen.files.add(entryPath(path))
  else if (e.type !== 'Directory')
    return bad(`The archive holds '${path}' of type ${e.type}, which an image cannot contain.`)
  if (seen.entries > limits.maxEntries)
    return bad(`The archive has more than ${limits.maxEntries} entries.`)
  if (seen.bytes > limits.maxBytes)
    return bad(`The archive unpacks to more than ${limits.maxBytes} bytes.`)
  return null
}

/** An entry below a symbolic link of the archive would be written through it: refused. */
function throughLink(paths: readonly string[], links: ReadonlySet<string>): AppError | null {
  for (const path of paths) {
    const parts = path.split('/')
    for (let n = 1; n < parts.length; n++) {
      const prefix = parts.slice(0, n).join('/')
      if (links.has(prefix))
        return bad(`The archive's entry '${path}' lies below its link '${prefix}'.`)
    }
  }
  return null
}

/** `./a//b/` → `a/b`. */
function entryPath(path: string): string {
  return posix
    .normalize(path.replace(/\\/g, '/'))
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '')
}

/**
 * Every symbolic link of the imported tree, resolved against the tree itself one component at
 * a time (links followed as the kernel would, up to 40): one that leaves it, is absolute or
 * loops is refused. A missing component resolves as text: nothing outside exists to follow.
 */
async function checkLinks(root: string): Promise<void> {
  const walk = async (rel: string[]): Promise<void> => {
    for (const name of await readdir(join(root, ...rel))) {
      const path = [...rel, name]
      const s = await lstat(join(root, ...path))
      if (s.isDirectory()) await walk(path)
      else if (s.isSymbolicLink()) {
        const target = await readlink(join(root, ...path))
        if ((await resolveInside(root, rel, target)) === null)
          throw bad(`The artifact's link '${path.join('/')}' points outside it ('${target}').`)
      }
    }
  }
  await walk([])
}

/** Where `target`, read in the folder `from`, leads inside `root` (its components), or null. */
async function resolveInside(
  root: string,
  from: readonly string[],
  target: string,
): Promise<string[] | null> {
  if (target.startsWith('/')) return null
  const at = [...from]
  const todo = target.split('/')
  for (let hops = 0; todo.length > 0;) {
    const part = todo.shift() as string
    if (part === '' || part === '.') continue
    if (part === '..') {
      if (at.pop() === undefined) return null
      continue
    }
    at.push(part)
    const s = await lstat(join(root, ...at)).catch(() => null)
    if (!s?.isSymbolicLink()) continue
    if (++hops > 40) return null
    const next = await readlink(join(root, ...at))
    if (next.startsWith('/')) return null
    at.pop()
    todo.unshift(...next.split('/'))
  }
  return at
}

async function checkBoot(dir: string, uri: string): Promise<void> {
  const boot = join(dir, 'boot')
  const s = await stat(boot).catch(() => null)
  if (!s || !s.isFile())
    throw bad(
      `The image artifact '${uri}' has no 'boot' file at its root; osroll starts an instance by running it.`,
    )
  if ((s.mode & (constants.S_IXUSR | constants.S_IXGRP | constants.S_IXOTH)) === 0) {
    throw bad(`The 'boot' file of '${uri}' is not executable (chmod +x boot).`)
  }
}

/** A digest of the tree: paths, kinds, modes and contents, in sorted order. */
async function treeDigest(root: string): Promise<string> {
  const h = createHash('sha256')
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name)
      const s = await lstat(path)
      const rel = relative(root, path).split(sep).join('/')
      if (s.isDirectory()) {
        h.update(`d ${rel}\n`)
        await walk(path)
      } else if (s.isSymbolicLink()) h.update(`l ${rel} ${await readlink(path)}\n`)
      else {
        h.update(`f ${rel} ${s.mode & 0o777} ${s.size}\n`)
        h.update(await readFile(path))
      }
    }
  }
  await walk(root)
  return h.digest('hex')
}

function bad(message: string): AppError {
  return Errors.InvalidParameter(message, TARGET)
}
