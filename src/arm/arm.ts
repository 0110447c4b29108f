/**
 * ARM plumbing, below the services and the routes that both use it: resource ids, the error
 * envelope (docs/api.md § Validation: `{error: {code, message, target, details}}`), Compute's PUT
 * merge,
 * read-only and write-only members, and the body checks every resource shares.
 */
import { AppError, Errors } from '../errors.js'
import type { Problem } from '../core/problem.js'
import { isPlainObject } from '../core/scale-set/shape.js'

export type ArmErrorBody = {
  error: {
    code: string
    message: string
    target?: string
    details?: { code: string; target?: string; message: string }[]
  }
}

/** An AppError carrying the problems of a validation: the first is the error, all are details. */
export function problemsError(problems: readonly Problem[]): AppError {
  const first = problems[0] as Problem
  const details =
    problems.length > 1 || first.details
      ? [...(first.details ?? []), ...problems.slice(1)]
      : undefined
  return new AppError(
    first.code,
    first.status ?? 400,
    false,
    first.message,
    first.target,
    details?.map((d) => ({ code: d.code, target: d.target, message: d.message })),
  )
}

export function errorBody(e: AppError): ArmErrorBody {
  return {
    error: {
      code: e.code,
      message: e.message,
      ...(e.target ? { target: e.target } : {}),
      ...(e.details && e.details.length > 0 ? { details: [...e.details] } : {}),
    },
  }
}

/**
 * Compute's merge on PUT (docs/api.md § Differences from Azure, and why): members absent from the
 * body keep their stored values,
 * members present replace them; objects merge member by member, arrays and scalars replace.
 * @example mergeArm({ a: { b: 1, c: 2 }, l: [1] }, { a: { b: 3 }, l: [] }) → { a: { b: 3, c: 2 }, l: [] }
 */
export function mergeArm(stored: unknown, body: unknown): unknown {
  if (!isPlainObject(stored) || !isPlainObject(body)) return body
  const out: Record<string, unknown> = { ...stored }
  for (const [k, v] of Object.entries(body)) out[k] = k in stored ? mergeArm(stored[k], v) : v
  return out
}

/** Removes members a client may send but never sets (read-only) from a scale set body. */
export function withoutReadOnly(body: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, name: _name, type: _type, etag: _etag, ...rest } = body
  const props = isPlainObject(rest['properties']) ? { ...rest['properties'] } : undefined
  if (props) {
    delete props['provisioningState']
    delete props['uniqueId']
    delete props['timeCreated']
    const ref = (
      props['virtualMachineProfile'] as
        { storageProfile?: { imageReference?: Record<string, unknown> } } | undefined
    )?.storageProfile?.imageReference
    if (isPlainObject(ref)) delete ref['exactVersion']
    rest['properties'] = props
  }
  return rest
}

/**
 * Write-only members never leave osroll (docs/api.md § Scale set shape): `adminPassword`,
 * `customData` (Azure
 * never returns it either: issue 15) and every extension's `protectedSettings` are removed from
 * what a GET, a list, a PUT or a PATCH returns. They stay stored and in use.
 */
export function withoutSecrets(body: Record<string, unknown>): Record<string, unknown> {
  // Copies only along the paths it edits (a deep clone was 5% of a GET's CPU).
  const props = body['properties'] as Record<string, unknown> | undefined
  const vmp = props?.['virtualMachineProfile'] as Record<string, unknown> | undefined
  if (!props || !vmp) return { ...body }
  const os = vmp['osProfile'] as Record<string, unknown> | undefined
  const ext = vmp['extensionProfile'] as Record<string, unknown> | undefined
  const exts = (ext?.['extensions'] ?? []) as Record<string, unknown>[]
  const { adminPassword: _password, customData: _customData, ...safeOs } = os ?? {}
  const newVmp: Record<string, unknown> = { ...vmp, ...(os ? { osProfile: safeOs } : {}) }
  if (ext) {
    newVmp['extensionProfile'] = {
      ...ext,
      extensions: exts.map((e) => {
        const p = e['properties'] as Record<string, unknown> | undefined
        if (!p) return e
        const { protectedSettings: _secret, ...safe } = p
        return { ...e, properties: safe }
      }),
    }
  }
  return { ...body, properties: { ...props, virtualMachineProfile: newVmp } }
}

/**
 * A GET never shows an extension's `protectedSettings` (`withoutSecrets`), so a client that
 * PUTs back what it read sends each extension without them, and the extension list replaces the
 * stored one (`mergeArm`). As in Azure, where `az vmss update` (a GET then a PUT) keeps them, an
 * extension sent without `protectedSettings` keeps those stored for the extension of the same
 * name (docs/api.md § What a GET returns).
 * @example keepExtensionSecrets(stored with ext 'cse' {protectedSettings: {k: 1}},
 *   merged with ext 'cse' {settings: {}}) → merged with ext 'cse' {settings: {}, protectedSettings: {k: 1}}
 */
