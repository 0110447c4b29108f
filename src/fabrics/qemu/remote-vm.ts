/**
 * One QEMU VM on a hypervisor host reached over SSH (issue 23, docs/qemu.md § Many hosts): the
 * image's files copied to the host as content-addressed bases (host/remote-bases.ts) and their
 * digests checked there before each boot; the OS disk a qcow2 overlay on the base, made on the
 * host; QEMU started detached (`-daemonize`) with the single-host command line (`qemuArgs`), its
 * pidfile, QMP socket and console log in `{host dir}/vms/{name}`; its guest ports forwarded by
 * QEMU's user networking from the host's own address. QMP is reached through an SSH-forwarded
 * unix socket (remote-qmp.ts); the process is known by pid and start time, read on the host.
 */
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { MARK_ROOT, MARK_SPAWN } from '../host/processes.js'
import { ensureBase, verifyBase, type RemoteBase } from '../host/remote-bases.js'
import { runOnHost, saidBy, shOnHost } from '../host/remote.js'
import type { SshClient } from '../host/ssh.js'
import type { SshTarget } from '../types/hosts.js'
import { CONSOLE_LOG } from './console-log.js'
import { readManifest, type QemuManifest } from './manifest.js'
import { qemuArgs, QMP_SOCKET, tscKhzOf, type Accel } from './vm.js'

/** An image version's files on one host, each a verified content-addressed base. */
export type RemoteImage = Readonly<{
  manifest: QemuManifest
  kernel: RemoteBase
  initrd: RemoteBase | null
  disk: RemoteBase & Readonly<{ format: 'qcow2' | 'raw' }>
}>

/** A QEMU process on a host: where its files are, and its pid and start time there. */
export type RemoteVm = Readonly<{
  host: string
  name: string
  /** `{host dir}/vms/{name}`: qemu.pid, qmp.sock, console.log, qemu.log, disks/os.qcow2. */
  dir: string
  pid: number
  startTicks: number
  spawnId: string
}>

export type RemoteVmOptions = Readonly<{
  /** osroll's directory on the host (bases/, vms/). */
  hostDir: string
  /** The VM's name, its directory's: letters, digits, `-` and `_`. */
  name: string
  image: RemoteImage
  memoryMb: number
  vcpus: number
  accel: Accel
  /** The guest ports forwarded from `target.address`; the manifest's when not given. */
  ports?: readonly number[]
}>

/**
 * Copies the image artifact at `artifactDir` (its manifest's kernel, initrd and disk) to the
 * host, each file once by its digest.
 * @example (await copyImageToHost(ssh, target, '/var/lib/osroll', casDir + '/sha256-…')).disk.copied → false
 */
export async function copyImageToHost(
  ssh: SshClient,
  target: SshTarget,
  hostDir: string,
  artifactDir: string,
): Promise<RemoteImage> {
  const manifest = await readManifest(artifactDir)
  const put = (rel: string) => ensureBase(ssh, target, hostDir, join(artifactDir, rel))
  const kernel = await put(manifest.kernel)
  const initrd = manifest.initrd ? await put(manifest.initrd) : null
  const disk = { ...(await put(manifest.disk.path)), format: manifest.disk.format }
  return { manifest, kernel, initrd, disk }
}

/**
 * Starts the VM on the host: the image's bases checked there first (a wrong digest refuses the
 * boot, naming both), a fresh OS disk overlay, then QEMU detached. Throws with QEMU's own words
 * (its log's last lines) when it does not start.
 */
