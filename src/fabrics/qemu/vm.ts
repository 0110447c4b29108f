/**
 * One QEMU virtual machine: its command line (pure, `qemuArgs`), its start as a detached process
 * that outlives osroll like a VM (`processes.ts`: its own session, the instance marker in its
 * environment, pid plus start time), and its stop: ACPI power button over QMP, retried because a
 * press before the guest's watcher runs is lost, then QMP `quit`, then SIGKILL.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isAlive, startProcess, stopProcess, type ProcessRef } from '../host/processes.js'
import { CONSOLE_LOG } from './console-log.js'
import { QmpClient } from './qmp.js'

export type Accel = 'kvm' | 'tcg'

export type VmSpec = Readonly<{
  /** The VM's own directory: QMP socket, console log, pid. */
  dir: string
  kernel: string
  initrd?: string
  cmdline: string
  osDisk: string
  /** The NoCloud seed (an ISO labelled cidata), attached read-only. */
  seed?: string
  dataDisks: readonly Readonly<{ lun: number; path: string }>[]
  memoryMb: number
  vcpus: number
  accel: Accel
  /** Host address the guest's ports are forwarded from (the instance's private address). */
  hostAddress: string
  ports: readonly number[]
  /** The host TSC in kHz, given to the guest so that microvm boots never hang calibrating. */
  tscKhz?: number
  /** The metadata service's relay (`metadata-sockets.ts`): QEMU runs it per guest connection. */
  metadata?: Readonly<{ node: string; relay: string; socket: string }>
}>

export const QMP_SOCKET = 'qmp.sock'
/**
 * The guest's user-mode network (docs/qemu.md § The metadata service): QEMU forwards a guest
 * address only inside `net=`, so the guest network is the link-local /24 that holds the metadata address.
 * The guest is 169.254.169.15, its gateway 169.254.169.2.
 */
export const GUEST_NET = '169.254.169.0/24'
export const METADATA_ADDRESS = '169.254.169.254'

/** QEMU's arguments for `spec`: microvm, direct kernel boot, virtio-mmio disks with serials. */
export function qemuArgs(spec: VmSpec): string[] {
  const append = [spec.cmdline, spec.tscKhz ? `tsc_early_khz=${spec.tscKhz}` : '']
    .filter(Boolean)
    .join(' ')
  const args = [
    '-machine',
    'microvm',
    '-accel',
    spec.accel,
    '-nodefaults',
    '-no-user-config',
    '-no-reboot',
    '-display',
    'none',
    '-m',
    String(spec.memoryMb),
    '-smp',
    String(spec.vcpus),
    '-kernel',
    spec.kernel,
    ...(spec.initrd ? ['-initrd', spec.initrd] : []),
    '-append',
    append,
    '-chardev',
    `file,id=console,path=${join(spec.dir, CONSOLE_LOG)},append=on`,
    '-serial',
    'chardev:console',
    ...drive('os', spec.osDisk, 'qcow2', 'osroll-os'),
    ...(spec.seed ? drive('seed', spec.seed, 'raw', 'osroll-seed', true) : []),
    ...spec.dataDisks.flatMap((d) => drive(`lun${d.lun}`, d.path, 'qcow2', `osroll-lun-${d.lun}`)),
    '-netdev',
    [
      'user,id=net0',
      `net=${GUEST_NET}`,
      ...spec.ports.map((p) => `hostfwd=tcp:${spec.hostAddress}:${p}-:${p}`),
      ...(spec.metadata ? [metadataForward(spec.metadata)] : []),
    ].join(','),
    '-device',
    'virtio-net-device,netdev=net0',
    '-qmp',
    `unix:${join(spec.dir, QMP_SOCKET)},server=on,wait=off`,
  ]
  return args
}

function drive(id: string, file: string, format: string, serial: string, readOnly = false) {
  const ro = readOnly ? ',readonly=on' : ''
  return [
    '-drive',
    `if=none,id=${id},file=${escapeOpt(file)},format=${format}${ro}`,
    '-device',
    `virtio-blk-device,drive=${id},serial=${serial}`,
  ]
}

/**
 * Each guest connection to 169.254.169.254:80 runs the relay with the VM's own socket as its
 * argument: the VM's identity is fixed here, by osroll, and nothing the guest sends changes it.
 * QEMU splits the command shell-style (without a shell), so each argument is single-quoted.
 */
function metadataForward(m: NonNullable<VmSpec['metadata']>): string {
  const cmd = [m.node, m.relay, m.socket].map(shellQuote).join(' ')
  return `guestfwd=tcp:${METADATA_ADDRESS}:80-cmd:${escapeOpt(cmd)}`
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`
}

/** QEMU's option syntax doubles commas inside a value. */
function escapeOpt(value: string): string {
  return value.replaceAll(',', ',,')
}

/** Starts the VM detached; `env` carries the instance marker (`processes.ts`). */
export async function startVm(
  spec: VmSpec,
  env: Record<string, string>,
  qemu = 'qemu-system-x86_64',
): Promise<ProcessRef> {
  return startProcess({
    command: qemu,
    args: qemuArgs(spec),
    cwd: spec.dir,
    env,
    logFile: join(spec.dir, 'qemu.log'),
  })
}

/**
 * Stops the VM: the power button (retried every 300 ms: a press before the guest watches it is
 * lost), QMP `quit` when the guest has not powered off within `graceMs`, SIGKILL last.
 */
export async function stopVm(ref: ProcessRef, dir: string, graceMs: number): Promise<void> {
  if (!isAlive(ref)) return
  const socket = join(dir, QMP_SOCKET)
  const deadline = Date.now() + graceMs
  let qmp: QmpClient | null = null
  try {
    if (existsSync(socket)) qmp = await QmpClient.connect(socket, 1000).catch(() => null)
    while (qmp && isAlive(ref) && Date.now() < deadline) {
      await qmp.execute('system_powerdown', undefined, 1000).catch(() => undefined)
      await exited(ref, Math.min(300, Math.max(0, deadline - Date.now())))
    }
    if (qmp && isAlive(ref)) await qmp.execute('quit', undefined, 1000).catch(() => undefined)
  } finally {
    qmp?.close()
  }
  if (isAlive(ref)) await exited(ref, 1000)
  await stopProcess(ref, 1000) // no-op when it is gone
}

async function exited(ref: ProcessRef, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (isAlive(ref)) {
    if (Date.now() >= end) return false
    await new Promise((r) => setTimeout(r, 20))
  }
  return true
}

/** The host's TSC frequency in kHz, from /proc/cpuinfo; undefined when it does not say. */
export function hostTscKhz(): number | undefined {
  try {
    return tscKhzOf(readFileSync('/proc/cpuinfo', 'utf8'))
  } catch {
    return undefined
  }
}

/** The TSC frequency in kHz a /proc/cpuinfo text gives (a remote host's too), or undefined. */
export function tscKhzOf(cpuinfo: string): number | undefined {
  const mhz = /cpu MHz\s*:\s*([0-9.]+)/.exec(cpuinfo)?.[1]
  return mhz ? Math.round(Number(mhz) * 1000) : undefined
}

/**
 * The accelerator a running QEMU was started under, read from its command line (`-accel X`);
 * null when the process is gone or names none.
 */
export function accelOfProcess(pid: number): Accel | null {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    const a = args[args.indexOf('-accel') + 1]
    return args.includes('-accel') && (a === 'kvm' || a === 'tcg') ? a : null
  } catch {
    return null
  }
}
