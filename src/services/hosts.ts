/**
 * The hosts registry (issue 23, docs/api.md § Hosts): osroll's own installation-wide resource
 * `/providers/Osroll.Fabric/hosts/{name}` (PUT, GET, list, DELETE; POST `…/check`). A PUT pins
 * the host's SSH host key (the expected fingerprint given, else the key it offers on first
 * contact), then logs in over SSH with that key alone and asks for QEMU's version: a host that
 * cannot be reached, refuses the login, offers another key or has no QEMU is refused and nothing
 * is written. The private key is write-only. `local`, this machine, is implicit.
 */
import { Errors } from '../errors.js'
import type { AppError } from '../errors.js'
import { problemsError } from '../arm/arm.js'
import type { HostKey, HostSpec, HostStatus, ParsedHost } from '../core/hosts/host-spec.js'
import { LOCAL_HOST, hostNameProblem, parseHostBody } from '../core/hosts/host-spec.js'
import type { HostStore, StoredHost } from '../store/host-store.js'
import type { HostProber, SshTarget } from '../fabrics/types/hosts.js'
import type { Clock } from '../runtime/clock.js'
import { hostTarget } from '../runtime/host-monitor.js'

export const HOST_TYPE = 'Osroll.Fabric/hosts'

/** What the hosts registry needs (wired in main.ts). */
export type HostDeps = Readonly<{ store: HostStore; prober: HostProber; clock: Clock }>

/**
 * Registers or replaces a host (201 when created). Every refusal changes nothing.
 * @example putHost(deps, 'hv1', { properties: { address: '10.0.0.5', user: 'osroll', privateKey,
 *   capacity: { vms: 8, memoryMiB: 16384 } } })
 *   → { created: true, view: { id: '/providers/Osroll.Fabric/hosts/hv1', …, properties: { hostKey: { fingerprint: 'SHA256:…' }, status: { reachability: 'Reachable', qemuVersion: '7.2.22' } } } }
 */
export async function putHost(
  deps: HostDeps,
  name: string,
  body: unknown,
): Promise<{ created: boolean; view: Record<string, unknown> }> {
  requireHostName(name)
  if (name.toLowerCase() === LOCAL_HOST) throw localIsImplicit('registered')
  const existing = await deps.store.getHost(name.toLowerCase())
  const parsed = parseHostBody(body, existing !== undefined)
  if (!parsed.ok) throw problemsError(parsed.problems)
  const spec: HostSpec = {
    ...parsed.host.spec,
    privateKey: parsed.host.spec.privateKey || (existing?.spec.privateKey ?? ''),
  }
  const identity = await identityOf(deps, spec.privateKey)
  const nowMs = deps.clock.nowMs()
  const hostKey = await pinnedKey(deps, name, spec, parsed.host, existing, nowMs)
  const target = hostTarget({ name, spec, hostKey })
  const status = await deps.prober.check(target, nowMs)
  refuseUnless(name, target, identity, status)
  const host: StoredHost = {
    key: name.toLowerCase(),
    name: existing?.name ?? name,
    spec,
    hostKey,
    identity,
    status,
    createdAtMs: existing?.createdAtMs ?? nowMs,
    updatedAtMs: nowMs,
    revision: existing?.revision ?? 0,
  }
  const saved = await deps.store.putHost(host, existing ? existing.revision : null)
  return { created: !existing, view: hostView(saved) }
}

export async function getHost(deps: HostDeps, name: string): Promise<Record<string, unknown>> {
  if (name.toLowerCase() === LOCAL_HOST) return localHostView(deps)
  return hostView(await requireHost(deps, name))
}

/** Every host, `local` first, then the registered ones in name order. */
export async function listHosts(deps: HostDeps): Promise<Record<string, unknown>> {
  const hosts = await deps.store.listHosts()
  return { value: [await localHostView(deps), ...hosts.map(hostView)] }
}

/** DELETE: the host leaves the registry (no VM runs on a registered host in this build). */
export async function deleteHost(deps: HostDeps, name: string): Promise<boolean> {
  if (name.toLowerCase() === LOCAL_HOST) throw localIsImplicit('deleted')
  return deps.store.deleteHost(name.toLowerCase())
}

/** POST `…/check`: checks the host now, records what it found, and answers the host. */
export async function checkHostNow(deps: HostDeps, name: string): Promise<Record<string, unknown>> {
  if (name.toLowerCase() === LOCAL_HOST) return localHostView(deps)
  const host = await requireHost(deps, name)
  const status = await deps.prober.check(hostTarget(host), deps.clock.nowMs())
  await deps.store.putHostStatus(host.key, status)
  return hostView((await deps.store.getHost(host.key)) ?? host)
}

/** A host as the API shows it (docs/api.md § Hosts): never its private key. */
export function hostView(h: StoredHost): Record<string, unknown> {
  return {
    id: `/providers/${HOST_TYPE}/${h.name}`,
    name: h.name,
    type: HOST_TYPE,
    properties: {
      provisioningState: 'Succeeded',
      kind: 'Ssh',
      address: h.spec.address,
      port: h.spec.port,
      user: h.spec.user,
      identity: { publicKey: h.identity.publicKey, fingerprint: h.identity.fingerprint },
      hostKey: {
        type: h.hostKey.type,
        fingerprint: h.hostKey.fingerprint,
        pinnedAt: new Date(h.hostKey.pinnedAtMs).toISOString(),
      },
      capacity: { vms: h.spec.capacity.vms, memoryMiB: h.spec.capacity.memoryMiB },
      labels: { zone: h.spec.labels.zone, faultDomain: h.spec.labels.faultDomain },
      status: statusView(h.status),
    },
  }
}

