/**
 * The metadata service guests reach at 169.254.169.254 (docs/qemu.md § The metadata service):
 * it answers one instance — the one the fabric bound the request to — with its instance document
 * (the same facts the API shows for it) and its scheduled events. A pending OS upgrade of a set
 * with `osRollingUpgradeDeferral` (docs/rollouts.md R6) is the instance's `Reimage` event; the
 * guest's StartRequests approves it exactly as approveRollingUpgrade does.
 */
import type {
  GuestIdentity,
  GuestMetadata,
  MetadataAnswer,
  MetadataRequest,
} from '../fabrics/types/metadata.js'
import type { InstanceView } from '../fabrics/types/fabric.js'
import type { InstanceRecord, ScaleSetState } from '../store/store.js'
import type { StoredResource } from '../store/control-store.js'
import type { ServiceDeps } from './deps.js'
import { vmIdOf, vmView } from './instances.js'
import { approveInstances } from './rollouts.js'
import {
  filterDocument,
  INSTANCE_API_VERSIONS,
  instanceDocument,
  json,
  parseMetadataRequest,
  scheduledEventsDocument,
  type InstanceFacts,
  type ReimageEvent,
} from './metadata-documents.js'

export type InstanceMetadataOptions = Readonly<{
  /**
   * How long after a deferred rollout starts its Reimage events stand before a guest that
   * asks for its events has them approved (NotBefore). Default PT15M: Azure's
   * `osImageNotificationProfile.notBeforeTimeout` for OS image events.
   */
  notBeforeMs?: number
  /** Requests per second and VM before 429 (Azure: 5). */
  requestsPerSecond?: number
}>

export const DEFAULT_NOT_BEFORE_MS = 15 * 60_000

/**
 * The service, with its per-VM memory (document incarnations, rate windows).
 * @example new QemuFabric({ …, metadata: createInstanceMetadata(deps) })
 */
export function createInstanceMetadata(
  deps: ServiceDeps,
  o: InstanceMetadataOptions = {},
): GuestMetadata {
  const notBeforeMs = o.notBeforeMs ?? DEFAULT_NOT_BEFORE_MS
  const limit = o.requestsPerSecond ?? 5
  const incarnations = new Map<string, { signature: string; n: number }>()
  const windows = new Map<string, { second: number; count: number }>()
  const overLimit = (key: string): boolean => {
    const second = Math.floor(deps.clock.nowMs() / 1000)
    if (windows.size > 10_000) windows.clear() // a bound, never reached by a live fleet
    const w = windows.get(key)
    if (!w || w.second !== second) windows.set(key, { second, count: 1 })
    else if (++w.count > limit) return true
    return false
  }
  const incarnation = (key: string, events: readonly ReimageEvent[]): number => {
    const signature = JSON.stringify(events)
    const seen = incarnations.get(key)
    if (seen?.signature === signature) return seen.n
    const n = (seen?.n ?? 0) + 1
    if (incarnations.size > 10_000) incarnations.clear() // VMs come and go; a bound all the same
    incarnations.set(key, { signature, n })
    return n
  }
  return {
    async answer(guest: GuestIdentity, req: MetadataRequest): Promise<MetadataAnswer> {
      const key = `${guest.scaleSetKey}|${guest.instanceId}`
      if (overLimit(key)) return json(429, { error: 'Too many requests' })
      const parsed = parseMetadataRequest(req)
      if (parsed.kind === 'refused') return parsed.answer
      if (parsed.kind === 'versions')
        return json(200, { apiVersions: [...INSTANCE_API_VERSIONS].reverse() })
      const ctx = await loadInstance(deps, guest)
      if (!ctx) return json(404, { error: 'Not found' })
      if (parsed.kind === 'instance')
        return filterDocument(instanceDocument(factsOf(ctx)), parsed.path, parsed.format)
      const events = await reimageEvents(deps, ctx, notBeforeMs)
      if (parsed.method === 'POST') return startEvents(deps, ctx, events, parsed.eventIds)
      const due = events.filter((e) => !e.started && deps.clock.nowMs() >= e.notBeforeMs)
      // NotBefore reached while the guest is listening: approved, as Azure does (docs/qemu.md).
      if (due.length > 0)
        await approveInstances(deps, ctx.state.key, ctx.records, [ctx.id], 'NotBeforeReached')
      const shown = events.map((e) => (due.includes(e) ? { ...e, started: true } : e))
      return json(200, scheduledEventsDocument(incarnation(key, shown), shown))
    },
  }
}

