/**
 * A scale set's orchestrator state and fabric model from its ARM model: what a set PUT saves
 * beside the resource (the spec, the fabric's model, the facts a rollout decides on), keeping
 * what the control plane learned since (set-fields.ts).
 */
import { AppError, Errors } from '../errors.js'
import type { ArmDataDisk, ArmExtension, ArmScaleSet } from '../core/scale-set/arm-model.js'
import { vmShapeOf } from '../core/scale-set/vm-sizes.js'
import { extensionsOf } from '../core/scale-set/validate.js'
import { releaseByModel } from '../core/rollout/recovery.js'
import { toScaleSetSpec } from '../core/scale-set/to-spec.js'
import { parseDurationMs } from '../core/duration.js'
import type { ScaleSetSpec } from '../core/scale-set/spec.js'
import { DEFAULT_EXTENSIONS_TIME_BUDGET_MS } from '../core/scale-set/spec.js'
import type { ExtensionModel, FabricModel, HealthCheck } from '../fabrics/types/fabric.js'
import type { ScaleSetState } from '../store/store.js'
import type { ServiceDeps } from './deps.js'
import { carriedFields } from './set-fields.js'

export async function saveState(
  deps: ServiceDeps,
  key: string,
  spec: ScaleSetSpec,
  fabricModel: FabricModel,
  now: number,
): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const current = await deps.store.getScaleSet(key)
    const enabling = spec.automaticOS.enabled && !(current?.spec.automaticOS.enabled ?? false)
    const next: ScaleSetState = {
      key,
      spec,
      fabricModel,
      autoEnabledAtMs: enabling ? now : (current?.autoEnabledAtMs ?? now),
      // The seed's 0–3 h first-rollout delay is one time per scale set: switching automatic
      // upgrades off and on again does not bring it back (issue 18, gap 5).
      firstSinceEnable: current?.firstSinceEnable ?? true,
      nextInstanceId: current?.nextInstanceId ?? 0,
      // The seed's recovery path: fix the cause (an expired SAS token, say), then re-enable
      // automatic upgrades. Switching them on again releases the versions that faulted for one
      // new automatic attempt each, without the retry delay; otherwise a faulted version is
      // never retried automatically (docs/rollouts.md R1.3, issue 18 gap 4).
      // A new model that changes the extension whose failure faulted a version releases it the
      // same way (docs/rollouts.md R1.3, issue 18 gap 4).
      ...(enabling
        ? { faultedVersions: [], lastPlatformRollout: null, faultCauses: [] }
        : releaseByModel(
            {
              faultedVersions: current?.faultedVersions ?? [],
              lastPlatformRollout: current?.lastPlatformRollout ?? null,
              faultCauses: current?.faultCauses ?? [],
            },
            current !== undefined &&
              current.fabricModel.modelGeneration !== fabricModel.modelGeneration
              ? fabricModel.extensions
              : null,
          )),
      // The quarantine's records (docs/rollouts.md § Quarantine and roll forward), joined on
      // read with the faulted versions kept above; enabling releases them all.
      ...(current?.quarantine && !enabling ? { quarantine: current.quarantine } : {}),
      ...(current?.observed ? { observed: current.observed } : {}),
      // osroll's own per-set state lives beside the model: a set PUT keeps it all (set-fields.ts).
      ...carriedFields(current),
      cancelRequestedAtMs: current?.cancelRequestedAtMs ?? null,
      revision: current?.revision ?? 0,
    }
    try {
      await deps.store.putScaleSet(next, current ? current.revision : null)
      return
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'RevisionConflict')) throw err
    }
  }
  throw Errors.Conflict(`Scale set ${key} is being changed by another writer; try again.`)
}

