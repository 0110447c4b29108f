/**
 * The hosts registry (issue 23, docs/api.md § Hosts): each registered hypervisor host's spec
 * (its private key sealed at rest like every secret, store/secrets.ts), the host key pinned at
 * registration, and the status of its last check. The API writes a host whole, with a revision;
 * a check writes only the status, and only a newer one than the status stored.
 */
import type { HostKey, HostSpec, HostStatus } from '../core/hosts/host-spec.js'

export type StoredHost = Readonly<{
  /** The lower-cased name: hosts are installation-wide, so the name is the key. */
  key: string
  /** The name as registered. */
  name: string
  spec: HostSpec
  /** The host key pinned at registration: later connections trust this key alone. */
  hostKey: HostKey & Readonly<{ pinnedAtMs: number }>
  /** The public half of `spec.privateKey`, and its fingerprint: what the host must authorize. */
  identity: Readonly<{ publicKey: string; fingerprint: string }>
  status: HostStatus | null
  createdAtMs: number
  updatedAtMs: number
  /** Bumped by every `putHost` (not by status writes); a write names the revision it read. */
  revision: number
}>

export interface HostStore {
  listHosts(): Promise<readonly StoredHost[]>
  getHost(key: string): Promise<StoredHost | undefined>
  /**
   * Creates (`expectedRevision` null) or replaces a host, status included. Refused with
   * `RevisionConflict` when the stored revision differs (or the host exists, on create).
   */
  putHost(host: StoredHost, expectedRevision: number | null): Promise<StoredHost>
  /** Deletes a host; false when there was none. */
  deleteHost(key: string): Promise<boolean>
  /**
   * Records a check's status unless the stored one is as new or newer (a slow check does not
   * undo a later one); false when the host is gone or the status was older.
   */
  putHostStatus(key: string, status: HostStatus): Promise<boolean>
}
