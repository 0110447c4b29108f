/**
 * The instance sandbox of the local fabric: `boot`, custom data, extension commands and `fileUris`
 * downloads run outside osroll's trust boundary, in bubblewrap (own mount, pid, ipc and uts
 * namespaces) that shows them /usr, a few /etc files, a private /tmp and the instance's own folder
 * (OS disks, data disks, logs) and nothing else — no token, database, TLS keys or other instance.
 * When osroll runs as root each instance also gets an unprivileged uid of its own (setpriv);
 * otherwise bubblewrap's user namespace keeps osroll's own uid. The host network is shared, as
 * instances listen on their loopback address and are probed there.
 */
import { spawn } from 'node:child_process'
import { existsSync, lstatSync, readlinkSync } from 'node:fs'
import { lchown, lstat, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { SandboxMode } from '../types/local-options.js'

/** The sandbox in effect: `auto` resolved by probing bubblewrap once. */
export type Sandbox = Readonly<
  { kind: 'bwrap'; perInstanceUid: boolean; uidBase: number } | { kind: 'none'; reason: string }
>

/** A command as it is spawned: the sandbox's argv around it. */
export type SandboxedCommand = Readonly<{
  command: string
  args: readonly string[]
  /** Spawned with cwd '/', the sandbox changes into the real working directory itself. */
  cwd: string
  /** bubblewrap writes `{"child-pid": n}` on fd 3: the pid whose death ends the instance. */
  reportsPid: boolean
}>

export const BWRAP = '/usr/bin/bwrap'
export const SETPRIV = '/usr/bin/setpriv'
/** Default first uid of instances: far above any real user or subuid range. */
export const DEFAULT_UID_BASE = 2_000_000_000

/** /etc files a program needs to resolve names, verify TLS and find users; nothing else of /etc. */
const ETC_FILES = [
  'alternatives',
  'ca-certificates',
  'ca-certificates.conf',
  'gai.conf',
  'group',
  'host.conf',
  'hosts',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'mime.types',
  'nsswitch.conf',
  'passwd',
  'protocols',
  'resolv.conf',
  'services',
  'ssl',
]
const ROOT_LINKS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']

const probes = new Map<string, Promise<Sandbox>>()

/**
 * The sandbox for `mode`, probed once per process: `auto` is bubblewrap when it works here, else
 * none (with the reason, which `serve` prints); `bwrap` that does not work throws.
 * @example await resolveSandbox('auto') → { kind: 'bwrap', perInstanceUid: true, uidBase: 2e9 }
 */
export function resolveSandbox(mode: SandboxMode, uidBase = DEFAULT_UID_BASE): Promise<Sandbox> {
  if (mode === 'none')
    return Promise.resolve({ kind: 'none', reason: 'turned off (--instance-sandbox none)' })
  const key = `${mode}|${uidBase}`
  let p = probes.get(key)
  if (!p) {
    p = probe(uidBase).then((problem) => {
      if (problem === null)
        return { kind: 'bwrap', perInstanceUid: isRoot(), uidBase } satisfies Sandbox
      if (mode === 'bwrap')
        throw new Error(`--instance-sandbox bwrap: bubblewrap does not work here: ${problem}`)
      return { kind: 'none', reason: `bubblewrap does not work here: ${problem}` } as const
    })
    probes.set(key, p)
  }
  return p
}

/**
 * The argv that runs `command` in the instance's sandbox, as `uid` when it has one.
 * @example sandboxed(s, { command: '/d/os-1/boot', args: [], instanceDir: '/d', cwd: '/d/os-1',
 *   uid: 2000012345 }) → { command: '/usr/bin/bwrap', args: ['--unshare-pid', …] }
 */
export function sandboxed(
  s: Sandbox,
  o: {
    command: string
    args: readonly string[]
    instanceDir: string
    cwd: string
    uid: number | null
    /** Host paths shown read-only at the same place (fileUris roots for a download). */
    readOnly?: readonly string[]
    reportPid?: boolean
  },
): SandboxedCommand {
  if (s.kind === 'none') return { command: o.command, args: o.args, cwd: o.cwd, reportsPid: false }
  const args = hostView()
  // bubblewrap makes the folders leading to a mount private (0700): these must be open.
  const open = new Set<string>()
  const mounts: [string, string][] = [['--bind', o.instanceDir]]
  for (const p of o.readOnly ?? []) mounts.push(['--ro-bind', p])
  if (!process.execPath.startsWith('/usr/')) mounts.push(['--ro-bind', process.execPath]) // downloads run on osroll's own node
  const binds: string[] = []
  for (const [kind, path] of mounts) {
    for (let d = dirname(path); d !== '/'; d = dirname(d)) open.add(d)
    binds.push(kind, path, path)
  }
  for (const d of [...open].sort()) args.push('--perms', '0755', '--dir', d)
  args.push(...binds)
  args.push('--chdir', o.cwd)
  if (o.reportPid) args.push('--info-fd', '3')
  args.push('--')
  if (o.uid !== null) args.push(...dropTo(o.uid))
  args.push(o.command, ...o.args)
  return { command: BWRAP, args, cwd: '/', reportsPid: o.reportPid === true }
}

/**
 * The instance's own uid when osroll runs as root: the base plus its address's last three octets
 * as one number, so two instances (of any osroll sharing this host's 127/8) never share one.
 * @example instanceUid(s, '127.77.1.2') → 2_000_000_000 + (77 << 16) + (1 << 8) + 2
 */
export function instanceUid(s: Sandbox, privateIp: string): number | null {
  if (s.kind !== 'bwrap' || !s.perInstanceUid) return null
  const [, a, b, c] = privateIp.split('.').map(Number)
  return s.uidBase + ((a as number) << 16) + ((b as number) << 8) + (c as number)
}

/**
 * Gives `root` and what osroll made under it to `uid`: directories, links and private files.
 * A file with more than one link is a shared copy (os-disks.ts `link` mode) and stays osroll's,
 * read-only. Only for trees no instance process has touched yet: links are never followed.
 */
export async function giveTreeTo(uid: number | null, root: string): Promise<void> {
  if (uid === null) return
  const walk = async (path: string): Promise<void> => {
    const s = await lstat(path)
    if (s.isDirectory()) for (const name of await readdir(path)) await walk(join(path, name))
    if (s.isDirectory() || s.isSymbolicLink() || s.nlink === 1) await lchown(path, uid, uid)
  }
  await walk(root)
}

/**
 * Gives `root` to `uid` unless it is the instance's already: a tree made before (or without) the
 * sandbox, when no process of the instance runs. The root is given last, so a cut-off pass
 * runs again.
 */
export async function ensureOwnedBy(uid: number | null, root: string): Promise<void> {
  if (uid === null || (await lstat(root)).uid === uid) return
  await giveTreeTo(uid, root)
}

/** Gives single paths osroll just made (never following a link) to `uid`. */
export async function giveTo(uid: number | null, ...paths: string[]): Promise<void> {
  if (uid === null) return
  for (const p of paths) await lchown(p, uid, uid)
}

/** /usr, the root links of a merged /usr, the needed /etc files, /proc, /dev and a /tmp. */
function hostView(): string[] {
  const args = ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try']
  if (!isRoot()) args.push('--unshare-user')
  args.push('--ro-bind', '/usr', '/usr')
  for (const name of ROOT_LINKS) {
    const path = `/${name}`
    const s = lstatOrNull(path)
    if (s?.isSymbolicLink()) args.push('--symlink', readlinkSync(path), path)
    else if (s?.isDirectory()) args.push('--ro-bind', path, path)
  }
  args.push('--perms', '0755', '--dir', '/etc')
  for (const name of ETC_FILES) args.push('--ro-bind-try', `/etc/${name}`, `/etc/${name}`)
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp')
  return args
}

/** setpriv: the instance's uid and gid, no supplementary groups, no capabilities left. */
function dropTo(uid: number): string[] {
  return [
    SETPRIV,
    `--reuid=${uid}`,
    `--regid=${uid}`,
    '--clear-groups',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--',
  ]
}

/** Runs `true` in a sandbox as an instance would; null when that works, else why not. */
async function probe(uidBase: number): Promise<string | null> {
  if (!existsSync(BWRAP)) return `${BWRAP} is not installed (Debian: apt-get install bubblewrap)`
  if (isRoot() && !existsSync(SETPRIV)) return `${SETPRIV} is not installed (util-linux)`
  const dir = await mkdtemp(join(tmpdir(), 'osroll-sandbox-probe-'))
  try {
    await giveTo(isRoot() ? uidBase : null, dir)
    const s: Sandbox = { kind: 'bwrap', perInstanceUid: isRoot(), uidBase }
    const c = sandboxed(s, {
      command: '/bin/sh',
      args: ['-c', 'test "$(id -u)" != 0'],
      instanceDir: dir,
      cwd: dir,
      uid: isRoot() ? uidBase : null,
    })
    return await new Promise<string | null>((resolve) => {
      const child = spawn(c.command, c.args, {
        cwd: c.cwd,
        env: { PATH: '/usr/bin:/bin' },
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let err = ''
      child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-500)))
      child.on('error', (e) => resolve(e.message))
      child.on('close', (code) =>
        resolve(code === 0 ? null : err.trim() || `the probe exited with code ${code}`),
      )
    })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function isRoot(): boolean {
  return process.getuid?.() === 0
}

function lstatOrNull(path: string): ReturnType<typeof lstatSync> | null {
  try {
    return lstatSync(path)
  } catch {
    return null
  }
}
