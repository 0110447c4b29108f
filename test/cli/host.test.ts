/**
 * `osroll host` against a real server (docs/api.md § Hosts): list shows the implicit local host,
 * add refuses missing flags, a public key file and a bad value before or at the server with a
 * message saying what to fix; as root, against a namespace host running sshd
 * (test-support/ssh-hosts.ts), add pins its host key in one command, show, list -o tsv and
 * check read it back, and remove takes it out.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness } from '../../test-support/api-harness.js'
import { cliRunner } from '../../test-support/cli-runner.js'
import { sshHostsSkipReason, startSshHosts } from '../../test-support/ssh-hosts.js'
import type { SshHosts } from '../../test-support/ssh-hosts.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let endpoint = ''
let keyDir = ''
const osroll = cliRunner(() => ({ endpoint, token: h.sys.adminToken }))

beforeAll(async () => {
  h = await apiHarness({ groups: [] })
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  endpoint = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
  keyDir = mkdtempSync(join(tmpdir(), 'osroll-host-cli-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'id')])
})
afterAll(async () => {
  await h.close()
  rmSync(keyDir, { recursive: true, force: true })
})

describe('osroll host', () => {
  it(
    'lists the local host, and refuses bad input saying what to fix',
    { timeout: 60_000 },
    async () => {
      const list = await osroll('host', 'list', '-o', 'tsv')
      expect(list.code, list.stderr).toBe(0)
      expect(list.stdout).toMatch(/local\s+Local/)
      const missing = await osroll('host', 'add', '-n', 'hv1', '--address', '10.0.0.5')
      expect(missing.code).toBe(1)
      expect(missing.stderr).toContain(
        'the following arguments are required: --user, --ssh-key-file, --vms, --memory-mib',
      )
      const base = ['host', 'add', '-n', 'hv1', '--address', '127.0.0.1', '--port', '1']
      const rest = ['--user', 'osroll', '--vms', '2', '--memory-mib', '2048']
      const pub = await osroll(...base, ...rest, '--ssh-key-file', join(keyDir, 'id.pub'))
      expect(pub.stderr).toContain('holds a public key: give the private key')
      const neg = await osroll(
        ...base,
        '--user',
        'osroll',
        '--vms',
        '-1',
        '--memory-mib',
        '2048',
        '--ssh-key-file',
        join(keyDir, 'id'),
      )
      expect(neg.code).toBe(1)
      expect(neg.stderr).toContain('osroll: InvalidParameter: properties.capacity.vms is -1')
      const unreachable = await osroll(...base, ...rest, '--ssh-key-file', join(keyDir, 'id'))
      expect(unreachable.stderr).toContain("HostUnreachable: The host 'hv1' at 127.0.0.1:1")
      const local = await osroll('host', 'remove', '-n', 'local')
      expect(local.stderr).toContain('OperationNotAllowed')
    },
  )
})

const skip = sshHostsSkipReason()
describe.skipIf(skip !== null)(
  `osroll host with an SSH host${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let ssh: SshHosts | null = null
    afterAll(async () => ssh?.close())

    it(
      'add pins the host key in one command; show, list, check, remove',
      { timeout: 90_000 },
      async () => {
        ssh = await startSshHosts(1)
        const add = await osroll(
          'host',
          'add',
          '-n',
          'hv1',
          '--address',
          ssh.hosts[0]?.address as string,
          '--user',
          ssh.user,
          '--ssh-key-file',
          ssh.privateKeyFile,
          '--vms',
          '4',
          '--memory-mib',
          '8192',
          '--zone',
          '1',
          '--fault-domain',
          '0',
        )
        expect(add.code, add.stderr).toBe(0)
        const added = JSON.parse(add.stdout)
        expect(added.properties.hostKey.fingerprint).toBe(ssh.fingerprint(0))
        expect(added.properties.labels).toEqual({ zone: '1', faultDomain: 0 })
        expect(add.stdout).not.toContain('PRIVATE KEY')
        const show = await osroll(
          'host',
          'show',
          '-n',
          'hv1',
          '--query',
          'properties.status.reachability',
        )
        expect(JSON.parse(show.stdout)).toBe('Reachable')
        const table = await osroll('host', 'list', '-o', 'tsv')
        expect(table.stdout).toMatch(/hv1\s+Ssh\s+10\.231\.\d+\.2\s+Reachable\s+\d+\.\d+/)
        expect(table.stdout).toContain(ssh.fingerprint(0))
        await ssh.cutOff(0)
        const cut = await osroll(
          'host',
          'check',
          '-n',
          'hv1',
          '--query',
          'properties.status.reachability',
        )
        await ssh.restore(0)
        expect(JSON.parse(cut.stdout)).toBe('Unreachable')
        const removed = await osroll('host', 'remove', '-n', 'hv1')
        expect(removed.code, removed.stderr).toBe(0)
        const gone = await osroll('host', 'show', '-n', 'hv1')
        expect(gone.stderr).toContain('ResourceNotFound')
      },
    )
  },
)
