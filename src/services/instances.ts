/**
 * Instance views (docs/api.md § Instances and their views): the ARM shape of each instance — the
 * image version on its OS disk,
 * whether it runs the latest model, protection, the deferral tag — and its instance view
 * (update/fault domain, provisioning and power statuses, extensions, vmHealth); protection PUT;
 * and the set's instance view summary.
 */
import { createHash } from 'node:crypto'
import { isHealthExtensionHandler, reportedHealth } from '../core/health/reported.js'
import { Errors } from '../errors.js'
import { toArmImageReference } from '../core/image/image-ref.js'
import { computerName } from '../core/scale-set/placement.js'
import { isPlainObject } from '../core/scale-set/shape.js'
import { findVmSize } from '../core/scale-set/vm-sizes.js'
import type { InstanceView } from '../fabrics/types/fabric.js'
import type { InstanceRecord, ScaleSetState } from '../store/store.js'
import type { StoredResource } from '../store/control-store.js'
import type { ServiceDeps } from './deps.js'
import type { ScaleSetRef } from './scale-sets.js'
import { requireScaleSet } from './scale-sets.js'
import { SubnetAddresses } from '../runtime/subnet-addresses.js'
import type { AddressClaim } from '../runtime/subnet-addresses.js'

const VM_TYPE = 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines'

export async function listInstances(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  expand: boolean,
): Promise<Record<string, unknown>[]> {
  const { resource, state } = await requireScaleSet(deps, ref)
  const [views, records] = await load(deps, state)
  return views.map((v) => vmView(resource, state, v, records.get(v.instanceId), expand))
}

export async function getInstance(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  instanceId: string,
  expand: boolean,
): Promise<Record<string, unknown>> {
  const { resource, state } = await requireScaleSet(deps, ref)
  const [views, records] = await load(deps, state)
  const v = views.find((x) => x.instanceId === instanceId)
  if (!v) throw instanceNotFound(ref, instanceId)
  return vmView(resource, state, v, records.get(instanceId), expand)
}

export async function getInstanceView(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  instanceId: string,
): Promise<Record<string, unknown>> {
  const { state } = await requireScaleSet(deps, ref)
  const [views, records] = await load(deps, state)
  const v = views.find((x) => x.instanceId === instanceId)
  if (!v) throw instanceNotFound(ref, instanceId)
  return instanceViewOf(state, v, records.get(instanceId))
}

/**
 * PUT on an instance: only `properties.protectionPolicy` is writable
 * (docs/api.md § Instances and their views).
 */
export async function putInstanceProtection(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  instanceId: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const { resource, state } = await requireScaleSet(deps, ref)
  const [views, records] = await load(deps, state)
  const v = views.find((x) => x.instanceId === instanceId)
  if (!v) throw instanceNotFound(ref, instanceId)
  const policy =
    isPlainObject(body) && isPlainObject(body['properties'])
      ? body['properties']['protectionPolicy']
      : undefined
  const current = records.get(instanceId) ?? blankRecord(instanceId)
  let next = current
  if (policy !== undefined) {
    if (!isPlainObject(policy))
      throw Errors.InvalidParameter(
        'protectionPolicy must be an object.',
        'properties.protectionPolicy',
      )
    for (const [k, val] of Object.entries(policy)) {
      if (k !== 'protectFromScaleIn' && k !== 'protectFromScaleSetActions') {
        throw Errors.InvalidRequestContent(
          `Could not find member '${k}' on object of type 'VirtualMachineScaleSetVMProtectionPolicy'. Path 'properties.protectionPolicy.${k}'.`,
          `properties.protectionPolicy.${k}`,
        )
      }
      if (typeof val !== 'boolean')
        throw Errors.InvalidParameter(`${k} must be a boolean.`, `properties.protectionPolicy.${k}`)
    }
    next = { ...current, ...(policy as Partial<InstanceRecord>) }
  }
  await deps.store.putInstanceRecords(state.key, [next])
  deps.notify(state.key)
  return vmView(resource, state, v, next, false)
}

