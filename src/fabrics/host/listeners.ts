/**
 * Who listens on an instance's address (issue 16): read from /proc/net/tcp and tcp6 (TCP sockets
 * in LISTEN state), the holder found by the socket's inode among /proc/<pid>/fd. Before an
 * instance process starts on its address, the local fabric refuses to start it there when
 * anyone already listens on it: a second process could not listen and would never be healthy.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

export type Listener = Readonly<{
  address: string
  port: number
  /** The process holding the socket and its command line, when /proc tells. */
  holder: Readonly<{ pid: number; command: string }> | null
}>

const LISTEN = '0A'

/**
 * TCP listeners on `ip` (any port), and on the wildcard address at one of `ports` (which takes
 * those ports on every address, `ip` included).
 */
export function listenersOn(ip: string, ports: readonly number[] = []): Listener[] {
  const found: { address: string; port: number; inode: string }[] = []
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const row of readTable(table)) {
      if (row.state !== LISTEN) continue
      if (row.address === ip || (row.address === '0.0.0.0' && ports.includes(row.port)))
        found.push(row)
    }
  }
  if (found.length === 0) return []
  const holders = socketHolders(new Set(found.map((f) => f.inode)))
  return found.map((f) => ({
    address: f.address,
    port: f.port,
    holder: holders.get(f.inode) ?? null,
  }))
}

/**
 * Why no instance process may start on `ip` (someone listens there, or on the wildcard address
 * at one of `ports`), or null when it is free.
 */
export function addressTaken(ip: string, ports: readonly number[]): string | null {
  const taken = listenersOn(ip, ports)
  if (taken.length === 0) return null
  return `The instance could not be started: its address ${ip} is already in use by another process, listening on ${taken.map(describeListener).join(', ')}. Stop that process (or move it off ${ip}), then reimage or restart the instance.`
}

/** How a listener reads in an error message: `127.77.0.5:8080 (pid 123: node server.js)`. */
export function describeListener(l: Listener): string {
  const who = l.holder ? ` (held by pid ${l.holder.pid}: ${l.holder.command})` : ''
  return `${l.address}:${l.port}${who}`
}

function readTable(
  file: string,
): { state: string; address: string; port: number; inode: string }[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return [] // no IPv6, say
  }
  return text
    .split('\n')
    .slice(1)
    .flatMap((line) => {
      const f = line.trim().split(/\s+/)
      const local = f[1]
      if (local === undefined || f[3] === undefined || f[9] === undefined) return []
      const [hex, portHex] = local.split(':') as [string, string]
      const address = decodeAddress(hex)
      return address === null
        ? []
        : [{ state: f[3], address, port: parseInt(portHex, 16), inode: f[9] }]
    })
}

/**
 * An address of /proc/net/tcp{,6} as dotted IPv4: each 32-bit word is in host (little-endian)
 * order. IPv6 listeners matter here only as IPv4-mapped (::ffff:a.b.c.d) or the wildcard (::).
 */
function decodeAddress(hex: string): string | null {
  const v4 = (word: string) => [6, 4, 2, 0].map((i) => parseInt(word.slice(i, i + 2), 16)).join('.')
  if (hex.length === 8) return v4(hex)
  if (hex.length !== 32) return null
  if (/^0{32}$/.test(hex)) return '0.0.0.0'
  if (hex.slice(0, 16) === '0'.repeat(16) && hex.slice(16, 24) === 'FFFF0000')
    return v4(hex.slice(24))
  return null
}

/** The process holding each socket inode (`socket:[inode]` among its fds). */
function socketHolders(inodes: Set<string>): Map<string, { pid: number; command: string }> {
  const out = new Map<string, { pid: number; command: string }>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${name}/fd`)
    } catch {
      continue // gone, or not ours to read
    }
    for (const fd of fds) {
      const link = safeReadlink(`/proc/${name}/fd/${fd}`)
      const inode = link?.startsWith('socket:[') ? link.slice(8, -1) : null
      if (inode === null || !inodes.has(inode) || out.has(inode)) continue
      out.set(inode, { pid: Number(name), command: commandOf(Number(name)) })
    }
    if (out.size === inodes.size) break
  }
  return out
}

function safeReadlink(path: string): string | null {
  try {
    return readlinkSync(path)
  } catch {
    return null
  }
}

function commandOf(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
    return argv.join(' ').slice(0, 200) || '?'
  } catch {
    return '?'
  }
}
