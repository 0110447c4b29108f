/**
 * QMP of a VM on a hypervisor host (issue 23, docs/qemu.md § Many hosts), through OpenSSH's
 * unix-socket forwarding (`ssh -N -L local.sock:{vm dir}/qmp.sock`): the host needs nothing but
 * its sshd, and the single-host QmpClient speaks to the local end unchanged. Each use opens the
 * forward, runs, and closes it; the local socket is in a fresh 0700 directory, removed after.
 * Stopping a VM is the single host's sequence: the power button, retried, then QMP `quit`, then
 * SIGKILL of the recorded pid and start time; the process is confirmed gone on the host.
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SshClient } from '../host/ssh.js'
import type { SshTarget } from '../types/hosts.js'
import { QmpClient } from './qmp.js'
import { killRemoteVm, remoteQmpSocket, remoteVmAlive, type RemoteVm } from './remote-vm.js'

const CONNECT_MS = 15_000

/** Runs `use` with a QMP connection to the VM over SSH, closed (with its forward) after. */
export async function withRemoteQmp<T>(
  ssh: SshClient,
  target: SshTarget,
  vm: Pick<RemoteVm, 'dir' | 'name'>,
  use: (qmp: QmpClient) => Promise<T>,
): Promise<T> {
  const local = mkdtempSync(join(tmpdir(), 'osroll-qmp-'))
  const socket = join(local, 'qmp.sock')
  const forward = ssh.forward(target, socket, remoteQmpSocket(vm))
  let stderr = ''
  forward.stderr?.on('data', (b: Buffer) => (stderr += b.toString()))
  try {
    const qmp = await connectThrough(forward, socket, () => stderr, `${vm.name} on ${target.name}`)
    try {
      return await use(qmp)
    } finally {
      qmp.close()
    }
  } finally {
    await end(forward)
    rmSync(local, { recursive: true, force: true })
  }
}

/**
 * The VM's run state as QMP says (`query-status`).
 * @example await remoteVmStatus(ssh, target, vm) → { status: 'running', running: true }
 */
export function remoteVmStatus(
  ssh: SshClient,
  target: SshTarget,
  vm: Pick<RemoteVm, 'dir' | 'name'>,
): Promise<Readonly<{ status: string; running: boolean }>> {
  return withRemoteQmp(ssh, target, vm, async (qmp) => {
    const r = (await qmp.execute('query-status', undefined, 5000)) as {
      status?: unknown
      running?: unknown
    }
    return { status: String(r.status), running: r.running === true }
  })
}

/** How a stop ended: the guest powered off, QEMU quit when told, or it was killed. */
export type RemoteStop = 'AlreadyGone' | 'PoweredDown' | 'Quit' | 'Killed'

/**
 * Stops the VM: the power button over QMP every 2 s until `graceMs`, then `quit`, then SIGKILL;
 * resolves once the host shows the process gone, and throws if it never goes.
 */
export async function stopRemoteVm(
  ssh: SshClient,
  target: SshTarget,
  vm: RemoteVm,
  graceMs = 30_000,
): Promise<RemoteStop> {
  if (!(await remoteVmAlive(ssh, target, vm))) return 'AlreadyGone'
  const how = await withRemoteQmp(ssh, target, vm, async (qmp) => {
    const deadline = Date.now() + graceMs
    while (Date.now() < deadline) {
      await qmp.execute('system_powerdown', undefined, 2000).catch(() => undefined)
      if (await goneWithin(ssh, target, vm, Math.min(2000, deadline - Date.now())))
        return 'PoweredDown' as const
    }
    await qmp.execute('quit', undefined, 2000).catch(() => undefined)
    return (await goneWithin(ssh, target, vm, 3000)) ? ('Quit' as const) : null
  }).catch(() => null) // QMP unreachable: the kill below still stops it
  if (how) return how
  await killRemoteVm(ssh, target, vm)
  if (await goneWithin(ssh, target, vm, 5000)) return 'Killed'
  throw new Error(`QEMU of ${vm.name} (pid ${vm.pid}) still runs on host ${target.name}`)
}

async function goneWithin(
  ssh: SshClient,
  target: SshTarget,
  vm: RemoteVm,
  ms: number,
): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    if (!(await remoteVmAlive(ssh, target, vm))) return true
    if (Date.now() >= end) return false
    await new Promise((r) => setTimeout(r, 250))
  }
}

/**
 * Connects to the forward's local end: ssh binds it once logged in, and a connection it cannot
 * carry to the remote socket closes at once, so this retries until `CONNECT_MS`.
 */
async function connectThrough(
  forward: ChildProcess,
  socket: string,
  stderr: () => string,
  what: string,
): Promise<QmpClient> {
  const deadline = Date.now() + CONNECT_MS
  let last = 'nothing answered'
  while (Date.now() < deadline) {
    if (forward.exitCode !== null)
      throw new Error(
        `the SSH forward to QMP of ${what} ended (exit ${forward.exitCode}): ${stderr().trim() || 'no message'}`,
      )
    // Only once ssh has bound it: a connect to a missing path would leave QMP's greeting unawaited.
    if (!existsSync(socket)) {
      await new Promise((r) => setTimeout(r, 50))
      continue
    }
    try {
      return await QmpClient.connect(socket, 3000)
    } catch (e) {
      last = (e as Error).message
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  throw new Error(
    `QMP of ${what} did not answer over SSH within ${CONNECT_MS} ms: ${last}${stderr().trim() ? ` (ssh: ${stderr().trim()})` : ''}`,
  )
}

function end(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
