/**
 * The `sim` fabric (docs/architecture.md § The sim fabric): instances are records, not processes.
 * Reimage is instantaneous;
 * the boot, the health source and extension failures follow the image's `sim:` URI and the
 * clock, so a run on a virtual clock with a fixed seed is deterministic. Fault injection
 * (`stop`, `setHealthOverride`, `failNext`) serves tests and the simulator.
 */
import { Errors } from '../../errors.js'
import type { HealthState } from '../../core/health/verdict.js'
import type {
  CallOptions,
  Fabric,
  FabricModel,
  ImageArtifact,
  InstanceView,
  NewInstanceSpec,
} from '../types/fabric.js'
import { newDataDisks } from '../types/fabric.js'
import { diskIsBad, parseSimUri } from './sim-behaviour.js'
import type { SimDisk, SimInstance, SimStateStore } from '../types/sim-state.js'
import { MemorySimState } from './sim-state.js'

export type SimFabricOptions = Readonly<{
  nowMs: () => number
  state?: SimStateStore
  /** Seed of the flaky-health coin. */
  seed?: number
}>

type Verb = 'createInstances' | 'deleteInstances' | 'reimage' | 'restore' | 'release' | 'update'

export const SIM_EXTENSION_HANDLERS: ReadonlySet<string> = new Set(
  [
    'Microsoft.Azure.Extensions.CustomScript',
    'Microsoft.Compute.CustomScriptExtension',
    'Microsoft.ManagedServices.ApplicationHealthLinux',
    'Microsoft.ManagedServices.ApplicationHealthWindows',
    'Microsoft.Azure.ServiceFabric.ServiceFabricNode',
    'Microsoft.Azure.ServiceFabric.ServiceFabricLinuxNode',
  ].map((s) => s.toLowerCase()),
)

export class SimFabric implements Fabric {
  readonly name = 'sim'
  readonly extensionHandlers = SIM_EXTENSION_HANDLERS
  private readonly state: SimStateStore
  private readonly seed: number
  private readonly injected = new Map<
    Verb,
    { count: number; message: string; retryable: boolean }
  >()

  constructor(private readonly o: SimFabricOptions) {
    this.state = o.state ?? new MemorySimState()
    this.seed = o.seed ?? 0
  }

  async listInstances(scaleSetKey: string, _o?: CallOptions): Promise<readonly InstanceView[]> {
    const now = this.o.nowMs()
    const list = await this.state.list(scaleSetKey)
    return list
      .map((i) => this.view(i, now))
      .sort((a, b) => Number(a.instanceId) - Number(b.instanceId))
  }

  async createInstances(
    model: FabricModel,
    instances: readonly NewInstanceSpec[],
    o?: CallOptions,
  ): Promise<void> {
    this.enter('createInstances', o)
    for (const spec of instances) {
      if (await this.state.get(model.scaleSetKey, spec.instanceId)) continue
      const base = {
        instanceId: spec.instanceId,
        zone: spec.zone,
        updateDomain: spec.updateDomain,
        faultDomain: spec.faultDomain,
        previous: null,
        stopped: false,
        healthOverride: null,
        diskCount: 1,
        privateIp: simAddress(model.scaleSetKey, spec.instanceId),
        healthSource: model.healthSource,
        dataDisks: newDataDisks(model, (lun) => `${spec.instanceId}-lun${lun}`),
      }
      await this.state.put(model.scaleSetKey, {
        ...base,
        disk: this.newDisk(spec.instanceId, 1, spec.image, model),
      })
    }
  }

  async deleteInstances(
    scaleSetKey: string,
    instanceIds: readonly string[],
    o?: CallOptions,
  ): Promise<void> {
    this.enter('deleteInstances', o)
    for (const id of instanceIds) await this.state.remove(scaleSetKey, id)
  }

