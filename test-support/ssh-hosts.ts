/**
 * "Hosts" for tests of the hosts registry (issue 23): each a network namespace with a veth pair
 * and its own address, running Debian's `sshd` with a host key and an authorized client key the
 * harness generates. osroll reaches them with the system `ssh` exactly as it would reach remote
 * machines. Needs root (`ip netns`); `sshHostsSkipReason()` says why it cannot run otherwise.
 *
 * Names are unique per run (`osroll-h<id>-<n>`, veths `oh<id><n>a|b`) and each run takes a /24 of
 * 10.231.0.0/16 no other interface uses, so parallel runs do not collide. Host n has the /30
 * 10.231.X.4n: the root namespace's side .4n+1, the host's .4n+2. `close()` kills every sshd
 * and deletes the namespaces and veths; a process exit runs the same cleanup if a test never got
 * to call it.
 */
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCommand } from './run-command.js'
import type { CommandResult } from './run-command.js'

export type SshHost = Readonly<{
  index: number
  /** The network namespace it runs in. */
  netns: string
  /** The address its sshd listens on (port 22). */
  address: string
  /** The root namespace's end of its veth pair: down cuts the host off. */
  link: string
}>

export type SshHosts = Readonly<{
  hosts: readonly SshHost[]
  /** The user the client key logs in as. */
  user: string
  /** The client's private key (OpenSSH format) and its file. */
  privateKey: string
  privateKeyFile: string
  /** The SHA256 fingerprint (`SHA256:…`) of host i's current host key. */
  fingerprint: (i: number) => string
  /** Takes host i's link down: nothing reaches it until `restore(i)`. */
  cutOff: (i: number) => Promise<void>
  restore: (i: number) => Promise<void>
  /** Gives host i a new host key (sshd restarted): what a reinstalled or spoofed host shows. */
  rekey: (i: number) => Promise<string>
  /** Runs `command` on host i with plain `ssh`, trusting any host key (for the harness's own test). */
  ssh: (i: number, command: string) => Promise<CommandResult>
  close: () => Promise<void>
}>

export type HostOptions = Readonly<{
  /** The PATH of its sessions: `/nonexistent` makes a host without QEMU (or anything else). */
  path?: string
}>

/** Why the harness cannot run here, or null. */
export function sshHostsSkipReason(): string | null {
  if (process.getuid?.() !== 0)
    return 'needs root: the SSH hosts are network namespaces (ip netns add), run the test as root'
  for (const tool of ['/usr/sbin/ip', '/usr/sbin/sshd', '/usr/bin/ssh', '/usr/bin/ssh-keygen'])
    if (!existsSync(tool)) return `needs ${tool} (apt-get install iproute2 openssh-server)`
  return null
}

/** Starts `count` hosts (at most 60); `options[i]` shapes host i. */
export async function startSshHosts(
  count: number,
  options: readonly HostOptions[] = [],
): Promise<SshHosts> {
  const reason = sshHostsSkipReason()
  if (reason) throw new Error(`SSH hosts: ${reason}`)
  if (count < 1 || count > 60) throw new Error(`SSH hosts: ${count} hosts (1 to 60)`)
  const id = randomBytes(3).toString('hex')
  const dir = mkdtempSync(join(tmpdir(), `osroll-ssh-${id}-`))
  const octet = freeOctet()
  const state: RunState = { id, dir, octet, count, sshd: new Map(), closed: false }
  const cleanup = (): void => cleanupSync(state)
  process.once('exit', cleanup)
  try {
    // Debian's sshd wants its privilege separation directory.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
    keygen(join(dir, 'client'), `osroll-test-${id}`)
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client.pub')))
    const hosts: SshHost[] = []
    for (let i = 0; i < count; i++) {
      const host = hostOf(state, i)
      hosts.push(host)
      makeNamespace(host, octet)
      mkdirSync(join(dir, `h${i}`))
      keygen(hostKeyFile(state, i), `host-${i}`)
      writeFileSync(join(dir, `h${i}`, 'sshd_config'), sshdConfig(state, host, options[i] ?? {}))
    }
    await Promise.all(hosts.map((h) => startSshd(state, h)))
    return harness(state, hosts, cleanup)
  } catch (err) {
    process.removeListener('exit', cleanup)
    cleanup()
    throw err
  }
}

type RunState = {
  id: string
  dir: string
  octet: number
  count: number
  sshd: Map<number, ChildProcess>
  closed: boolean
}

