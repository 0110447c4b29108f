/**
 * What makes an image artifact bootable on the qemu fabric: `manifest.json` at the artifact's
 * root names a kernel, an optional initrd and the OS disk's base (qcow2 or raw), the kernel
 * command line, and the ports the guest serves. Checked on publish, so that a version that
 * cannot boot is refused with a 400 that says why, never found out at the first reimage.
 */
import { existsSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { isAbsolute, join, normalize } from 'node:path'
import { Errors } from '../../errors.js'
import { runTool } from './tools.js'

export const QEMU_MANIFEST_FORMAT = 'osroll.qemu-image/v1'

export type QemuManifest = Readonly<{
  format: typeof QEMU_MANIFEST_FORMAT
  version: string
  kernel: string
  initrd?: string
  disk: Readonly<{ path: string; format: 'qcow2' | 'raw' }>
  cmdline: string
  /** Ports the guest serves; osroll forwards each from the instance's private address. */
  ports: readonly number[]
  kernelRelease?: string
}>

const TARGET = 'properties.source.uri'

function bad(message: string) {
  return Errors.InvalidParameter(message, TARGET)
}

/** Parses and checks `dir/manifest.json` and the files it names; the disk with `qemu-img`. */
export async function readManifest(dir: string): Promise<QemuManifest> {
  const file = join(dir, 'manifest.json')
  if (!existsSync(file))
    throw bad('The image artifact has no manifest.json: the qemu fabric cannot boot it.')
  let raw: unknown
  try {
    raw = JSON.parse(await readFile(file, 'utf8'))
  } catch (e) {
    throw bad(`The image artifact's manifest.json is not valid JSON: ${(e as Error).message}`)
  }
  const m = parseManifest(raw)
  for (const [what, rel] of [
    ['kernel', m.kernel],
    ['initrd', m.initrd],
    ['disk', m.disk.path],
  ] as const) {
    if (rel === undefined) continue
    const path = join(dir, rel)
    if (!existsSync(path) || !statSync(path).isFile())
      throw bad(`The image artifact's ${what} '${rel}' (manifest.json) is missing.`)
  }
  await checkDisk(join(dir, m.disk.path), m.disk.format)
  return m
}

/** The manifest's shape: every field checked, unknown formats refused. */
export function parseManifest(raw: unknown): QemuManifest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw bad('manifest.json must hold a JSON object.')
  const o = raw as Record<string, unknown>
  if (o.format !== QEMU_MANIFEST_FORMAT)
    throw bad(
      `manifest.json's format ${JSON.stringify(o.format)} is unknown: the qemu fabric reads '${QEMU_MANIFEST_FORMAT}'.`,
    )
  const version = str(o.version, 'version')
  const kernel = relPath(o.kernel, 'kernel')
  const initrd = o.initrd === undefined ? undefined : relPath(o.initrd, 'initrd')
  const disk = o.disk as Record<string, unknown> | undefined
  if (typeof disk !== 'object' || disk === null) throw bad("manifest.json's disk is missing.")
  const format = disk.format
  if (format !== 'qcow2' && format !== 'raw')
    throw bad(`manifest.json's disk.format ${JSON.stringify(format)} is unknown: use qcow2 or raw.`)
  const cmdline = o.cmdline === undefined ? '' : str(o.cmdline, 'cmdline')
  const ports = o.ports === undefined ? [] : o.ports
  if (
    !Array.isArray(ports) ||
    !ports.every((p) => Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 65535)
  )
    throw bad("manifest.json's ports must be a list of port numbers (1–65535).")
  return {
    format: QEMU_MANIFEST_FORMAT,
    version,
    kernel,
    ...(initrd === undefined ? {} : { initrd }),
    disk: { path: relPath(disk.path, 'disk.path'), format },
    cmdline,
    ports: ports as number[],
    ...(typeof o.kernelRelease === 'string' ? { kernelRelease: o.kernelRelease } : {}),
  }
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 4096)
    throw bad(`manifest.json's ${field} must be a non-empty string.`)
  return v
}

function relPath(v: unknown, field: string): string {
  const s = str(v, field)
  const n = normalize(s)
  if (isAbsolute(s) || n.startsWith('..') || n.includes('\0'))
    throw bad(`manifest.json's ${field} '${s}' must be a path inside the artifact.`)
  return n
}

/** `qemu-img` must read the disk as the manifest says; a corrupt qcow2 is refused here. */
async function checkDisk(path: string, format: 'qcow2' | 'raw'): Promise<void> {
  let info: { format?: string; 'backing-filename'?: string }
  try {
    info = JSON.parse(
      (await runTool('qemu-img', ['info', '--output=json', '-f', format, path])).stdout,
    ) as typeof info
    if (format === 'qcow2') await runTool('qemu-img', ['check', '-q', '-f', 'qcow2', path])
  } catch (e) {
    throw bad(`The image artifact's disk cannot be read as ${format}: ${(e as Error).message}`)
  }
  if (info['backing-filename'])
    throw bad("The image artifact's disk must be self-contained (it names a backing file).")
}