/**
 * The set's instance view: counts per status code and per extension
 * (docs/api.md § Instances and their views).
 */
export async function scaleSetInstanceView(
  deps: ServiceDeps,
  ref: ScaleSetRef,
): Promise<Record<string, unknown>> {
  const { state } = await requireScaleSet(deps, ref)
  const [views, records] = await load(deps, state)
  const codes = new Map<string, number>()
  const exts = new Map<string, Map<string, number>>()
  for (const v of views) {
    for (const s of instanceViewOf(state, v, records.get(v.instanceId))['statuses'] as {
      code: string
    }[]) {
      codes.set(s.code, (codes.get(s.code) ?? 0) + 1)
    }
    for (const e of v.extensions) {
      const m = exts.get(e.name) ?? new Map<string, number>()
      const code = `ProvisioningState/${e.state}`
      m.set(code, (m.get(code) ?? 0) + 1)
      exts.set(e.name, m)
    }
  }
  return {
    virtualMachine: { statusesSummary: [...codes].map(([code, count]) => ({ code, count })) },
    extensions: [...exts].map(([name, m]) => ({
      name,
      statusesSummary: [...m].map(([code, count]) => ({ code, count })),
    })),
    statuses: [
      {
        code: 'ProvisioningState/succeeded',
        level: 'Info',
        displayStatus: 'Provisioning succeeded',
      },
    ],
  }
}

async function load(
  deps: ServiceDeps,
  state: ScaleSetState,
): Promise<[readonly InstanceView[], Map<string, InstanceRecord>]> {
  const [views, records] = await Promise.all([
    deps.fabric.listInstances(state.key),
    deps.store.listInstanceRecords(state.key),
  ])
  return [views, new Map(records.map((r) => [r.instanceId, r]))]
}

/** An instance as the API shows it (its ARM body), also the source of its metadata document. */
export function vmView(
  resource: StoredResource,
  state: ScaleSetState,
  v: InstanceView,
  r: InstanceRecord | undefined,
  expand: boolean,
): Record<string, unknown> {
  const setId = String(resource.body['id'] ?? resource.id)
  return {
    id: `${setId}/virtualMachines/${v.instanceId}`,
    name: `${resource.name}_${v.instanceId}`,
    type: VM_TYPE,
    instanceId: v.instanceId,
    location: resource.body['location'],
    ...skuOf(resource),
    ...(v.zone !== null ? { zones: [v.zone] } : {}),
    ...(r?.osUpgradePending ? { tags: { 'Platform.PendingOSUpgrade': 'true' } } : {}),
    properties: {
      vmId: vmIdOf(String(props(resource)['uniqueId'] ?? state.key), v.instanceId),
      latestModelApplied: v.modelGeneration >= state.spec.modelGeneration,
      provisioningState: capital(v.provisioning),
      osProfile: { computerName: computerName(state.fabricModel.computerNamePrefix, v.instanceId) },
      storageProfile: {
        imageReference: toArmImageReference(state.spec.image, v.osImageVersion),
        osDisk: { createOption: 'FromImage', osType: 'Linux' },
        dataDisks: v.dataDisks.map((d) => ({
          lun: d.lun,
          name: d.diskId,
          createOption: 'Empty',
          ...(d.sizeGB !== undefined ? { diskSizeGB: d.sizeGB } : {}),
        })),
      },
      protectionPolicy: {
        protectFromScaleIn: r?.protectFromScaleIn ?? false,
        protectFromScaleSetActions: r?.protectFromScaleSetActions ?? false,
      },
      ...(expand ? { instanceView: instanceViewOf(state, v, r) } : {}),
    },
  }
}

/**
 * An instance's `sku`, as Azure shows a Uniform set's instances: the set's size and its tier
 * (`{ name: 'Standard_D2s_v3', tier: 'Standard' }`); nothing when the set names no size.
 */