export async function startRemoteVm(
  ssh: SshClient,
  target: SshTarget,
  o: RemoteVmOptions,
): Promise<RemoteVm> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(o.name))
    throw new Error(`the VM name '${o.name}' must be 1–64 letters, digits, '-' or '_'`)
  const { image } = o
  const bases = [image.kernel, image.disk, ...(image.initrd ? [image.initrd] : [])]
  await Promise.all(bases.map((b) => verifyBase(ssh, target, b)))
  const dir = `${o.hostDir.replace(/\/+$/, '')}/vms/${o.name}`
  const osDisk = `${dir}/disks/os.qcow2`
  const overlay = await shOnHost(
    ssh,
    target,
    'mkdir -p -- "$1/disks" && rm -f -- "$2" && qemu-img create -q -f qcow2 -F "$3" -b "$4" "$2"',
    [dir, osDisk, image.disk.format, image.disk.path],
  )
  if (overlay.code !== 0)
    throw new Error(
      overlay.code === 127
        ? `host ${target.name} has no qemu-img: install the Debian package qemu-utils`
        : `the OS disk of ${o.name} could not be made on host ${target.name}: ${saidBy(overlay)}`,
    )
  const tscKhz = await remoteTscKhz(ssh, target)
  const args = qemuArgs({
    dir,
    kernel: image.kernel.path,
    ...(image.initrd ? { initrd: image.initrd.path } : {}),
    cmdline: image.manifest.cmdline,
    osDisk,
    dataDisks: [],
    memoryMb: o.memoryMb,
    vcpus: o.vcpus,
    accel: o.accel,
    hostAddress: target.address,
    ports: o.ports ?? image.manifest.ports,
    ...(tscKhz ? { tscKhz } : {}),
  })
  const spawnId = randomUUID()
  const env = ['env', `${MARK_ROOT}=${o.hostDir}`, `${MARK_SPAWN}=${spawnId}`]
  const r = await shOnHost(ssh, target, START_SCRIPT, [dir, ...env, 'qemu-system-x86_64', ...args])
  if (r.code !== 0)
    throw new Error(
      r.code === 127
        ? `host ${target.name} has no qemu-system-x86_64: install the Debian package qemu-system-x86`
        : `QEMU did not start ${o.name} on host ${target.name} (exit ${r.code}): ${r.stderr.trim() || 'no message'}`,
    )
  const [pid, startTicks] = r.stdout.trim().split(/\s+/).map(Number)
  if (!Number.isInteger(pid) || !Number.isInteger(startTicks))
    throw new Error(`QEMU on host ${target.name} left no pid: '${r.stdout.trim()}'`)
  return { host: target.name, name: o.name, dir, pid: pid!, startTicks: startTicks!, spawnId }
}

/**
 * `$1` the VM's directory, the rest the command. QEMU daemonizes once its sockets are open, so
 * a zero exit means QMP is there; its pid and start time (field 22 of /proc/PID/stat) are printed.
 */
const START_SCRIPT = [
  'dir=$1; shift',
  'cd -- "$dir" || exit 1',
  'rm -f qemu.pid',
  `"$@" -daemonize -pidfile "$dir/qemu.pid" </dev/null >>qemu.log 2>&1`,
  'code=$?',
  'if [ $code -ne 0 ]; then tail -n 5 qemu.log >&2; exit $code; fi',
  'pid=$(cat qemu.pid) || exit 1',
  `echo "$pid $(sed 's/.*) //' /proc/$pid/stat | cut -d' ' -f20)"`,
].join('\n')

/** Whether the VM's QEMU still runs on the host (the same pid and start time, not a zombie). */
export async function remoteVmAlive(
  ssh: SshClient,
  target: SshTarget,
  vm: Pick<RemoteVm, 'pid' | 'startTicks'>,
): Promise<boolean> {
  const r = await shOnHost(
    ssh,
    target,
    `s=$(sed 's/.*) //' /proc/$1/stat 2>/dev/null) || { echo gone; exit 0; }; echo "$s" | cut -d' ' -f1,20`,
    [String(vm.pid)],
  )
  if (r.code !== 0) throw new Error(`reading /proc on host ${target.name} failed: ${saidBy(r)}`)
  const [state, ticks] = r.stdout.trim().split(/\s+/)
  return state !== 'gone' && state !== 'Z' && state !== 'X' && Number(ticks) === vm.startTicks
}

/** SIGKILL to the VM's QEMU, only if the pid is still that process (its start time checked). */
export async function killRemoteVm(
  ssh: SshClient,
  target: SshTarget,
  vm: Pick<RemoteVm, 'pid' | 'startTicks'>,
): Promise<void> {
  await shOnHost(
    ssh,
    target,
    `[ "$(sed 's/.*) //' /proc/$1/stat 2>/dev/null | cut -d' ' -f20)" = "$2" ] && kill -KILL "$1"; exit 0`,
    [String(vm.pid), String(vm.startTicks)],
  )
}

/** The last `lines` of the VM's console on the host ('' when it has none). */
export async function remoteConsoleTail(
  ssh: SshClient,
  target: SshTarget,
  vm: Pick<RemoteVm, 'dir'>,
  lines = 20,
): Promise<string> {
  const r = await shOnHost(ssh, target, 'tail -n "$2" -- "$1" 2>/dev/null; exit 0', [
    `${vm.dir}/${CONSOLE_LOG}`,
    String(lines),
  ])
  return r.stdout
}

/** The QMP socket of the VM on its host. */
export function remoteQmpSocket(vm: Pick<RemoteVm, 'dir'>): string {
  return `${vm.dir}/${QMP_SOCKET}`
}

/** The host's TSC in kHz, from its /proc/cpuinfo (what the single-host launcher gives microvm). */
async function remoteTscKhz(ssh: SshClient, target: SshTarget): Promise<number | undefined> {
  const r = await runOnHost(ssh, target, ['cat', '/proc/cpuinfo'])
  return r.code === 0 ? tscKhzOf(r.stdout) : undefined
}
