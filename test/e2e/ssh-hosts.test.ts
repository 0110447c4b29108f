/**
 * The SSH hosts harness itself (test-support/ssh-hosts.ts): each namespace host answers over SSH
 * on its own address with its own host key, a cut-off host answers nothing until restored, a
 * rekeyed host shows a new fingerprint, and close() leaves no namespace, veth or sshd behind.
 * Root only (ip netns).
 */
import { execFileSync } from 'node:child_process'
import { dirname } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { sshHostsSkipReason, startSshHosts } from '../../test-support/ssh-hosts.js'
import type { SshHosts } from '../../test-support/ssh-hosts.js'

const skip = sshHostsSkipReason()

describe.skipIf(skip !== null)(`SSH namespace hosts${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let h: SshHosts | null = null
  afterAll(async () => h?.close())

  it('serves SSH per host, cuts one off and brings it back, rekeys, and cleans up', async () => {
    h = await startSshHosts(2)
    const [a, b] = h.hosts
    expect(a?.address).not.toBe(b?.address)
    for (const i of [0, 1]) {
      const r = await h.ssh(i, 'echo ok; cat /proc/self/net/dev | wc -l')
      expect(r.stderr).toBe('')
      expect(r.stdout.split('\n')[0]).toBe('ok')
    }
    expect(h.fingerprint(0)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
    expect(h.fingerprint(0)).not.toBe(h.fingerprint(1))

    await h.cutOff(0)
    const cut = await h.ssh(0, 'echo ok')
    expect(cut.code).not.toBe(0)
    expect(cut.stdout).toBe('')
    expect((await h.ssh(1, 'echo ok')).stdout).toBe('ok\n') // the other host is unharmed
    await h.restore(0)
    expect((await h.ssh(0, 'echo ok')).stdout).toBe('ok\n')

    const before = h.fingerprint(1)
    const after = await h.rekey(1)
    expect(after).not.toBe(before)
    expect((await h.ssh(1, 'echo ok')).stdout).toBe('ok\n')

    const names = h.hosts.map((x) => x.netns)
    const links = h.hosts.map((x) => x.link)
    const dir = dirname(h.privateKeyFile)
    await h.close()
    h = null
    const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    const ifaces = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    for (const n of names) expect(netns).not.toContain(n)
    for (const l of links) expect(ifaces).not.toContain(l)
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toContain(dir)
  })
})
