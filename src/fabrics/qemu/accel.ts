/**
 * KVM or TCG, measured rather than assumed. A `/dev/kvm` that opens is not proof of hardware
 * virtualisation: on some hosts it is a software shim hundreds of times slower than QEMU's own
 * TCG. So `auto` runs the same tiny guest (a boot sector that counts down a register, then exits
 * through QEMU's isa-debug-exit port) under TCG and under KVM, and keeps KVM only when it is
 * faster. The probe costs under a second where KVM is real or absent, about twice the TCG run
 * where it is a shim.
 */
import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Errors } from '../../errors.js'
import type { Accel } from './vm.js'
import type { AccelChoice } from '../types/qemu-options.js'

export type AccelDecision = Readonly<{ accel: Accel; reason: string }>

/** The boot sector: `mov ecx, 2^26; dec ecx; jnz -4; out 0xf4, al; hlt`, signed 0x55AA. */
function bootSector(): Buffer {
  const code = [0x66, 0xb9, 0, 0, 0, 0x04, 0x66, 0x49, 0x75, 0xfc, 0xb0, 0, 0xe6, 0xf4, 0xf4]
  const sector = Buffer.alloc(512)
  Buffer.from(code).copy(sector)
  sector[510] = 0x55
  sector[511] = 0xaa
  return sector
}

/** Whether this process may open /dev/kvm for reading and writing. */
export function kvmOpenable(device = '/dev/kvm'): boolean {
  try {
    accessSync(device, constants.R_OK | constants.W_OK)
    return true
  } catch {
    return false
  }
}

/**
 * Runs the probe guest under `accel`; the milliseconds it took, or null when it did not finish
 * within `timeoutMs` or did not exit through the debug port (exit status 1).
 */
async function timeGuest(image: string, accel: Accel, timeoutMs: number): Promise<number | null> {
  const started = performance.now()
  const code = await new Promise<number | null>((resolve) => {
    execFile(
      'qemu-system-x86_64',
      [
        ...['-machine', 'pc', '-accel', accel, '-nodefaults', '-display', 'none', '-no-reboot'],
        ...['-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'],
        ...['-drive', `file=${image},format=raw,if=ide`],
      ],
      { timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err) => resolve(err ? ((err as { code?: unknown }).code as number | null) : 0),
    )
  })
  return code === 1 ? Math.round(performance.now() - started) : null
}

/**
 * The accelerator to run VMs with: `tcg` and `kvm` as asked (`kvm` refused when /dev/kvm cannot
 * be opened), `auto` as measured.
 * @example await chooseAccel('auto') → { accel: 'tcg', reason: 'KVM took over 840 ms, TCG 420 ms' }
 */
export async function chooseAccel(
  choice: AccelChoice,
  device = '/dev/kvm',
): Promise<AccelDecision> {
  if (choice === 'tcg') return { accel: 'tcg', reason: 'asked for (--qemu-accel tcg)' }
  if (!kvmOpenable(device)) {
    if (choice === 'kvm')
      throw Errors.FabricUnavailable(
        `--qemu-accel kvm needs ${device} readable and writable by osroll; it is not. Use --qemu-accel tcg or auto.`,
      )
    return { accel: 'tcg', reason: `${device} cannot be opened` }
  }
  if (choice === 'kvm') return { accel: 'kvm', reason: 'asked for (--qemu-accel kvm)' }
  const dir = await mkdtemp(join(tmpdir(), 'osroll-accel-'))
  try {
    const image = join(dir, 'probe.img')
    await writeFile(image, bootSector())
    const tcg = await timeGuest(image, 'tcg', 20_000)
    if (tcg === null) return { accel: 'tcg', reason: 'the TCG probe did not finish; KVM not tried' }
    const limit = Math.max(1000, 2 * tcg)
    const kvm = await timeGuest(image, 'kvm', limit)
    if (kvm !== null && kvm < tcg)
      return { accel: 'kvm', reason: `measured: KVM ${kvm} ms, TCG ${tcg} ms` }
    return {
      accel: 'tcg',
      reason:
        kvm === null
          ? `measured: KVM did not finish within ${limit} ms, TCG ${tcg} ms`
          : `measured: KVM ${kvm} ms, TCG ${tcg} ms`,
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
