/**
 * Instance addresses on the host, shared by the `local` and `qemu` fabrics: each instance gets
 * its own loopback address of a /16 (`127.77.x.y`), and no instance starts on an address
 * another program listens on.
 */
import { Errors } from '../../errors.js'
import { addressTaken, listenersOn } from './listeners.js'

export type AddressPoolOptions = Readonly<{
  /** The /16 as its first two octets (default 127.77). */
  prefix?: string
  /** The first host number handed out (tests give each fabric its own slice). */
  start?: number
  /** Resolves once the orphans that might hold addresses are stopped. */
  ready: () => Promise<unknown>
  /** The addresses the fabric's records hold. */
  inUse: () => Promise<readonly string[]>
}>

/**
 * The lowest free address of the /16 (x.y.*.0 and x.y.*.255 skipped), one allocation at a time;
 * or, given a `preferred` address (an instance's subnet address), the one with its last two
 * octets when that is free and not below `start`. An address stays reserved in memory until
 * `release`, so two creations in flight never share one.
 * @example await new AddressPool({ ready, inUse: async () => [] }).allocate() → '127.77.0.1'
 * @example await pool.allocate('10.1.0.5') → '127.77.0.5' (unless taken: then the lowest free)
 */
export class AddressPool {
  private allocation: Promise<unknown> = Promise.resolve()
  private readonly reserved = new Set<string>()

  constructor(private readonly o: AddressPoolOptions) {}

  allocate(preferred?: string): Promise<string> {
    const next = this.allocation.then(async () => {
      await this.o.ready() // no address before the orphans that might hold it are stopped
      const used = new Set([...(await this.o.inUse()), ...this.reserved])
      const prefix = this.o.prefix ?? '127.77'
      const start = this.o.start ?? 1
      const free = (n: number) =>
        n >= start && (n & 255) !== 0 && (n & 255) !== 255 && !used.has(ipOf(prefix, n))
      const wanted = lastTwoOctets(preferred)
      const first = wanted !== null && free(wanted) ? wanted : null
      for (let n = first ?? start; n < 65_536; n++) {
        if (!free(n)) continue
        const ip = ipOf(prefix, n)
        this.reserved.add(ip)
        return ip
      }
      throw Errors.FabricOperationFailed(`No free address left in ${prefix}.0.0/16.`)
    })
    this.allocation = next.catch(() => undefined)
    return next
  }

  /** The instance that held `ip` is gone. */
  release(ip: string): void {
    this.reserved.delete(ip)
  }
}

function ipOf(prefix: string, n: number): string {
  return `${prefix}.${n >> 8}.${n & 255}`
}

/** `10.1.2.5` → 2·256 + 5; null for anything but a dotted IPv4 address. */
function lastTwoOctets(ip: string | undefined): number | null {
  const m = ip === undefined ? null : /^\d{1,3}\.\d{1,3}\.(\d{1,3})\.(\d{1,3})$/.exec(ip)
  if (!m) return null
  const [hi, lo] = [Number(m[1]), Number(m[2])]
  return hi > 255 || lo > 255 ? null : hi * 256 + lo
}

/**
 * Why `ip` cannot be used for `ports` (naming the holder when /proc tells), or null. A socket
 * with no known holder is given two seconds to go away first: a stopped instance's, closing.
 */
export async function addressInUse(ip: string, ports: readonly number[]): Promise<string | null> {
  for (let n = 0; n < 40; n++) {
    const held = listenersOn(ip, ports)
    if (held.length === 0) return null
    if (held.some((l) => l.holder !== null)) break
    await new Promise((r) => setTimeout(r, 50))
  }
  return addressTaken(ip, ports)
}