  async reimage(
    model: FabricModel,
    ids: readonly string[],
    image: ImageArtifact,
    o?: CallOptions,
  ): Promise<void> {
    this.enter('reimage', o)
    for (const inst of await this.existing(model.scaleSetKey, ids)) {
      if (inst.disk.version === image.version && inst.previous !== null) continue
      const n = inst.diskCount + 1
      await this.state.put(model.scaleSetKey, {
        ...inst,
        previous: inst.disk,
        disk: this.newDisk(inst.instanceId, n, image, model),
        diskCount: n,
        stopped: false,
        healthSource: model.healthSource,
      })
    }
  }

  async restore(scaleSetKey: string, ids: readonly string[], o?: CallOptions): Promise<void> {
    this.enter('restore', o)
    const now = this.o.nowMs()
    for (const inst of await this.existing(scaleSetKey, ids)) {
      if (inst.previous === null) {
        if (inst.stopped) await this.state.put(scaleSetKey, { ...inst, stopped: false })
        continue
      }
      const disk = { ...inst.previous, startedAtMs: now }
      await this.state.put(scaleSetKey, { ...inst, disk, previous: null, stopped: false })
    }
  }

  async release(scaleSetKey: string, ids: readonly string[], o?: CallOptions): Promise<void> {
    this.enter('release', o)
    for (const inst of await this.existing(scaleSetKey, ids)) {
      if (inst.previous !== null) await this.state.put(scaleSetKey, { ...inst, previous: null })
    }
  }

  async update(model: FabricModel, ids: readonly string[], o?: CallOptions): Promise<void> {
    this.enter('update', o)
    const now = this.o.nowMs()
    for (const inst of await this.existing(model.scaleSetKey, ids)) {
      if (inst.disk.modelGeneration >= model.modelGeneration) continue
      const names = model.extensions.map((e) => e.name)
      const failed = failedExtension(inst.disk.behaviour.extfail, model)
      const disk = {
        ...inst.disk,
        modelGeneration: model.modelGeneration,
        startedAtMs: now,
        extensionNames: names,
        failedExtension: failed,
      }
      await this.state.put(model.scaleSetKey, { ...inst, disk, healthSource: model.healthSource })
    }
  }

  /** Fault injection: the instance's process dies (power `stopped`) or starts again. */
  async setStopped(scaleSetKey: string, instanceId: string, stopped: boolean): Promise<void> {
    const inst = await this.state.get(scaleSetKey, instanceId)
    if (inst) await this.state.put(scaleSetKey, { ...inst, stopped })
  }

  /** Fault injection: forces the health source's answer; null gives it back to the image. */
  async setHealthOverride(
    scaleSetKey: string,
    instanceId: string,
    health: SimInstance['healthOverride'],
  ): Promise<void> {
    const inst = await this.state.get(scaleSetKey, instanceId)
    if (inst) await this.state.put(scaleSetKey, { ...inst, healthOverride: health })
  }

  /** Fault injection: the next `count` calls of `verb` throw (retryable or not). */
  failNext(verb: Verb, count: number, message = 'injected failure', retryable = false): void {
    this.injected.set(verb, { count, message, retryable })
  }

  private enter(verb: Verb, o?: CallOptions): void {
    if (o?.signal?.aborted) throw Errors.Timeout(`sim ${verb} aborted`)
    const fault = this.injected.get(verb)
    if (!fault || fault.count <= 0) return
    fault.count--
    throw fault.retryable
      ? Errors.FabricUnavailable(fault.message)
      : Errors.FabricOperationFailed(fault.message)
  }

  private async existing(scaleSetKey: string, ids: readonly string[]): Promise<SimInstance[]> {
    const out: SimInstance[] = []
    for (const id of ids) {
      const inst = await this.state.get(scaleSetKey, id)
      if (inst) out.push(inst)
    }
    return out
  }

  private newDisk(
    instanceId: string,
    n: number,
    image: ImageArtifact,
    model: FabricModel,
  ): SimDisk {
    const behaviour = parseSimUri(image.sourceUri)
    return {
      serial: `${instanceId}.${n}`,
      version: image.version,
      behaviour,
      modelGeneration: model.modelGeneration,
      startedAtMs: this.o.nowMs(),
      failedExtension: failedExtension(behaviour.extfail, model),
      extensionNames: model.extensions.map((e) => e.name),
    }
  }

