/** What remote-vm.ts refuses before reaching a host, and what it reads from one's cpuinfo. */
import { describe, expect, it } from 'vitest'
import { SshClient } from '../host/ssh.js'
import { startRemoteVm, type RemoteImage } from './remote-vm.js'
import { tscKhzOf } from './vm.js'

describe('a VM on a remote host', () => {
  it('refuses a VM name that cannot be a directory name, before any SSH', async () => {
    const ssh = new SshClient({ dir: '/nonexistent/never-used' })
    const target = {
      name: 'hv1',
      address: '192.0.2.1',
      port: 22,
      user: 'osroll',
      privateKey: 'unused',
      hostKey: { type: 'ssh-ed25519', base64: 'AAAA', fingerprint: 'SHA256:x' },
    }
    for (const name of ['../etc', 'a b', '', 'x'.repeat(65)])
      await expect(
        startRemoteVm(ssh, target, {
          hostDir: '/var/lib/osroll',
          name,
          image: {} as RemoteImage,
          memoryMb: 256,
          vcpus: 1,
          accel: 'tcg',
        }),
      ).rejects.toThrow(`the VM name '${name}' must be 1–64 letters, digits, '-' or '_'`)
  })

  it("reads a host's TSC frequency from its /proc/cpuinfo text", () => {
    expect(tscKhzOf('processor\t: 0\ncpu MHz\t\t: 2399.998\n')).toBe(2_399_998)
    expect(tscKhzOf('processor\t: 0\n')).toBeUndefined()
  })
})