/** What a fabric needs of the ARM model (one mapper, STYLE R14). */
export function toFabricModel(
  key: string,
  name: string,
  model: ArmScaleSet,
  generation: number,
  healthCheck: HealthCheck | null = null,
  network: FabricModel['network'] = null,
): FabricModel {
  const vmp = model.properties?.virtualMachineProfile ?? {}
  const extensions: ExtensionModel[] = extensionsOf(model).map((e) => ({
    name: String(e.name),
    publisher: String(e.properties?.publisher),
    type: String(e.properties?.type),
    typeHandlerVersion: String(e.properties?.typeHandlerVersion ?? '1.0'),
    settings: e.properties?.settings ?? {},
    protectedSettings: e.properties?.protectedSettings ?? {},
    provisionAfterExtensions: e.properties?.provisionAfterExtensions ?? [],
    suppressFailures: e.properties?.suppressFailures ?? false,
  }))
  const spec = toScaleSetSpec({ key, name, model, modelGeneration: generation })
  const budget = vmp.extensionProfile?.extensionsTimeBudget
  return {
    scaleSetKey: key,
    computerNamePrefix: vmp.osProfile?.computerNamePrefix ?? name.slice(0, 9),
    modelGeneration: generation,
    customData: vmp.osProfile?.customData ?? null,
    dataDiskLuns: (vmp.storageProfile?.dataDisks ?? []).map((d) => Number(d.lun)),
    ...dataDiskSizes(vmp.storageProfile?.dataDisks ?? []),
    ...sizeOf(model),
    extensions,
    healthSource: spec.healthSource,
    healthCheck,
    extensionsTimeBudgetMs: budget
      ? (parseDurationMs(budget) ?? DEFAULT_EXTENSIONS_TIME_BUDGET_MS)
      : DEFAULT_EXTENSIONS_TIME_BUDGET_MS,
    ...(network ? { network } : {}),
  }
}

/** The model's VM size, when it names one (docs/api.md § VM sizes). */
function sizeOf(model: ArmScaleSet): Pick<FabricModel, 'vmSize'> {
  const shape = vmShapeOf(model)
  return shape ? { vmSize: shape } : {}
}

/** `diskSizeGB` by lun, for the disks that give one; nothing when none does. */
function dataDiskSizes(disks: readonly ArmDataDisk[]): Pick<FabricModel, 'dataDiskSizesGB'> {
  const sized = disks.flatMap((d) =>
    typeof d.diskSizeGB === 'number' ? [[String(d.lun), d.diskSizeGB] as const] : [],
  )
  return sized.length > 0 ? { dataDiskSizesGB: Object.fromEntries(sized) } : {}
}

/** A load-balancer probe as a health check: binary, flips after `probeThreshold` results. */
export function probeCheck(p: Record<string, unknown>): HealthCheck {
  return {
    protocol: String(p['protocol'] ?? 'Tcp').toLowerCase() as HealthCheck['protocol'],
    port: Number(p['port']),
    requestPath: String(p['requestPath'] ?? '/'),
    intervalMs: Number(p['intervalInSeconds'] ?? 15) * 1000,
    threshold: Number(p['probeThreshold'] ?? 1),
    mode: 'binary',
    gracePeriodMs: 0,
  }
}

/**
 * The Application Health extension as a health check (docs/rollouts.md R5): 1.x is binary, 2.x
 * rich;
 * defaults interval 5 s, 1 probe, grace period = interval × probes.
 */
export function extensionCheck(ext: ArmExtension): HealthCheck {
  const s = ext.properties?.settings ?? {}
  const intervalS = Number(s['intervalInSeconds'] ?? 5)
  const probes = Number(s['numberOfProbes'] ?? 1)
  const major = Number(String(ext.properties?.typeHandlerVersion ?? '1.0').split('.')[0])
  return {
    protocol: String(s['protocol'] ?? 'http').toLowerCase() as HealthCheck['protocol'],
    port: Number(s['port']),
    requestPath: String(s['requestPath'] ?? '/'),
    intervalMs: intervalS * 1000,
    threshold: probes,
    mode: major >= 2 ? 'rich' : 'binary',
    gracePeriodMs: Number(s['gracePeriod'] ?? intervalS * probes) * 1000,
  }
}
