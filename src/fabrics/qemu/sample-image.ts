/**
 * Builds the qemu fabric's sample image version from Debian packages only: the Debian cloud
 * kernel (`apt-get download linux-image-cloud-amd64`), busybox-static, and the guest scripts in
 * `examples/images/qemu`. The result is a directory to publish with `--source file://DIR`:
 *
 *   manifest.json   what boots (docs/qemu.md): kernel, initrd, disk, command line, ports
 *   vmlinuz         the kernel
 *   initrd.img      stage 1: virtio modules + busybox + /init, finds the OS disk by serial
 *   disk.qcow2      the OS disk's base: ext4 with busybox, /sbin/init and /etc/osroll/image.json
 *
 * The same inputs give the same bytes (fixed UUIDs and hash seeds, file times clamped, gzip -n),
 * so the same version built twice has the same digests.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { Errors } from '../../errors.js'
import { QEMU_MANIFEST_FORMAT, type QemuManifest } from './manifest.js'
import { requireTools, runTool } from './tools.js'

/** Modules stage 1 loads, in dependency order (`virtio_ring` before `virtio`, …). */
export const GUEST_MODULES = [
  'drivers/virtio/virtio_ring',
  'drivers/virtio/virtio',
  'drivers/virtio/virtio_mmio',
  'net/core/failover',
  'drivers/net/net_failover',
  'drivers/net/virtio_net',
  'drivers/block/virtio_blk',
  'drivers/cdrom/cdrom',
  'fs/isofs/isofs',
  'drivers/acpi/button',
  'drivers/input/evdev',
] as const

export type SampleImageOptions = Readonly<{
  version: string
  health?: 'healthy' | 'unhealthy'
  /** The port the guest serves `/` and `/health` on. */
  port?: number
  outDir: string
  /** A directory that keeps the downloaded kernel package between builds. */
  cacheDir: string
  /** A kernel package (.deb) to use instead of downloading the current cloud kernel. */
  kernelDeb?: string
  onProgress?: (step: string) => void
}>

const EPOCH = '1'
const ENV = { ...process.env, SOURCE_DATE_EPOCH: EPOCH, E2FSPROGS_FAKE_TIME: EPOCH, LC_ALL: 'C' }

/** Where the guest scripts live: `examples/images/qemu` of the installed package. */
export function guestScriptsDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../examples/images/qemu')
}

/**
 * Builds the sample image into `outDir` (which must not exist or be empty) and returns its
 * manifest.
 * @example await buildSampleImage({ version: '1.1.0', outDir: '/tmp/img-1.1.0', cacheDir })
 */