/** Everything one answer reads about the instance, or null when it is gone. */
type InstanceContext = Readonly<{
  id: string
  resource: StoredResource
  state: ScaleSetState
  view: InstanceView
  record: InstanceRecord | undefined
  records: readonly InstanceRecord[]
}>

async function loadInstance(
  deps: ServiceDeps,
  guest: GuestIdentity,
): Promise<InstanceContext | null> {
  const [resource, state] = await Promise.all([
    deps.store.getResource(guest.scaleSetKey),
    deps.store.getScaleSet(guest.scaleSetKey),
  ])
  if (!resource || !state) return null
  const [views, records] = await Promise.all([
    deps.fabric.listInstances(state.key),
    deps.store.listInstanceRecords(state.key),
  ])
  const view = views.find((v) => v.instanceId === guest.instanceId)
  if (!view) return null
  const record = records.find((r) => r.instanceId === guest.instanceId)
  return { id: guest.instanceId, resource, state, view, record, records }
}

/** The instance document's facts: the instance's ARM body (as the API shows it) and its set. */
function factsOf(ctx: InstanceContext): InstanceFacts {
  const { resource, view } = ctx
  const vm = vmView(resource, ctx.state, view, ctx.record, false) as {
    id: string
    name: string
    properties: {
      vmId: string
      osProfile: { computerName: string }
      storageProfile: { imageReference: Record<string, string> }
    }
  }
  const body = resource.body as { id?: string; location?: string; sku?: { name?: string } }
  const setId = String(body.id ?? resource.id)
  const tags = (resource.body['tags'] ?? {}) as Record<string, string>
  return {
    name: vm.name,
    vmId: vm.properties.vmId,
    resourceId: vm.id,
    subscriptionId: resource.subscriptionId,
    resourceGroupName:
      /\/resourceGroups\/([^/]+)\//i.exec(setId)?.[1] ?? resource.resourceGroup ?? '',
    location: body.location ?? '',
    vmScaleSetName: resource.name,
    vmSize: body.sku?.name ?? '',
    zone: view.zone ?? '',
    platformUpdateDomain: view.updateDomain,
    platformFaultDomain: view.faultDomain,
    computerName: vm.properties.osProfile.computerName,
    imageReference: vm.properties.storageProfile.imageReference,
    version: view.osImageVersion,
    dataDisks: view.dataDisks.map((d) => ({
      lun: d.lun,
      name: d.diskId,
      ...(d.sizeGB !== undefined ? { sizeGB: d.sizeGB } : {}),
    })),
    tags: {
      ...tags,
      ...(ctx.record?.osUpgradePending ? { 'Platform.PendingOSUpgrade': 'true' } : {}),
    },
    privateIpAddress: view.privateIp,
  }
}

/**
 * The instance's Reimage event: its OS upgrade is pending under the set's running rollout
 * (deferral). The id is derived from the rollout and the instance, so it is the same on every
 * read and after a restart; NotBefore is the rollout's start plus `notBeforeMs`.
 */
async function reimageEvents(
  deps: ServiceDeps,
  ctx: InstanceContext,
  notBeforeMs: number,
): Promise<ReimageEvent[]> {
  if (!ctx.record?.osUpgradePending) return []
  const rollout = await deps.store.getActiveRollout(ctx.state.key)
  if (!rollout || !rollout.deferral) return []
  return [
    {
      eventId: vmIdOf(`scheduled-event/${rollout.id}`, ctx.id),
      resource: `${ctx.resource.name}_${ctx.id}`,
      started: ctx.record.osUpgradeApproved,
      notBeforeMs: rollout.startedAtMs + notBeforeMs,
      targetVersion: rollout.target.imageVersion,
    },
  ]
}

/** POST StartRequests: only this instance's own events; each approves its pending upgrade. */
async function startEvents(
  deps: ServiceDeps,
  ctx: InstanceContext,
  events: readonly ReimageEvent[],
  eventIds: readonly string[],
): Promise<MetadataAnswer> {
  const unknown = eventIds.filter((id) => !events.some((e) => e.eventId === id))
  if (unknown.length > 0)
    return json(400, {
      error: `Bad request. No scheduled event of this virtual machine has the EventId ${unknown.join(', ')}`,
    })
  if (events.some((e) => !e.started))
    await approveInstances(deps, ctx.state.key, ctx.records, [ctx.id], 'ApprovedByGuest')
  return { status: 200, contentType: 'text/plain; charset=utf-8', body: '' }
}