  /**
   * A virtual console: what the instance's disks went through, derived from its record (sim
   * instances have no process, so this is the whole of their "boot log").
   */
  async consoleLog(
    scaleSetKey: string,
    instanceId: string,
    maxBytes: number,
  ): Promise<string | undefined> {
    const i = await this.state.get(scaleSetKey, instanceId)
    if (!i) return undefined
    const at = (ms: number) => new Date(ms).toISOString()
    const disk = (d: SimInstance['disk']) =>
      `OS disk ${d.serial} from image ${d.version} (model generation ${d.modelGeneration})`
    const lines = [
      ...(i.previous ? [`${at(i.previous.startedAtMs)} booted ${disk(i.previous)}`] : []),
      `${at(i.disk.startedAtMs)} booting ${disk(i.disk)}`,
    ]
    const v = this.view(i, this.o.nowMs())
    if (v.power === 'running')
      lines.push(`${at(i.disk.startedAtMs + i.disk.behaviour.bootMs)} running`)
    if (v.provisioningError) lines.push(v.provisioningError)
    if (i.stopped) lines.push('stopped')
    lines.push(`health: ${v.health}`)
    const text = lines.join('\n') + '\n'
    return text.length > maxBytes ? text.slice(-maxBytes) : text
  }

  private view(i: SimInstance, now: number): InstanceView {
    const d = i.disk
    const booting = !i.stopped && now < d.startedAtMs + d.behaviour.bootMs
    const failed = !booting && d.failedExtension !== null
    return {
      instanceId: i.instanceId,
      zone: i.zone,
      updateDomain: i.updateDomain,
      faultDomain: i.faultDomain,
      osImageVersion: d.version,
      previousOsImageVersion: i.previous?.version ?? null,
      modelGeneration: d.modelGeneration,
      power: i.stopped ? 'stopped' : booting ? 'starting' : 'running',
      provisioning: booting ? 'updating' : failed ? 'failed' : 'succeeded',
      provisioningError: failed
        ? `VM has reported a failure when processing extension '${d.failedExtension}'. Error message: "The simulated image fails this extension (extfail)."`
        : null,
      health: this.health(i, booting),
      bootedAtMs: d.startedAtMs,
      privateIp: i.privateIp,
      dataDisks: i.dataDisks,
      extensions: d.extensionNames.map((name) => ({
        name,
        type: name,
        state: booting ? 'transitioning' : name === d.failedExtension ? 'failed' : 'succeeded',
        message:
          name === d.failedExtension
            ? 'Simulated failure (extfail).'
            : booting
              ? 'Provisioning'
              : 'Enable succeeded',
      })),
    }
  }

  private health(i: SimInstance, booting: boolean): HealthState {
    if (i.stopped) return 'unhealthy'
    if (booting) return 'initializing'
    if (i.healthOverride !== null) return i.healthOverride
    if (i.healthSource === 'none') return 'healthy'
    return diskIsBad(i.disk.behaviour.health, i.disk.serial, this.seed) ? 'unhealthy' : 'healthy'
  }
}

/**
 * A virtual private address: 10.x.y.z with x from the set and y.z from the instance id, unique
 * within a set of up to 65,536 instances. Sim instances are never contacted.
 * @example simAddress('/s/web', '300') → '10.<x>.1.44'
 */
export function simAddress(scaleSetKey: string, instanceId: string): string {
  let h = 0
  for (let i = 0; i < scaleSetKey.length; i++) h = (h * 31 + scaleSetKey.charCodeAt(i)) >>> 0
  const n = Number(instanceId)
  return `10.${h % 256}.${(n >> 8) & 255}.${n & 255}`
}

function failedExtension(extfail: string | null, model: FabricModel): string | null {
  if (extfail === null) return null
  const hit = model.extensions.find((e) => e.name.toLowerCase() === extfail.toLowerCase())
  return hit?.name ?? null
}
