/**
 * A VM on a hypervisor host over SSH (issue 23, docs/qemu.md § Many hosts), root only: two
 * namespace hosts running Debian's sshd (test-support/ssh-hosts.ts), reached with the system
 * `ssh` and their pinned host keys. The sample image's kernel, initramfs and OS disk base are
 * copied to a host by their digests, and the second copy is skipped; a base damaged on the
 * other host is refused, naming both digests, by the copy and by the boot. One VM is booted on
 * host 0 with its pidfile, QMP socket and console in its directory there; the test (in the root
 * namespace) gets its /health over the veth from the host's address; QMP over an SSH-forwarded
 * socket says it runs, its power button stops it, and no QEMU is left in the namespace.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../test-support/api-harness.js'
import { QEMU_MISSING, killQemuOf, qemuProcessesOf, qemuSample } from '../../test-support/qemu.js'
import { sshHostsSkipReason, startSshHosts } from '../../test-support/ssh-hosts.js'
import type { SshHosts } from '../../test-support/ssh-hosts.js'
import { ensureBase, fileDigest, verifyBase } from '../../src/fabrics/host/remote-bases.js'
import { SshClient, scanHostKeys } from '../../src/fabrics/host/ssh.js'
import { remoteVmStatus, stopRemoteVm } from '../../src/fabrics/qemu/remote-qmp.js'
import {
  copyImageToHost,
  remoteConsoleTail,
  remoteVmAlive,
  startRemoteVm,
} from '../../src/fabrics/qemu/remote-vm.js'
import type { RemoteImage, RemoteVm } from '../../src/fabrics/qemu/remote-vm.js'
import type { SshTarget } from '../../src/fabrics/types/hosts.js'

/** Whether each of the image's kernel, initramfs and disk was copied. */
const copiedOf = (i: RemoteImage) => [i.kernel, i.initrd, i.disk].map((b) => b?.copied)

const skip =
  sshHostsSkipReason() ??
  (QEMU_MISSING.length > 0 ? `needs ${QEMU_MISSING.join(', ')} (the qemu tests' tools)` : null)

/** What osroll runs on a host (docs/qemu.md § Many hosts), and what the test's own commands need. */
const HOST_TOOLS = [
  'sh',
  'sha256sum',
  'cat',
  'mkdir',
  'chmod',
  'mv',
  'rm',
  'tail',
  'sed',
  'cut',
  'env',
  'qemu-img',
  'printf',
  'dd',
]

