/**
 * The members Azure fills in on a scale set that the client left out, so that a GET shows what
 * Azure's would (docs/api.md § What a GET returns). Declarative tools read them back and compare:
 * `sku.tier` missing, say, is a difference on every run. Each default is the value osroll already
 * acts on when the member is absent, so filling it in changes no behaviour.
 */
import type { ArmScaleSet } from './arm-model.js'
import { isPlainObject } from './shape.js'

/**
 * `model` with Azure's defaults for the members it lacks; members present are kept as sent.
 * Uniform sets (the default) get `singlePlacementGroup: true`, `overprovision: true` and
 * `doNotRunExtensionsOnOverprovisionedVMs: false`, as Azure answers; every set gets
 * `sku.tier: 'Standard'`, `orchestrationMode`, `upgradePolicy.mode: 'Manual'` and
 * `platformFaultDomainCount` (5 for a regional set, 1 for a zonal one, as placement uses).
 * @example withScaleSetDefaults({ location: 'westus', sku: { capacity: 2 } })
 *   → { location: 'westus', sku: { capacity: 2, tier: 'Standard' }, properties: {
 *       orchestrationMode: 'Uniform', upgradePolicy: { mode: 'Manual' }, platformFaultDomainCount: 5,
 *       singlePlacementGroup: true, overprovision: true, doNotRunExtensionsOnOverprovisionedVMs: false } }
 */
export function withScaleSetDefaults<T extends ArmScaleSet>(model: T): T {
  const sku = isPlainObject(model.sku) ? model.sku : {}
  const props = (isPlainObject(model.properties) ? model.properties : {}) as Record<string, unknown>
  const mode = props['orchestrationMode'] ?? 'Uniform'
  const zonal = Array.isArray(model.zones) && model.zones.length > 0
  const upgradePolicy = isPlainObject(props['upgradePolicy']) ? props['upgradePolicy'] : {}
  const uniform =
    mode === 'Uniform'
      ? {
          singlePlacementGroup: props['singlePlacementGroup'] ?? true,
          overprovision: props['overprovision'] ?? true,
          doNotRunExtensionsOnOverprovisionedVMs:
            props['doNotRunExtensionsOnOverprovisionedVMs'] ?? false,
        }
      : {}
  return {
    ...model,
    sku: { ...sku, tier: sku['tier'] ?? 'Standard' },
    properties: {
      ...props,
      orchestrationMode: mode,
      upgradePolicy: { ...upgradePolicy, mode: upgradePolicy['mode'] ?? 'Manual' },
      platformFaultDomainCount: props['platformFaultDomainCount'] ?? (zonal ? 1 : 5),
      ...uniform,
    },
  }
}