/** The implicit local host: this machine, with nothing to configure. */
async function localHostView(deps: HostDeps): Promise<Record<string, unknown>> {
  return {
    id: `/providers/${HOST_TYPE}/${LOCAL_HOST}`,
    name: LOCAL_HOST,
    type: HOST_TYPE,
    properties: {
      provisioningState: 'Succeeded',
      kind: 'Local',
      address: null,
      port: null,
      user: null,
      identity: null,
      hostKey: null,
      capacity: null,
      labels: { zone: null, faultDomain: null },
      status: statusView(await localStatus(deps)),
    },
  }
}

// QEMU's version here changes only when the package does: one run per minute is plenty.
let localCache: { status: HostStatus; untilMs: number } | null = null
async function localStatus(deps: HostDeps): Promise<HostStatus> {
  const nowMs = deps.clock.nowMs()
  if (localCache && nowMs < localCache.untilMs) return localCache.status
  const status = await deps.prober.checkLocal(nowMs)
  localCache = { status, untilMs: nowMs + 60_000 }
  return status
}

function statusView(s: HostStatus | null): Record<string, unknown> {
  if (!s)
    return {
      reachability: null,
      qemuVersion: null,
      message: null,
      offeredHostKeyFingerprints: [],
      lastCheckTime: null,
    }
  return {
    reachability: s.reachability,
    qemuVersion: s.qemuVersion,
    message: s.message,
    offeredHostKeyFingerprints: s.offeredFingerprints,
    lastCheckTime: new Date(s.checkedAtMs).toISOString(),
  }
}

async function identityOf(deps: HostDeps, privateKey: string): Promise<StoredHost['identity']> {
  try {
    return await deps.prober.publicKeyOf(privateKey)
  } catch (err) {
    throw Errors.InvalidParameter(
      `properties.privateKey is not a usable SSH private key: ${(err as Error).message}.`,
      'properties.privateKey',
    )
  }
}

/**
 * The host key to trust. A registered host keeps its pinned key unless the body names another
 * fingerprint (re-pinning is that explicit act); a new host pins the expected key when one is
 * given, else the key it offers now (trust on registration: the answer quotes it to compare).
 */
async function pinnedKey(
  deps: HostDeps,
  name: string,
  spec: HostSpec,
  parsed: ParsedHost,
  existing: StoredHost | undefined,
  nowMs: number,
): Promise<StoredHost['hostKey']> {
  const expected = parsed.expectedFingerprint
  if (existing && (expected === null || expected === existing.hostKey.fingerprint))
    return existing.hostKey
  let offered: HostKey[]
  try {
    offered = await deps.prober.scanHostKeys(spec.address, spec.port)
  } catch (err) {
    throw Errors.HostUnreachable(
      `The host '${name}' at ${where(spec)} cannot be reached over SSH: ${(err as Error).message}.`,
      'properties.address',
    )
  }
  const key = expected === null ? offered[0] : offered.find((k) => k.fingerprint === expected)
  if (!key)
    throw Errors.HostKeyRefused(
      `The host '${name}' at ${where(spec)} offered the host key ${offered.map((k) => `${k.fingerprint} (${k.type})`).join(', ')}, not the expected ${expected}: refused.`,
      'properties.hostKeyFingerprint',
    )
  return { ...key, pinnedAtMs: nowMs }
}

function refuseUnless(
  name: string,
  t: SshTarget,
  identity: StoredHost['identity'],
  s: HostStatus,
): void {
  const at = `The host '${name}' at ${where(t)}`
  switch (s.reachability) {
    case 'Reachable':
      if (s.qemuVersion !== null) return
      throw Errors.HostWithoutQemu(`${at} has no QEMU: ${s.message ?? ''}.`, 'properties.address')
    case 'HostKeyChanged':
      throw Errors.HostKeyRefused(`${at}: ${s.message ?? ''}`, 'properties.hostKeyFingerprint')
    case 'AuthenticationFailed':
      throw Errors.HostAuthenticationFailed(
        `${at} refused user '${t.user}' with the key ${identity.fingerprint}: add this public key to ~${t.user}/.ssh/authorized_keys on the host: ${identity.publicKey}`,
        'properties.privateKey',
      )
    case 'Unreachable':
      throw Errors.HostUnreachable(
        `${at} cannot be reached over SSH: ${s.message ?? ''}.`,
        'properties.address',
      )
  }
}

function where(t: Pick<HostSpec, 'address' | 'port'>): string {
  const a = t.address.includes(':') ? `[${t.address}]` : t.address
  return `${a}:${t.port}`
}

async function requireHost(deps: HostDeps, name: string): Promise<StoredHost> {
  requireHostName(name)
  const host = await deps.store.getHost(name.toLowerCase())
  if (!host) throw Errors.ResourceNotFound(`The Resource '${HOST_TYPE}/${name}' was not found.`)
  return host
}

function requireHostName(name: string): void {
  const p = hostNameProblem(name)
  if (p) throw problemsError([p])
}

function localIsImplicit(what: string): AppError {
  return Errors.OperationNotAllowed(
    `The host '${LOCAL_HOST}' is this machine, always in the registry with nothing to configure: it cannot be ${what}.`,
  )
}
