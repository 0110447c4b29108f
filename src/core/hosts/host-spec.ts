/**
 * Hypervisor hosts (issue 23, docs/api.md § Hosts): the body of a host's PUT, validated into a
 * `HostSpec` or `Problem[]`, and the status a check finds. Pure: reaching the host over SSH and
 * pinning its key happen in services/hosts.ts; here only the shapes and their rules.
 */
import type { Problem } from '../problem.js'
import { problem } from '../problem.js'

/** What an operator registers. `privateKey` is write-only: it never leaves osroll. */
export type HostSpec = Readonly<{
  /** An IPv4 or IPv6 address or a DNS name: where `ssh` connects. */
  address: string
  port: number
  /** The user osroll logs in as. */
  user: string
  /** The client's private key (OpenSSH or PEM text, no passphrase). */
  privateKey: string
  capacity: Readonly<{ vms: number; memoryMiB: number }>
  labels: Readonly<{ zone: string | null; faultDomain: number | null }>
}>

/** A body parsed: the spec, and the host key fingerprint the caller expects, if any. */
export type ParsedHost = Readonly<{
  /** `privateKey` is '' when the body left it out (a PUT of an existing host keeps its key). */
  spec: HostSpec
  expectedFingerprint: string | null
}>

/** A host's host key: its algorithm, its base64 blob and its SHA256 fingerprint. */
export type HostKey = Readonly<{ type: string; base64: string; fingerprint: string }>

/** What the last check of a host found (docs/api.md § Hosts). */
export type HostStatus = Readonly<{
  reachability: Reachability
  /** `qemu-system-x86_64 --version`'s version, null when it was not found or not reached. */
  qemuVersion: string | null
  /** Why it is not `Reachable` with QEMU, in words; null when all is well. */
  message: string | null
  /** With `HostKeyChanged`: the fingerprints the host offered instead of the pinned one. */
  offeredFingerprints: readonly string[]
  checkedAtMs: number
}>

export type Reachability = 'Reachable' | 'Unreachable' | 'HostKeyChanged' | 'AuthenticationFailed'

/** The name of the implicit host that is this machine (docs/api.md § Hosts). */
export const LOCAL_HOST = 'local'

const MEMBERS = new Set([
  'address',
  'port',
  'user',
  'privateKey',
  'hostKeyFingerprint',
  'capacity',
  'labels',
])
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/
const ZONE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/
const PRIVATE_KEY =
  /^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----\r?\n[\s\S]+\r?\n-----END ([A-Z]+ )?PRIVATE KEY-----\s*$/
const KEY_MAX = 16 * 1024
const VMS_MAX = 10_000
const MEMORY_MAX = 2 ** 31 - 1
const FAULT_DOMAIN_MAX = 1000

/**
 * A host's name: a DNS label (it names the host in ids and, later, in fault domains), and not
 * the reserved `local`. Returns the problem, or undefined.
 * @example hostNameProblem('rack1-a') → undefined; hostNameProblem('a/b') → { code: 'InvalidResourceName', … }
 */
export function hostNameProblem(name: string): Problem | undefined {
  if (!HOST_NAME.test(name))
    return problem(
      'name',
      `The host name '${name.slice(0, 80)}' is not valid: 1 to 63 letters, digits and hyphens, starting and ending with a letter or digit.`,
      'InvalidResourceName',
    )
  return undefined
}

/**
 * Validates a PUT body `{ properties: { address, port?, user, privateKey, hostKeyFingerprint?,
 * capacity: { vms, memoryMiB }, labels?: { zone?, faultDomain? } } }`. `keyOptional`: the host
 * exists, so a body without `privateKey` keeps the stored one.
 * @example parseHostBody({ properties: { address: '10.0.0.5', user: 'osroll', privateKey: pem,
 *   capacity: { vms: 8, memoryMiB: 16384 } } }, false)
 *   → { ok: true, host: { spec: { address: '10.0.0.5', port: 22, …, labels: { zone: null, faultDomain: null } }, expectedFingerprint: null } }
 */
export function parseHostBody(
  body: unknown,
  keyOptional: boolean,
): { ok: true; host: ParsedHost } | { ok: false; problems: Problem[] } {
  const props = objectAt(body, 'properties')
  if (!props)
    return { ok: false, problems: [problem('properties', 'The body needs a properties object.')] }
  const problems: Problem[] = []
  for (const k of Object.keys(props))
    if (!MEMBERS.has(k))
      problems.push(
        problem(
          `properties.${k}`,
          `A host has no member '${k.slice(0, 80)}' (it takes ${[...MEMBERS].join(', ')}).`,
        ),
      )
  const address = addressOf(props['address'], problems)
  const port = intOf(props['port'], 'properties.port', 1, 65535, 22, problems)
  const user = userOf(props['user'], problems)
  const privateKey = privateKeyOf(props['privateKey'], keyOptional, problems)
  const expectedFingerprint = fingerprintOf(props['hostKeyFingerprint'], problems)
  const capacity = capacityOf(props['capacity'], problems)
  const labels = labelsOf(props['labels'], problems)
  if (problems.length > 0) return { ok: false, problems }
  return {
    ok: true,
    host: {
      spec: { address, port, user, privateKey, capacity, labels },
      expectedFingerprint,
    },
  }
}

/**
 * The version in `qemu-system-x86_64 --version`'s first line, or null.
 * @example qemuVersionOf('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\n…') → '7.2.22'
 */
export function qemuVersionOf(output: string): string | null {
  return /^QEMU emulator version (\S+)/m.exec(output)?.[1] ?? null
}