export async function buildSampleImage(o: SampleImageOptions): Promise<QemuManifest> {
  requireTools([
    'busybox',
    'mke2fs',
    'debugfs',
    'qemu-img',
    'dpkg-deb',
    ...(o.kernelDeb ? [] : ['apt-get']),
  ])
  if (!/^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/.test(o.version))
    throw Errors.InvalidParameter(`'${o.version}' is not a valid image version.`, 'version')
  const port = o.port ?? 8080
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw Errors.InvalidParameter(`The port ${port} is not between 1 and 65535.`, 'port')
  if (existsSync(o.outDir) && (await readdir(o.outDir)).length > 0)
    throw Errors.InvalidParameter(`The output directory '${o.outDir}' is not empty.`, 'out')
  const progress = o.onProgress ?? (() => {})
  const work = await mkdtemp(join(tmpdir(), 'osroll-sample-'))
  try {
    progress('kernel package')
    const deb = o.kernelDeb ?? (await downloadCloudKernel(o.cacheDir))
    const kernelRoot = join(work, 'kernel')
    await runTool('dpkg-deb', ['-x', deb, kernelRoot])
    const release = await kernelRelease(kernelRoot)
    await mkdir(o.outDir, { recursive: true })
    await copyFile(join(kernelRoot, 'boot', `vmlinuz-${release}`), join(o.outDir, 'vmlinuz'))
    progress('initramfs')
    await buildInitramfs(join(work, 'initramfs'), kernelRoot, release, join(o.outDir, 'initrd.img'))
    progress('OS disk')
    await buildOsDisk(join(work, 'rootfs'), o, port, join(o.outDir, 'disk.qcow2'))
    const manifest: QemuManifest = {
      format: QEMU_MANIFEST_FORMAT,
      version: o.version,
      kernel: 'vmlinuz',
      initrd: 'initrd.img',
      disk: { path: 'disk.qcow2', format: 'qcow2' },
      cmdline: 'console=ttyS0 quiet cryptomgr.notests panic=-1',
      ports: [port],
      kernelRelease: release,
    }
    await writeFile(join(o.outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
    return manifest
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/** Downloads the current `linux-image-cloud-amd64` kernel package into `cacheDir` (once). */
async function downloadCloudKernel(cacheDir: string): Promise<string> {
  await mkdir(cacheDir, { recursive: true })
  const meta = await runTool('apt-cache', ['depends', 'linux-image-cloud-amd64']).catch(() => {
    throw Errors.FabricUnavailable(
      'apt-cache does not know linux-image-cloud-amd64: run apt-get update, or pass --kernel-deb.',
    )
  })
  const pkg = /Depends: (linux-image-[0-9][^\s]*-cloud-amd64)/.exec(meta.stdout)?.[1]
  if (!pkg)
    throw Errors.FabricUnavailable(
      'Cannot find the package linux-image-cloud-amd64 depends on; pass --kernel-deb.',
    )
  const cached = (await readdir(cacheDir)).find(
    (f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'),
  )
  if (cached) return join(cacheDir, cached)
  await runTool('apt-get', ['download', pkg], { cwd: cacheDir })
  const got = (await readdir(cacheDir)).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'))
  if (!got)
    throw Errors.FabricUnavailable(`apt-get download ${pkg} left no package in ${cacheDir}.`)
  return join(cacheDir, got)
}

async function kernelRelease(kernelRoot: string): Promise<string> {
  const vmlinuz = (await readdir(join(kernelRoot, 'boot'))).find((f) => f.startsWith('vmlinuz-'))
  if (!vmlinuz) throw Errors.InvalidParameter('The kernel package holds no /boot/vmlinuz-*.')
  return vmlinuz.slice('vmlinuz-'.length)
}

async function buildInitramfs(
  dir: string,
  kernelRoot: string,
  release: string,
  out: string,
): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true })
  await mkdir(join(dir, 'lib/modules'), { recursive: true })
  await copyFile('/bin/busybox', join(dir, 'bin/busybox'))
  await copyFile(join(guestScriptsDir(), 'initramfs-init'), join(dir, 'init'))
  await chmod(join(dir, 'init'), 0o755)
  const modules = join(kernelRoot, 'lib/modules', release, 'kernel')
  const order: string[] = []
  for (const m of GUEST_MODULES) {
    const name = m.split('/').pop() as string
    const src = join(modules, `${m}.ko`)
    if (!existsSync(src)) throw Errors.InvalidParameter(`The kernel ${release} lacks ${m}.ko.`)
    await copyFile(src, join(dir, 'lib/modules', `${name}.ko`))
    order.push(name)
  }
  await writeFile(join(dir, 'lib/modules/order'), order.join('\n') + '\n')
  await packCpio(dir, out)
}

/**
 * A newc cpio of `dir`: entries in sorted order with fixed inode numbers, owner root and
 * clamped times (busybox cpio writes the host's inode numbers), then gzip without a name or time.
 */
async function packCpio(dir: string, out: string): Promise<void> {
  const chunks: Buffer[] = []
  let ino = 1
  const entry = (name: string, mode: number, data: Buffer) => {
    const fields = [
      ino++,
      mode,
      0,
      0,
      1,
      Number(EPOCH),
      data.length,
      0,
      0,
      0,
      0,
      name.length + 1,
      0,
    ]
    const header = '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('')
    const head = Buffer.from(`${header}${name}\0`, 'latin1')
    chunks.push(head, Buffer.alloc((4 - (head.length % 4)) % 4))
    chunks.push(data, Buffer.alloc((4 - (data.length % 4)) % 4))
  }
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    )
    for (const d of names) {
      const path = rel ? `${rel}/${d.name}` : d.name
      if (d.isDirectory()) {
        entry(path, 0o040755, Buffer.alloc(0))
        await walk(path)
      } else if (d.isFile()) {
        const mode = (await stat(join(dir, path))).mode & 0o111 ? 0o100755 : 0o100644
        entry(path, mode, await readFile(join(dir, path)))
      } else throw new Error(`initramfs: unexpected file type at ${path}`)
    }
  }
  await walk('')
  entry('TRAILER!!!', 0, Buffer.alloc(0))
  await writeFile(out, gzipSync(Buffer.concat(chunks), { level: 9 }))
}

