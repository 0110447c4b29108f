/**
 * Checks every registered host on an interval (docs/api.md § Hosts): logs in over SSH with its
 * pinned key, asks QEMU's version, and records the status, so a host cut off shows
 * `Unreachable` and one that comes back shows `Reachable` again without anyone asking. A host
 * key that changed is never trusted: its status quotes both fingerprints until an operator
 * registers the host again. At most `concurrency` checks at once; each is bounded by ssh's
 * timeouts (fabrics/host/ssh.ts).
 */
import type { HostStatus } from '../core/hosts/host-spec.js'
import type { HostProber, SshTarget } from '../fabrics/types/hosts.js'
import type { HostStore, StoredHost } from '../store/host-store.js'
import type { Clock } from './clock.js'
import type { Logger } from './logger.js'

export type HostMonitorOptions = Readonly<{
  hosts: HostStore
  prober: HostProber
  clock: Clock
  log: Logger
  intervalMs: number
  concurrency?: number
}>

/** Where and how osroll reaches a registered host: its address, user, key and pinned host key. */
export function hostTarget(h: Pick<StoredHost, 'name' | 'spec' | 'hostKey'>): SshTarget {
  return {
    name: h.name,
    address: h.spec.address,
    port: h.spec.port,
    user: h.spec.user,
    privateKey: h.spec.privateKey,
    hostKey: { type: h.hostKey.type, base64: h.hostKey.base64, fingerprint: h.hostKey.fingerprint },
  }
}

export class HostMonitor {
  private stopped = false
  private readonly wake = new AbortController()
  private loop: Promise<void> | null = null

  constructor(private readonly o: HostMonitorOptions) {}

  start(): void {
    this.loop ??= this.run()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.wake.abort()
    await this.loop
  }

  /**
   * Checks every host once and records what it found; the statuses, by host key.
   * @example await monitor.checkAll() → Map { 'hv1' => { reachability: 'Unreachable', … } }
   */
  async checkAll(): Promise<Map<string, HostStatus>> {
    const hosts = [...(await this.o.hosts.listHosts())]
    const found = new Map<string, HostStatus>()
    const worker = async (): Promise<void> => {
      for (let h = hosts.shift(); h && !this.stopped; h = hosts.shift()) {
        const status = await this.o.prober.check(hostTarget(h), this.o.clock.nowMs())
        if (
          h.status?.reachability !== status.reachability ||
          h.status.qemuVersion !== status.qemuVersion
        )
          this.log(h, status)
        await this.o.hosts.putHostStatus(h.key, status)
        found.set(h.key, status)
      }
    }
    await Promise.all(Array.from({ length: this.o.concurrency ?? 8 }, worker))
    return found
  }

  private log(h: StoredHost, s: HostStatus): void {
    const fields = { host: h.name, reachability: s.reachability, qemuVersion: s.qemuVersion }
    if (s.reachability === 'Reachable' && s.qemuVersion) this.o.log.info(fields, 'Host reachable')
    else this.o.log.warn({ ...fields, message: s.message }, 'Host not usable')
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.o.clock.sleepUntil(this.o.clock.nowMs() + this.o.intervalMs, this.wake.signal)
      } catch {
        return // stopped
      }
      try {
        await this.checkAll()
      } catch (err) {
        this.o.log.warn({ err }, 'Checking the hosts failed; retrying at the next interval')
      }
    }
  }
}