function skuOf(resource: StoredResource): { sku?: { name: string; tier: string } } {
  const size = findVmSize((resource.body['sku'] as { name?: unknown } | undefined)?.name)
  return size ? { sku: { name: size.name, tier: size.tier } } : {}
}

/** The stored body's `properties`, or nothing. */
function props(resource: StoredResource): Record<string, unknown> {
  const p = resource.body['properties']
  return isPlainObject(p) ? p : {}
}

/** The RFC 4122 namespace of osroll's derived ids (a fixed random UUID; never change it). */
const VM_ID_NAMESPACE = Buffer.from('5f0c1d2e8b7a4c39a6e1d4f2b3c5a798', 'hex')

/**
 * An instance's `vmId`: a UUID v5 (SHA-1, RFC 4122 §4.3) of the scale set's `uniqueId` and the
 * instance id. It is derived, not stored: the same on every read, reimage, restart and
 * replica without a schema change, and different per instance, because instance ids are never
 * reused within a set and a set deleted and created again gets a new `uniqueId`.
 *
 * @example vmIdOf('0f8fad5b-d9cb-469f-a165-70867728950e', '3') // 'xxxxxxxx-xxxx-5xxx-yxxx-…'
 */
export function vmIdOf(scaleSetUniqueId: string, instanceId: string): string {
  const hash = createHash('sha1')
    .update(VM_ID_NAMESPACE)
    .update(`${scaleSetUniqueId}/${instanceId}`)
    .digest()
    .subarray(0, 16)
  hash[6] = (hash[6]! & 0x0f) | 0x50 // version 5
  hash[8] = (hash[8]! & 0x3f) | 0x80 // RFC 4122 variant
  const h = hash.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

function instanceViewOf(
  state: ScaleSetState,
  v: InstanceView,
  _r: InstanceRecord | undefined,
): Record<string, unknown> {
  const failed = v.provisioning === 'failed'
  return {
    platformUpdateDomain: v.updateDomain,
    platformFaultDomain: v.faultDomain,
    computerName: computerName(state.fabricModel.computerNamePrefix, v.instanceId),
    statuses: [
      {
        code: `ProvisioningState/${v.provisioning === 'creating' || v.provisioning === 'updating' ? 'updating' : v.provisioning}`,
        level: failed ? 'Error' : 'Info',
        displayStatus: failed
          ? 'Provisioning failed'
          : v.provisioning === 'succeeded'
            ? 'Provisioning succeeded'
            : 'Updating',
        ...(v.provisioningError ? { message: v.provisioningError } : {}),
      },
      { code: `PowerState/${v.power}`, level: 'Info', displayStatus: `VM ${v.power}` },
      // After Azure's own statuses, so that clients reading statuses[1] as the power state keep
      // working (docs/api.md § Instances and their views).
      ...(v.accelerator
        ? [
            {
              code: `Osroll/Accelerator/${v.accelerator.accel}`,
              level: 'Info',
              displayStatus:
                v.accelerator.accel === 'kvm'
                  ? 'VM under KVM (hardware virtualisation)'
                  : 'VM under TCG (software emulation)',
              message: v.accelerator.reason,
            },
          ]
        : []),
    ],
    extensions: v.extensions.map((e) => {
      const ext = state.fabricModel.extensions.find((x) => x.name === e.name)
      return {
        name: e.name,
        type: ext ? `${ext.publisher}.${ext.type}` : e.type,
        typeHandlerVersion: ext?.typeHandlerVersion ?? '1.0',
        statuses: [
          {
            code: `ProvisioningState/${e.state}`,
            level: e.state === 'failed' ? 'Error' : 'Info',
            displayStatus: capital(e.state),
            message: e.message,
          },
        ],
      }
    }),
    ...(state.spec.healthSource !== 'none' ? { vmHealth: vmHealthOf(state, v) } : {}),
  }
}

/** `vmHealth`: no verdict before the Application Health extension reports (issue 18, gap 8). */
function vmHealthOf(state: ScaleSetState, v: InstanceView): Record<string, unknown> {
  const ext = state.fabricModel.extensions.find((e) =>
    isHealthExtensionHandler(e.publisher, e.type),
  )
  const health = reportedHealth({
    source: state.spec.healthSource,
    health: v.health,
    healthExtension: ext ? (v.extensions.find((e) => e.name === ext.name)?.state ?? null) : null,
  })
  return {
    status: { code: `HealthState/${health}`, level: 'Info', displayStatus: `The VM is ${health}` },
  }
}

function instanceNotFound(ref: ScaleSetRef, id: string): Error {
  return Errors.ResourceNotFound(
    `The Resource 'Microsoft.Compute/virtualMachineScaleSets/${ref.name}/virtualMachines/${id}' under resource group '${ref.rg}' was not found.`,
  )
}

function blankRecord(instanceId: string): InstanceRecord {
  return {
    instanceId,
    protectFromScaleIn: false,
    protectFromScaleSetActions: false,
    osUpgradePending: false,
    osUpgradeApproved: false,
  }
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}

/**
 * Network interfaces of one instance or all (docs/api.md § Instances and their views): where the
 * instance's private IP is.
 */
export async function networkInterfaces(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  instanceId?: string,
): Promise<Record<string, unknown>[]> {
  const { resource, state } = await requireScaleSet(deps, ref)
  const views = await deps.fabric.listInstances(state.key)
  const chosen = instanceId === undefined ? views : views.filter((v) => v.instanceId === instanceId)
  if (instanceId !== undefined && chosen.length === 0) throw instanceNotFound(ref, instanceId)
  const setId = String(resource.body['id'] ?? resource.id)
  const claims = new Map(
    (await new SubnetAddresses(deps.store).ofScaleSet(state.key)).map((c) => [c.instanceId, c]),
  )
  return chosen.map((v) => nicView(setId, v, claims.get(v.instanceId)))
}

/**
 * One instance's network interface. An instance of a set that names a subnet shows the address
 * it holds in that subnet, under the model's interface and IP configuration names, with the
 * subnet's id; otherwise the fabric's own address (docs/api.md § Virtual networks and subnets).
 */
function nicView(setId: string, v: InstanceView, claim: AddressClaim | undefined) {
  const vmId = `${setId}/virtualMachines/${v.instanceId}`
  const nic = claim?.nic ?? 'nic0'
  const ipConfig = claim?.ipConfig ?? 'ipconfig1'
  return {
    id: `${vmId}/networkInterfaces/${nic}`,
    name: nic,
    properties: {
      primary: true,
      virtualMachine: { id: vmId },
      ipConfigurations: [
        {
          ...(claim ? { id: `${vmId}/networkInterfaces/${nic}/ipConfigurations/${ipConfig}` } : {}),
          name: ipConfig,
          properties: {
            primary: true,
            privateIPAddress: claim?.address ?? v.privateIp,
            privateIPAllocationMethod: 'Dynamic',
            ...(claim ? { subnet: { id: claim.subnetId } } : {}),
          },
        },
      ],
    },
  }
}

/** osroll's bootDiagnostics: the tail of an instance's console (stdout/stderr), 64 KiB at most. */
export async function bootDiagnostics(
  deps: ServiceDeps,
  ref: ScaleSetRef,
  instanceId: string,
): Promise<Record<string, unknown>> {
  const { state } = await requireScaleSet(deps, ref)
  if (!deps.fabric.consoleLog) {
    throw Errors.NotSupported(
      `The '${deps.fabric.name}' fabric has no instance console; bootDiagnostics needs the local fabric.`,
    )
  }
  const log = await deps.fabric.consoleLog(state.key, instanceId, 64 * 1024)
  if (log === undefined) throw instanceNotFound(ref, instanceId)
  return { consoleLog: log, bytes: Buffer.byteLength(log) }
}