function harness(state: RunState, hosts: readonly SshHost[], cleanup: () => void): SshHosts {
  const at = (i: number): SshHost => {
    const h = hosts[i]
    if (!h) throw new Error(`SSH hosts: no host ${i}`)
    return h
  }
  const privateKeyFile = join(state.dir, 'client')
  return {
    hosts,
    user: 'root',
    privateKey: readFileSync(privateKeyFile, 'utf8'),
    privateKeyFile,
    fingerprint: (i) => fingerprintOf(`${hostKeyFile(state, at(i).index)}.pub`),
    cutOff: async (i) => ip(['link', 'set', at(i).link, 'down']),
    restore: async (i) => ip(['link', 'set', at(i).link, 'up']),
    rekey: async (i) => {
      const h = at(i)
      await stopSshd(state, i)
      rmSync(hostKeyFile(state, i), { force: true })
      rmSync(`${hostKeyFile(state, i)}.pub`, { force: true })
      keygen(hostKeyFile(state, i), `host-${i}-rekeyed`)
      await startSshd(state, h)
      return fingerprintOf(`${hostKeyFile(state, i)}.pub`)
    },
    ssh: (i, command) =>
      runCommand('ssh', [
        ...['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no'],
        ...['-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=3'],
        ...['-o', 'LogLevel=ERROR', '-i', privateKeyFile, `root@${at(i).address}`, command],
      ]),
    close: async () => {
      process.removeListener('exit', cleanup)
      await Promise.all([...state.sshd.keys()].map((i) => stopSshd(state, i)))
      cleanup()
    },
  }
}

function hostOf(state: RunState, i: number): SshHost {
  return {
    index: i,
    netns: `osroll-h${state.id}-${i}`,
    address: `10.231.${state.octet}.${4 * i + 2}`,
    link: `oh${state.id}${i}a`,
  }
}

function hostKeyFile(state: RunState, i: number): string {
  return join(state.dir, `h${i}`, 'ssh_host_ed25519_key')
}

/** A third octet of 10.231.X.0/24 that no interface uses now (from the pid, so runs differ). */
function freeOctet(): number {
  const used = execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' })
  for (let k = 0; k < 256; k++) {
    const x = (process.pid + k) % 256
    if (!used.includes(`10.231.${x}.`)) return x
  }
  throw new Error('SSH hosts: every /24 of 10.231.0.0/16 is in use')
}

function makeNamespace(h: SshHost, octet: number): void {
  const peer = h.link.replace(/a$/, 'b')
  const base = 4 * h.index
  ip(['netns', 'add', h.netns])
  ip(['link', 'add', h.link, 'type', 'veth', 'peer', 'name', peer])
  ip(['link', 'set', peer, 'netns', h.netns])
  ip(['addr', 'add', `10.231.${octet}.${base + 1}/30`, 'dev', h.link])
  ip(['link', 'set', h.link, 'up'])
  ip(['-n', h.netns, 'addr', 'add', `10.231.${octet}.${base + 2}/30`, 'dev', peer])
  ip(['-n', h.netns, 'link', 'set', peer, 'up'])
  ip(['-n', h.netns, 'link', 'set', 'lo', 'up'])
}

function sshdConfig(state: RunState, h: SshHost, o: HostOptions): string {
  const d = join(state.dir, `h${h.index}`)
  return [
    `ListenAddress ${h.address}:22`,
    `HostKey ${hostKeyFile(state, h.index)}`,
    `PidFile ${join(d, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(state.dir, 'authorized_keys')}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The temp dir is not root-only all the way up, which StrictModes would refuse.
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'LogLevel ERROR',
    ...(o.path ? [`SetEnv PATH=${o.path}`] : []),
    '',
  ].join('\n')
}

async function startSshd(state: RunState, h: SshHost): Promise<void> {
  const config = join(state.dir, `h${h.index}`, 'sshd_config')
  const child = spawn(
    'ip',
    ['netns', 'exec', h.netns, '/usr/sbin/sshd', '-D', '-e', '-f', config],
    {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()))
  state.sshd.set(h.index, child)
  const deadline = Date.now() + 10_000
  while (!(await listening(h.address, 22))) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`SSH hosts: sshd of ${h.netns} did not start: ${stderr.trim()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function stopSshd(state: RunState, i: number): Promise<void> {
  const child = state.sshd.get(i)
  state.sshd.delete(i)
  if (!child || child.exitCode !== null || child.pid === undefined) return
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  killGroup(child.pid)
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
}

function listening(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port, timeout: 500 })
    const done = (ok: boolean) => {
      s.destroy()
      resolve(ok)
    }
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
    s.once('timeout', () => done(false))
  })
}

/** Kills every sshd (their process groups) and deletes the namespaces, veths and temp dir. */
function cleanupSync(state: RunState): void {
  if (state.closed) return
  state.closed = true
  for (const child of state.sshd.values()) if (child.pid !== undefined) killGroup(child.pid)
  for (let i = 0; i < state.count; i++) {
    const h = hostOf(state, i)
    tryIp(['link', 'del', h.link]) // deletes its peer too
    tryIp(['netns', 'del', h.netns])
  }
  rmSync(state.dir, { recursive: true, force: true })
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

function keygen(file: string, comment: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file])
}

function fingerprintOf(pubFile: string): string {
  const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], {
    encoding: 'utf8',
  })
  const fp = /SHA256:\S+/.exec(out)?.[0]
  if (!fp) throw new Error(`SSH hosts: no fingerprint in '${out.trim()}'`)
  return fp
}

function ip(args: readonly string[]): void {
  execFileSync('ip', [...args], { stdio: ['ignore', 'ignore', 'pipe'] })
}

function tryIp(args: readonly string[]): void {
  try {
    ip(args)
  } catch {
    // already gone
  }
}