async function buildOsDisk(
  dir: string,
  o: SampleImageOptions,
  port: number,
  out: string,
): Promise<void> {
  for (const d of [
    'bin',
    'sbin',
    'etc/osroll',
    'proc',
    'sys',
    'dev',
    'run',
    'tmp',
    'data',
    'var/lib/osroll',
  ])
    await mkdir(join(dir, d), { recursive: true })
  // Copied one by one in sorted order (mke2fs -d takes the host's directory order), and with no
  // applet links: /sbin/init installs them on first boot.
  await copySorted(join(guestScriptsDir(), 'rootfs'), dir)
  await copyFile('/bin/busybox', join(dir, 'bin/busybox'))
  await chmod(join(dir, 'bin/busybox'), 0o755)
  await symlink('busybox', join(dir, 'bin/sh'))
  const config = { version: o.version, health: o.health ?? 'healthy', port }
  await writeFile(join(dir, 'etc/osroll/image.json'), JSON.stringify(config) + '\n')
  await writeFile(join(dir, 'etc/hostname'), 'osroll\n')
  const uuid = stableUuid(`osroll-sample ${o.version} ${config.health} ${port}`)
  await runTool('find', [dir, '-exec', 'touch', '-h', '-d', `@${EPOCH}`, '{}', '+'])
  const raw = `${out}.raw`
  await runTool(
    'mke2fs',
    [
      '-q',
      '-t',
      'ext4',
      '-d',
      dir,
      '-U',
      uuid,
      '-E',
      `hash_seed=${uuid},root_owner=0:0`,
      '-L',
      'osroll-os',
      // No resize inode: its reserved blocks are not zeroed, and the image must be reproducible.
      '-O',
      '^resize_inode',
      raw,
      '64M',
    ],
    { env: ENV },
  )
  // mke2fs 1.47.0 copies each file's ctime from the host (touch cannot set it): clamp them. It
  // numbers inodes from 11 in the order it copies, one per entry.
  const entries = (await runTool('find', [dir, '-mindepth', '1'])).stdout
    .split('\n')
    .filter(Boolean)
  const inodes = [2, ...Array.from({ length: entries.length + 1 }, (_, i) => 11 + i)]
  const script = join(dirname(out), '.ctime.debugfs')
  await writeFile(script, inodes.map((n) => `sif <${n}> ctime ${EPOCH}\n`).join(''))
  await runTool('debugfs', ['-w', '-f', script, raw], { env: ENV })
  await rm(script)
  await runTool('qemu-img', ['convert', '-O', 'qcow2', raw, out])
  await rm(raw)
}

async function copySorted(from: string, to: string): Promise<void> {
  const names = (await readdir(from, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  )
  for (const d of names) {
    if (d.isDirectory()) {
      await mkdir(join(to, d.name), { recursive: true })
      await copySorted(join(from, d.name), join(to, d.name))
    } else {
      await copyFile(join(from, d.name), join(to, d.name))
      await chmod(join(to, d.name), (await stat(join(from, d.name))).mode & 0o777)
    }
  }
}

/** A UUID derived from text, so that the same inputs give the same file system. */
function stableUuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/** sha256 of each file the manifest names, for `image sample`'s report. */
export async function manifestDigests(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const f of ['manifest.json', 'vmlinuz', 'initrd.img', 'disk.qcow2'])
    out[f] = createHash('sha256')
      .update(await readFile(join(dir, f)))
      .digest('hex')
  return out
}
