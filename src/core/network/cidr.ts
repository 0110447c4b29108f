/**
 * IPv4 address prefixes in CIDR notation (docs/api.md § Virtual networks and subnets), as pure
 * arithmetic on 32-bit unsigned integers: parsing (host bits must be zero, as Azure requires),
 * containment, overlap, and the host addresses Azure hands out in a subnet — the first four and
 * the last are reserved, so a /24 gives .4 to .254 (251 addresses) and a /29 gives three.
 */

export type Cidr = Readonly<{ base: number; bits: number }>

/** Why a prefix is refused: not CIDR at all, or CIDR with host bits set (`10.0.0.1/24`). */
export type CidrProblem = 'syntax' | 'hostBits'

const QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/

/** Azure reserves the network address, .1 (gateway), .2 and .3 (DNS) and the broadcast address. */
export const RESERVED_LOW = 4

/** The smallest IPv4 subnet Azure allows: a /29 (8 addresses, 3 usable). */
export const SMALLEST_SUBNET_BITS = 29

/**
 * A prefix as a Cidr, or the reason it is not one.
 * @example parseCidr('10.0.1.0/24') → { base: 167772416, bits: 24 }
 * @example parseCidr('10.0.1.7/24') → 'hostBits'; parseCidr('10.0.1/24') → 'syntax'
 */
export function parseCidr(text: unknown): Cidr | CidrProblem {
  if (typeof text !== 'string') return 'syntax'
  const m = QUAD.exec(text)
  if (!m) return 'syntax'
  const octets = m.slice(1, 5).map(Number)
  const bits = Number(m[5])
  if (octets.some((o) => o > 255) || bits > 32) return 'syntax'
  const base = octets.reduce((acc, o) => acc * 256 + o, 0)
  if (base % size({ base: 0, bits }) !== 0) return 'hostBits'
  return { base, bits }
}

/** How many addresses the prefix spans: /24 → 256, /32 → 1, /0 → 2^32. */
export function size(c: Cidr): number {
  return 2 ** (32 - c.bits)
}

/** True when `inner` lies entirely inside `outer`. */
export function contains(outer: Cidr, inner: Cidr): boolean {
  return inner.base >= outer.base && inner.base + size(inner) <= outer.base + size(outer)
}

/** True when the two prefixes share at least one address (aligned prefixes nest or are apart). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b) || contains(b, a)
}

/**
 * The addresses a subnet can give to network interfaces: all but the first four and the last.
 * @example usableHosts(parseCidr('10.0.1.0/24')) → 251; /29 → 3
 */
export function usableHosts(c: Cidr): number {
  return Math.max(0, size(c) - RESERVED_LOW - 1)
}

/**
 * The `n`th usable address of a subnet (n from 0), or undefined past the last.
 * @example hostAddress(parseCidr('10.0.1.0/24'), 0) → '10.0.1.4'
 */
export function hostAddress(c: Cidr, n: number): string | undefined {
  if (!Number.isInteger(n) || n < 0 || n >= usableHosts(c)) return undefined
  return formatAddress(c.base + RESERVED_LOW + n)
}

/** A 32-bit address in dotted quads: 167772420 → '10.0.0.4'. */
export function formatAddress(address: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join('.')
}

/** A Cidr back in its canonical text. */
export function formatCidr(c: Cidr): string {
  return `${formatAddress(c.base)}/${c.bits}`
}
