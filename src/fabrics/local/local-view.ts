/** What the local fabric shows of an instance (`InstanceView`), from its record and its process. */
import type { HealthProber, InstanceView } from '../types/fabric.js'
import type { LocalInstance } from '../types/local-state.js'
import { isAlive } from '../host/processes.js'
import { probeKey } from './local-fabric-options.js'

/** The instance as it is now: its health the prober's while its process runs. */
export function localView(i: LocalInstance, prober: HealthProber): InstanceView {
  const alive = i.process !== null && isAlive(i.process)
  const creating = i.provisioning.state === 'creating'
  // Register a target the prober does not know (after a restart, or a new disk); a registered
  // one keeps its key for the life of the disk and its health check (cleared on change).
  if (alive && i.healthCheck && prober.state(probeKey(i)) === undefined)
    prober.set(probeKey(i), { ...i.healthCheck, host: i.privateIp })
  const health = creating
    ? 'initializing'
    : !alive
      ? 'unhealthy'
      : i.healthCheck
        ? (prober.state(probeKey(i)) ?? 'initializing')
        : 'healthy'
  return {
    instanceId: i.instanceId,
    zone: i.zone,
    updateDomain: i.updateDomain,
    faultDomain: i.faultDomain,
    osImageVersion: i.disk.version,
    previousOsImageVersion: i.previous?.version ?? null,
    modelGeneration: i.disk.modelGeneration,
    power: alive ? 'running' : creating ? 'starting' : 'stopped',
    provisioning: i.provisioning.state,
    provisioningError: i.provisioning.error,
    health,
    bootedAtMs: i.disk.startedAtMs,
    privateIp: i.privateIp,
    dataDisks: i.dataDisks,
    extensions: i.provisioning.extensions,
  }
}
