/**
 * What the hosts registry needs from the machinery that reaches hypervisor hosts (issue 23,
 * docs/api.md § Hosts): the services and the host monitor see this interface; main.ts wires
 * the OpenSSH implementation (fabrics/host/host-check.ts).
 */
import type { HostKey, HostStatus } from '../../core/hosts/host-spec.js'

/** Where and as whom to connect, and the one host key to trust. */
export type SshTarget = Readonly<{
  name: string
  address: string
  port: number
  user: string
  privateKey: string
  hostKey: HostKey
}>

export interface HostProber {
  /** The host keys `address:port` offers, preferred first; throws, saying why, when none came. */
  scanHostKeys(address: string, port: number): Promise<HostKey[]>
  /** The public half of an unencrypted private key; throws, saying why, when it is not one. */
  publicKeyOf(privateKey: string): Promise<Readonly<{ publicKey: string; fingerprint: string }>>
  /** One check of a registered host over SSH, trusting its pinned host key alone. */
  check(target: SshTarget, nowMs: number): Promise<HostStatus>
  /** The local host: QEMU's version on this machine. */
  checkLocal(nowMs: number): Promise<HostStatus>
}
