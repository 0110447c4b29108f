/**
 * OS disks built from one artifact: hard links to a read-only shared copy cost its bytes once,
 * stay private where programs replace files, never touch the published artifact, and are
 * repaired before a new disk is built when a shared file was changed in place.
 */
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { importArtifact, artifactDir } from '../host/artifacts.js'
import { OsDisks } from './os-disks.js'

const root = mkdtempSync(join(tmpdir(), 'osroll-disks-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

function artifact(name: string): string {
  const dir = join(root, name)
  mkdirSync(join(dir, 'lib'), { recursive: true })
  writeFileSync(join(dir, 'boot'), '#!/bin/sh\necho booted\n', { mode: 0o755 })
  writeFileSync(join(dir, 'lib', 'app.js'), 'console.log("v1")\n')
  writeFileSync(join(dir, 'config.json'), '{"port":8080}\n')
  return `file://${dir}`
}

describe('OS disks', () => {
  it('link: every disk links the shared copy; private directories; the artifact untouched', async () => {
    const cas = join(root, 'cas-link')
    const digest = await importArtifact(artifact('a'), cas)
    const disks = new OsDisks(cas, 'link')
    const targets = [1, 2, 3].map((n) => join(root, 'link', `os-${n}`))
    for (const t of targets) await disks.build(digest, t)
    const shared = join(cas, '.shared', digest)
    for (const file of ['boot', 'lib/app.js', 'config.json']) {
      const inodes = targets.map((t) => lstatSync(join(t, file)).ino)
      expect(new Set(inodes).size).toBe(1)
      expect(inodes[0]).toBe(lstatSync(join(shared, file)).ino)
      expect(inodes[0]).not.toBe(lstatSync(join(artifactDir(cas, digest), file)).ino)
      expect(lstatSync(join(targets[0]!, file)).nlink).toBe(4) // three disks + the shared copy
      expect(lstatSync(join(targets[0]!, file)).mode & 0o222).toBe(0) // read-only
    }
    expect(lstatSync(join(targets[0]!, 'boot')).mode & 0o111).not.toBe(0) // still executable
    expect(lstatSync(join(targets[0]!, 'lib')).ino).not.toBe(
      lstatSync(join(targets[1]!, 'lib')).ino,
    )
    expect(disks.stats).toMatchObject({ disks: 3, linkedFiles: 9, repairedFiles: 0 })

    // A program that replaces a file (write, rename over) changes its own disk only.
    writeFileSync(join(targets[0]!, 'config.json.new'), '{"port":9090}\n')
    renameSync(join(targets[0]!, 'config.json.new'), join(targets[0]!, 'config.json'))
    expect(readFileSync(join(targets[1]!, 'config.json'), 'utf8')).toBe('{"port":8080}\n')
    expect(readFileSync(join(shared, 'config.json'), 'utf8')).toBe('{"port":8080}\n')
  })

  it('link: a shared file changed in place is repaired from the artifact before the next disk', async () => {
    const cas = join(root, 'cas-repair')
    const digest = await importArtifact(artifact('b'), cas)
    const disks = new OsDisks(cas, 'link')
    const first = join(root, 'repair', 'os-1')
    await disks.build(digest, first)
    // Root ignores the read-only mode: this write reaches the shared inode.
    writeFileSync(join(first, 'lib', 'app.js'), 'console.log("tampered, and longer")\n')
    const second = join(root, 'repair', 'os-2')
    await disks.build(digest, second)
    expect(readFileSync(join(second, 'lib', 'app.js'), 'utf8')).toBe('console.log("v1")\n')
    expect(readFileSync(join(artifactDir(cas, digest), 'lib', 'app.js'), 'utf8')).toBe(
      'console.log("v1")\n',
    )
    expect(disks.stats.repairedFiles).toBe(1)
    // A restarted control plane reads the recorded manifest: nothing to repair, nothing copied.
    const again = new OsDisks(cas, 'link')
    await again.build(digest, join(root, 'repair', 'os-3'))
    expect(again.stats.repairedFiles).toBe(0)
    expect(lstatSync(join(root, 'repair', 'os-3', 'lib', 'app.js')).ino).toBe(
      lstatSync(join(second, 'lib', 'app.js')).ino,
    )
  })

  it('copy: private files; auto: clones or links, never a full copy', async () => {
    const cas = join(root, 'cas-copy')
    const digest = await importArtifact(artifact('c'), cas)
    const copies = new OsDisks(cas, 'copy')
    await copies.build(digest, join(root, 'copy', 'os-1'))
    expect(lstatSync(join(root, 'copy', 'os-1', 'boot')).nlink).toBe(1)
    expect(readFileSync(join(root, 'copy', 'os-1', 'lib', 'app.js'), 'utf8')).toBe(
      'console.log("v1")\n',
    )
    expect(['reflink', 'link']).toContain(await new OsDisks(cas, 'auto').effectiveMode(digest))
  })

  it('reflink where the filesystem cannot clone is a clear failure, not a silent copy', async () => {
    const cas = join(root, 'cas-reflink')
    const digest = await importArtifact(artifact('d'), cas)
    const disks = new OsDisks(cas, 'reflink')
    const auto = await new OsDisks(cas, 'auto').effectiveMode(digest)
    const built = disks.build(digest, join(root, 'reflink', 'os-1'))
    if (auto === 'reflink') await expect(built).resolves.toBeUndefined()
    else await expect(built).rejects.toThrow(/cannot clone files .*use auto, link or copy/)
  })
})