export function keepExtensionSecrets(stored: unknown, merged: unknown): unknown {
  const before = new Map(
    extensionList(stored).flatMap((e): [string, unknown][] => {
      if (!isPlainObject(e)) return []
      const secret = isPlainObject(e['properties']) ? e['properties']['protectedSettings'] : null
      return typeof e['name'] === 'string' && secret !== undefined && secret !== null
        ? [[e['name'].toLowerCase(), secret]]
        : []
    }),
  )
  const list = extensionList(merged)
  if (before.size === 0 || list.length === 0) return merged
  const extensions = list.map((e) => {
    if (!isPlainObject(e)) return e // validation refuses it
    const p = e['properties']
    const secret = typeof e['name'] === 'string' ? before.get(e['name'].toLowerCase()) : undefined
    if (!isPlainObject(p) || secret === undefined || 'protectedSettings' in p) return e
    return { ...e, properties: { ...p, protectedSettings: secret } }
  })
  const b = merged as Record<string, Record<string, Record<string, Record<string, unknown>>>>
  const props = b['properties'] as Record<string, Record<string, Record<string, unknown>>>
  const vmp = props['virtualMachineProfile'] as Record<string, Record<string, unknown>>
  return {
    ...b,
    properties: {
      ...props,
      virtualMachineProfile: {
        ...vmp,
        extensionProfile: { ...vmp['extensionProfile'], extensions },
      },
    },
  }
}

/** `properties.virtualMachineProfile.extensionProfile.extensions` as sent, or []. */
function extensionList(body: unknown): unknown[] {
  const props = isPlainObject(body) ? body['properties'] : undefined
  const vmp = isPlainObject(props) ? props['virtualMachineProfile'] : undefined
  const ext = isPlainObject(vmp) ? vmp['extensionProfile'] : undefined
  const list = isPlainObject(ext) ? ext['extensions'] : undefined
  return Array.isArray(list) ? list : []
}

export const SCALE_SET_TYPE = 'Microsoft.Compute/virtualMachineScaleSets'
export const LB_TYPE = 'Microsoft.Network/loadBalancers'
export const VNET_TYPE = 'Microsoft.Network/virtualNetworks'
export const SUBNET_TYPE = 'Microsoft.Network/virtualNetworks/subnets'
export const PLATFORM_IMAGE_TYPE = 'Microsoft.Compute/platformImageVersions'
export const SUBSCRIPTION_TYPE = 'Microsoft.Resources/subscriptions'
export const RESOURCE_GROUP_TYPE = 'Microsoft.Resources/resourceGroups'
export const SERVICE_FABRIC_TYPE = 'Microsoft.ServiceFabric/clusters'

export function resourceGroupId(sub: string, rg: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}`
}

export function scaleSetId(sub: string, rg: string, name: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/${SCALE_SET_TYPE}/${name}`
}

export function loadBalancerId(sub: string, rg: string, name: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/${LB_TYPE}/${name}`
}

export function virtualNetworkId(sub: string, rg: string, name: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/${VNET_TYPE}/${name}`
}

const PROBE_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/loadBalancers\/([^/]+)\/probes\/([^/]+)$/i

export function parseProbeId(
  id: string,
): { sub: string; rg: string; lb: string; probe: string } | undefined {
  const m = PROBE_ID.exec(id)
  return m
    ? { sub: m[1] as string, rg: m[2] as string, lb: m[3] as string, probe: m[4] as string }
    : undefined
}

/** Platform images are shared by every subscription, so their key has none. */
export function platformImagePrefix(
  location: string,
  publisher: string,
  offer: string,
  sku: string,
): string {
  return `/providers/Microsoft.Compute/locations/${location}/publishers/${publisher}/artifacttypes/vmimage/offers/${offer}/skus/${sku}/versions/`.toLowerCase()
}

/** A request body that must be a JSON object (ARM: InvalidRequestContent). */
export function requireObject(body: unknown): Record<string, unknown> {
  if (!isPlainObject(body))
    throw Errors.InvalidRequestContent('The request body must be a JSON object.')
  return body
}

/** The body's required `location` (ARM: LocationRequired). */
export function requireLocation(b: Record<string, unknown>): string {
  if (typeof b['location'] !== 'string' || b['location'] === '')
    throw Errors.LocationRequired("The 'location' property is required.", 'location')
  return b['location']
}
