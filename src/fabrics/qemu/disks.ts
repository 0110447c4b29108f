/**
 * The qemu fabric's disks. An OS disk is a qcow2 overlay on its image version's read-only base
 * (in the content-addressed store); a data disk is a qcow2 of its own, formatted ext4 by osroll
 * when it is created (the guest never formats a disk) and touched by nothing but deleting the
 * instance; the NoCloud seed is an ISO labelled `cidata`, built for each new OS disk.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runTool } from './tools.js'

/** A new overlay at `path` on `base` (an absolute path), replacing any half-made one. */
export async function createOverlay(
  base: string,
  baseFormat: 'qcow2' | 'raw',
  path: string,
): Promise<void> {
  await rm(path, { force: true })
  await runTool('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', baseFormat, '-b', base, path])
}

/**
 * The largest file system osroll formats on a data disk: 1 TiB. A larger disk is a qcow2 of its
 * full size whose ext4 covers its first TiB (the guest may grow it with resize2fs): the metadata
 * of a full 32 TiB file system would cost every instance hundreds of MiB and seconds to write
 * (measured in docs/qemu.md § Sizes), where 1 TiB costs a few MiB and a fraction of a second.
 */
export const DATA_DISK_FS_MAX_MB = 1024 * 1024

/**
 * A data disk of `sizeMb`, ext4 inside, as qcow2 at `path` (written through a temporary file).
 * The file system is made on a sparse raw file, its block groups' metadata packed together
 * (`-G 1024`: fewer qcow2 clusters touched) and its inode tables and journal left for the
 * kernel to initialise lazily, then converted (holes stay holes) and grown to the disk's size.
 * @example await createDataDisk('/vms/s/0/disks/data-0.qcow2', 4 * 1024 * 1024, 'lun0') // 4 TiB
 */
export async function createDataDisk(path: string, sizeMb: number, label: string): Promise<void> {
  const raw = `${path}.raw`
  const fsMb = Math.min(sizeMb, DATA_DISK_FS_MAX_MB)
  await rm(raw, { force: true })
  await runTool('mke2fs', [
    '-q',
    '-t',
    'ext4',
    '-G',
    '1024',
    '-E',
    'lazy_itable_init=1,lazy_journal_init=1',
    '-L',
    label.slice(0, 16),
    raw,
    `${fsMb}M`,
  ])
  const tmp = `${path}.tmp`
  await runTool('qemu-img', ['convert', '-q', '-O', 'qcow2', raw, tmp])
  await rm(raw, { force: true })
  if (sizeMb > fsMb) await runTool('qemu-img', ['resize', '-q', tmp, `${sizeMb}M`])
  await runTool('mv', ['-f', tmp, path])
}

export type SeedData = Readonly<{
  /** Changes with each OS disk, so that custom data runs once per disk. */
  instanceId: string
  hostname: string
  osrollInstanceId: string
  /** The decoded custom data, or null. */
  userData: Buffer | null
}>

/** The NoCloud seed at `path`: `meta-data` and `user-data` on an ISO 9660 labelled cidata. */
export async function buildSeed(path: string, seed: SeedData): Promise<void> {
  const dir = `${path}.d`
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  const meta = [
    `instance-id: ${seed.instanceId}`,
    `local-hostname: ${seed.hostname}`,
    `osroll-instance: ${seed.osrollInstanceId}`,
    '',
  ].join('\n')
  await writeFile(join(dir, 'meta-data'), meta)
  await writeFile(join(dir, 'user-data'), seed.userData ?? '', { mode: 0o600 })
  await rm(path, { force: true })
  await runTool('genisoimage', [
    '-quiet',
    '-output',
    path,
    '-volid',
    'cidata',
    '-joliet',
    '-rock',
    join(dir, 'user-data'),
    join(dir, 'meta-data'),
  ])
  await rm(dir, { recursive: true, force: true })
}