describe.skipIf(skip !== null)(
  `a VM on a host over SSH${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    const work = mkdtempSync(join(tmpdir(), 'osroll-qemu-hosts-'))
    const hostDir = (i: number) => join(work, `host${i}`)
    let hosts: SshHosts | null = null
    let ssh: SshClient
    const targets: SshTarget[] = []
    let image = ''
    let vm: RemoteVm | null = null
    /** VM `name` on host i: the sample image's smallest shape, under TCG. */
    const vmOn = (i: number, name: string, img: RemoteImage) =>
      ({ hostDir: hostDir(i), name, image: img, memoryMb: 256, vcpus: 1, accel: 'tcg' }) as const

    beforeAll(async () => {
      // Host 1's sessions find the tools osroll runs there, but no QEMU.
      const bin = join(work, 'bin-without-qemu')
      mkdirSync(bin)
      for (const tool of HOST_TOOLS)
        symlinkSync(
          execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(),
          join(bin, tool),
        )
      hosts = await startSshHosts(2, [{}, { path: bin }])
      ssh = new SshClient({ dir: join(work, 'ssh') })
      for (const h of hosts.hosts) {
        const [key] = await scanHostKeys(h.address, 22)
        expect(key?.fingerprint).toBe(hosts.fingerprint(h.index))
        targets.push({
          name: `hv${h.index}`,
          address: h.address,
          port: 22,
          user: hosts.user,
          privateKey: hosts.privateKey,
          hostKey: key!,
        })
      }
      image = fileURLToPath(await qemuSample(join(work, 'src'), '1.0.0'))
    }, 600_000)

    afterAll(async () => {
      try {
        if (vm && targets[0]) await stopRemoteVm(ssh, targets[0], vm, 5000).catch(() => undefined)
      } finally {
        killQemuOf(work) // whatever a failed test left: every VM's files are under work
        await hosts?.close()
        rmSync(work, { recursive: true, force: true })
      }
    })

    it('copies bases once by digest and refuses a base damaged on the host', async () => {
      const [t0, t1] = targets as [SshTarget, SshTarget]
      const t = Date.now()
      const first = await copyImageToHost(ssh, t0, hostDir(0), image)
      const copyMs = Date.now() - t
      expect(copiedOf(first)).toEqual([true, true, true])
      const disk = join(image, first.manifest.disk.path)
      expect(first.disk.digest).toBe(await fileDigest(disk))
      expect(first.disk.path).toBe(join(hostDir(0), 'bases', first.disk.digest))
      // The host's file is the local one, byte for byte (the namespaces share the file system).
      expect(readFileSync(first.disk.path).equals(readFileSync(disk))).toBe(true)

      const t2 = Date.now()
      const again = await copyImageToHost(ssh, t0, hostDir(0), image)
      const skipMs = Date.now() - t2
      expect(copiedOf(again)).toEqual([false, false, false])
      console.log(
        `copy of ${first.disk.bytes + first.kernel.bytes + (first.initrd?.bytes ?? 0)} bytes: ${copyMs} ms; skipped copy: ${skipMs} ms`,
      )

      // Host 1 gets its own copy; then a byte of it changes there.
      const other = await ensureBase(ssh, t1, hostDir(1), disk)
      expect(other.copied).toBe(true)
      const r = await hosts!.ssh(
        1,
        `chmod u+w '${other.path}' && printf X | dd of='${other.path}' bs=1 seek=4096 conv=notrunc 2>/dev/null`,
      )
      expect(r.code, r.stderr).toBe(0)
      const found = `sha256-${execFileSync('sha256sum', [other.path], { encoding: 'utf8' }).slice(0, 64)}`
      expect(found).not.toBe(other.digest)
      const refused = await ensureBase(ssh, t1, hostDir(1), disk).catch((e: Error) => e)
      expect(refused).toBeInstanceOf(Error)
      expect((refused as Error).message).toContain(`has digest ${found}, not ${other.digest}`)
      expect((refused as Error).message).toContain('host hv1')
      await expect(verifyBase(ssh, t1, other)).rejects.toThrow(`${found}, not ${other.digest}`)

      // Booting on the damaged base is refused before QEMU starts.
      const damaged = { ...first, disk: { ...first.disk, path: other.path } }
      await expect(startRemoteVm(ssh, t1, vmOn(1, 'refused', damaged))).rejects.toThrow(
        `has digest ${found}, not ${other.digest}`,
      )
      expect(qemuProcessesOf(hostDir(1))).toEqual([])
    }, 300_000)

    it('boots a VM on host 0, serves /health over the veth, and stops it over QMP', async () => {
      const t0 = targets[0]!
      const h0 = hosts!.hosts[0]!
      const remote = await copyImageToHost(ssh, t0, hostDir(0), image)
      const t = Date.now()
      vm = await startRemoteVm(ssh, t0, vmOn(0, 'vm0', remote))
      expect(vm.dir).toBe(join(hostDir(0), 'vms', 'vm0'))
      expect(Number(readFileSync(join(vm.dir, 'qemu.pid'), 'utf8').trim())).toBe(vm.pid)
      // The process runs in host 0's namespace, not the root one.
      expect(
        execFileSync('ip', ['netns', 'identify', String(vm.pid)], { encoding: 'utf8' }).trim(),
      ).toBe(h0.netns)
      expect(await remoteVmAlive(ssh, t0, vm)).toBe(true)
      expect(await remoteVmStatus(ssh, t0, vm)).toEqual({ status: 'running', running: true })

      const port = remote.manifest.ports[0] ?? 8080
      const health = async () => {
        try {
          const res = await fetch(`http://${h0.address}:${port}/health`, {
            signal: AbortSignal.timeout(3000),
          })
          return res.status === 200 ? await res.text() : null
        } catch {
          return null
        }
      }
      const body = await waitFor(health, `/health of vm0 at ${h0.address}:${port}`, 240_000).catch(
        async (e: Error) => {
          throw new Error(`${e.message}; its console:\n${await remoteConsoleTail(ssh, t0, vm!)}`)
        },
      )
      console.log(`vm0 on hv0: /health answered ${Date.now() - t} ms after start: ${body}`)
      expect(body).toBeTruthy()

      const s = Date.now()
      const how = await stopRemoteVm(ssh, t0, vm, 60_000)
      console.log(`vm0 stopped (${how}) in ${Date.now() - s} ms`)
      expect(how).toBe('PoweredDown')
      expect(await remoteVmAlive(ssh, t0, vm)).toBe(false)
      vm = null
      const pids = execFileSync('ip', ['netns', 'pids', h0.netns], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
      const names = pids.map((p) => {
        try {
          return readFileSync(`/proc/${p}/comm`, 'utf8').trim()
        } catch {
          return ''
        }
      })
      expect(names.filter((n) => n.startsWith('qemu'))).toEqual([])
      expect(qemuProcessesOf(work)).toEqual([])
      expect(await health()).toBeNull()
    }, 420_000)

    it('refuses to boot on a host without QEMU, naming it, once its damaged base is replaced', async () => {
      const t1 = targets[1]!
      // The operator removes the damaged base; the next copy puts it back.
      const disk = await fileDigest(join(image, 'disk.qcow2'))
      const r = await hosts!.ssh(1, `rm -f '${join(hostDir(1), 'bases', disk)}'`)
      expect(r.code, r.stderr).toBe(0)
      const remote = await copyImageToHost(ssh, t1, hostDir(1), image)
      expect(remote.disk.copied).toBe(true)
      expect(remote.kernel.copied).toBe(true)
      await expect(startRemoteVm(ssh, t1, vmOn(1, 'vm1', remote))).rejects.toThrow(
        'host hv1 has no qemu-system-x86_64: install the Debian package qemu-system-x86',
      )
      expect(qemuProcessesOf(hostDir(1))).toEqual([])
    }, 300_000)
  },
)
