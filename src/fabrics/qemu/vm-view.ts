/**
 * What the qemu fabric shows of an instance (`InstanceView`), from its record, its QEMU process
 * and its guest agent's progress.
 */
import type { HealthProber, InstanceView } from '../types/fabric.js'
import { isAlive } from '../host/processes.js'
import type { GuestAgentEndpoint } from './guest-agent-endpoint.js'
import type { AgentProgress } from './guest-agent.js'
import { probeKey, type QemuInstance } from './qemu-state.js'
import { accelOfProcess, type Accel } from './vm.js'

export type ViewContext = Readonly<{
  prober: HealthProber
  agent: GuestAgentEndpoint
  /** The accelerator this osroll starts VMs under, and why (accel.ts). */
  accel?: Accel
  accelReason?: string
}>

/**
 * The instance as it is now. A running VM whose model has extensions is provisioned once its
 * guest agent has run them (`updating` until then, `failed` as on local); with the Application
 * Health extension as health source, the health is the agent's in-guest probe while it
 * reports, the host's probe otherwise (docs/qemu.md § The guest agent).
 */
export function vmView(i: QemuInstance, agent: AgentProgress | null, c: ViewContext): InstanceView {
  const alive = i.process !== null && isAlive(i.process)
  const creating = i.provisioning.state === 'creating'
  if (alive && i.healthCheck && c.prober.state(probeKey(i)) === undefined)
    c.prober.set(probeKey(i), { ...i.healthCheck, host: i.privateIp })
  const health = creating
    ? 'initializing'
    : !alive
      ? 'unhealthy'
      : i.healthCheck
        ? (c.agent.health(i, agent) ?? c.prober.state(probeKey(i)) ?? 'initializing')
        : 'healthy'
  const running = alive && i.provisioning.state === 'succeeded'
  const provisioned = running ? c.agent.provisioning(i, agent) : null
  return {
    instanceId: i.instanceId,
    zone: i.zone,
    updateDomain: i.updateDomain,
    faultDomain: i.faultDomain,
    osImageVersion: i.disk.version,
    previousOsImageVersion: i.previous?.version ?? null,
    modelGeneration: i.disk.modelGeneration,
    power: alive ? 'running' : creating ? 'starting' : 'stopped',
    provisioning: provisioned?.state ?? i.provisioning.state,
    provisioningError: provisioned ? provisioned.error : i.provisioning.error,
    health,
    bootedAtMs: i.disk.startedAtMs,
    privateIp: i.privateIp,
    dataDisks: i.dataDisks,
    extensions: provisioned?.extensions ?? [],
    ...(alive && i.process ? acceleratorOf(i.process, c) : {}),
  }
}

/**
 * The accelerator a running VM's QEMU was started under, and why: this osroll's choice, or,
 * for a VM an earlier osroll started under another one, that it was so started.
 */
function acceleratorOf(
  p: NonNullable<QemuInstance['process']>,
  c: ViewContext,
): Pick<InstanceView, 'accelerator'> {
  const accel = p.accel ?? accelOfProcess(p.pid)
  if (accel === null) return {}
  const mine = c.accel ?? 'tcg'
  const reason =
    accel === mine
      ? (c.accelReason ?? `--qemu-accel ${mine}`)
      : `started under ${accel.toUpperCase()} by an earlier osroll (this one chose ${mine.toUpperCase()})`
  return { accelerator: { accel, reason } }
}