function addressOf(v: unknown, problems: Problem[]): string {
  const at = 'properties.address'
  if (typeof v !== 'string' || v === '') {
    problems.push(problem(at, 'A host needs an address: an IPv4 or IPv6 address or a DNS name.'))
    return ''
  }
  if (!isIpv4(v) && !isIpv6(v) && !isDnsName(v))
    problems.push(
      problem(
        at,
        `The address '${v.slice(0, 80)}' is not an IPv4 address, an IPv6 address or a DNS name (no port, user or scheme: give the port as properties.port).`,
      ),
    )
  return v
}

function isIpv4(v: string): boolean {
  const parts = v.split('.')
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) < 256)
}

/** Eight groups of hex, or fewer with one `::` (an IPv4 tail is not taken). */
function isIpv6(v: string): boolean {
  if (!/^[0-9A-Fa-f:]+$/.test(v) || v.length > 39) return false
  const halves = v.split('::')
  if (halves.length > 2) return false
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')))
  if (!groups.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false
  return halves.length === 2 ? groups.length < 8 : groups.length === 8
}

function isDnsName(v: string): boolean {
  if (v.length > 253 || /^\d+(\.\d+)*$/.test(v)) return false
  return v.split('.').every((l) => HOST_NAME.test(l))
}

function userOf(v: unknown, problems: Problem[]): string {
  if (typeof v !== 'string' || !USER.test(v)) {
    problems.push(
      problem(
        'properties.user',
        typeof v === 'string'
          ? `The SSH user '${v.slice(0, 80)}' is not a user name: up to 32 letters, digits, '_', '.' and '-', starting with a letter or '_'.`
          : 'A host needs the SSH user osroll logs in as (properties.user).',
      ),
    )
    return ''
  }
  return v
}

function privateKeyOf(v: unknown, optional: boolean, problems: Problem[]): string {
  const at = 'properties.privateKey'
  if (v === undefined && optional) return ''
  if (typeof v !== 'string' || v === '') {
    problems.push(
      problem(
        at,
        'A host needs the SSH private key osroll logs in with (properties.privateKey: the text of an OpenSSH or PEM private key without a passphrase).',
      ),
    )
    return ''
  }
  if (v.length > KEY_MAX || !PRIVATE_KEY.test(v))
    problems.push(
      problem(
        at,
        "properties.privateKey is not the text of a private key: it starts with '-----BEGIN OPENSSH PRIVATE KEY-----' (or another PEM PRIVATE KEY header) and is at most 16 KiB.",
      ),
    )
  return v
}

function fingerprintOf(v: unknown, problems: Problem[]): string | null {
  if (v === undefined || v === null) return null
  if (typeof v !== 'string' || !FINGERPRINT.test(v)) {
    problems.push(
      problem(
        'properties.hostKeyFingerprint',
        `The host key fingerprint '${String(v).slice(0, 80)}' is not a SHA256 fingerprint as 'ssh-keygen -l' prints it ('SHA256:' and 43 base64 characters).`,
      ),
    )
    return null
  }
  return v
}

function capacityOf(v: unknown, problems: Problem[]): HostSpec['capacity'] {
  const o = v === undefined ? null : objectAt({ v }, 'v')
  if (!o) {
    problems.push(
      problem(
        'properties.capacity',
        'A host needs its capacity: properties.capacity { vms, memoryMiB }.',
      ),
    )
    return { vms: 0, memoryMiB: 0 }
  }
  for (const k of Object.keys(o))
    if (k !== 'vms' && k !== 'memoryMiB')
      problems.push(
        problem(`properties.capacity.${k}`, `capacity has only vms and memoryMiB, not '${k}'.`),
      )
  return {
    vms: intOf(o['vms'], 'properties.capacity.vms', 1, VMS_MAX, null, problems),
    memoryMiB: intOf(
      o['memoryMiB'],
      'properties.capacity.memoryMiB',
      1,
      MEMORY_MAX,
      null,
      problems,
    ),
  }
}

function labelsOf(v: unknown, problems: Problem[]): HostSpec['labels'] {
  if (v === undefined || v === null) return { zone: null, faultDomain: null }
  const o = objectAt({ v }, 'v')
  if (!o) {
    problems.push(problem('properties.labels', 'labels is an object { zone?, faultDomain? }.'))
    return { zone: null, faultDomain: null }
  }
  for (const k of Object.keys(o))
    if (k !== 'zone' && k !== 'faultDomain')
      problems.push(
        problem(`properties.labels.${k}`, `labels has only zone and faultDomain, not '${k}'.`),
      )
  const z = o['zone']
  let zone: string | null = null
  if (z !== undefined && z !== null) {
    if (typeof z === 'string' && ZONE.test(z)) zone = z
    else
      problems.push(
        problem(
          'properties.labels.zone',
          `The zone '${String(z).slice(0, 80)}' is not a zone name: 1 to 32 letters, digits, '_' and '-' (Azure's are '1', '2', '3').`,
        ),
      )
  }
  const fd = o['faultDomain']
  const faultDomain =
    fd === undefined || fd === null
      ? null
      : intOf(fd, 'properties.labels.faultDomain', 0, FAULT_DOMAIN_MAX, null, problems)
  return { zone, faultDomain }
}

function intOf(
  v: unknown,
  at: string,
  min: number,
  max: number,
  fallback: number | null,
  problems: Problem[],
): number {
  if (v === undefined && fallback !== null) return fallback
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    problems.push(
      problem(
        at,
        v === undefined
          ? `${at} is required: a whole number from ${min} to ${max}.`
          : `${at} is ${JSON.stringify(v)?.slice(0, 40) ?? String(v)}: it must be a whole number from ${min} to ${max}.`,
      ),
    )
    return min
  }
  return v
}

function objectAt(o: unknown, k: string): Record<string, unknown> | null {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return null
  const v = (o as Record<string, unknown>)[k]
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : null
}
