/** The ARM shapes the dashboard reads, and how it words them. */

export type ArmSet = {
  id: string
  name: string
  location: string
  sku?: { capacity?: number }
  properties: {
    provisioningState?: string
    upgradePolicy?: {
      mode?: string
      automaticOSUpgradePolicy?: { enableAutomaticOSUpgrade?: boolean }
      rollingUpgradePolicy?: { maxBatchInstancePercent?: number }
    }
    virtualMachineProfile?: {
      storageProfile?: {
        imageReference?: {
          publisher?: string
          offer?: string
          sku?: string
          version?: string
          exactVersion?: string
          id?: string
        }
      }
      networkProfile?: { healthProbe?: { id?: string } }
      extensionProfile?: { extensions?: { name: string; properties?: { type?: string } }[] }
    }
  }
}

export type Progress = {
  successfulInstanceCount?: number
  failedInstanceCount?: number
  inProgressInstanceCount?: number
  pendingInstanceCount?: number
}

export type Latest = {
  properties: {
    policy?: { maxBatchInstancePercent?: number; pauseTimeBetweenBatches?: string }
    runningStatus: { code: string; startTime: string; lastAction?: string }
    progress: Progress
    error?: { code?: string; message?: string }
  }
}

export type HistoryEntry = {
  properties: {
    runningStatus: { code: string; startTime: string; endTime?: string }
    progress: Progress
    startedBy?: string
    targetImageReference?: { version?: string; id?: string }
    rollbackInfo?: {
      successfullyRolledbackInstanceCount?: number
      failedRolledbackInstanceCount?: number
      rollbackError?: { message?: string }
    }
    error?: { code?: string; message?: string }
  }
}

export type Vm = {
  instanceId: string
  name: string
  zones?: string[]
  properties: {
    provisioningState?: string
    latestModelApplied?: boolean
    storageProfile?: { imageReference?: { exactVersion?: string } }
    instanceView?: {
      platformUpdateDomain?: number
      statuses?: { code: string; displayStatus?: string; message?: string }[]
      extensions?: {
        name: string
        type?: string
        statuses?: { code: string; displayStatus?: string; message?: string }[]
      }[]
      vmHealth?: { status?: { code?: string } }
    }
  }
}

export function imageOf(set: ArmSet): string {
  const r = set.properties.virtualMachineProfile?.storageProfile?.imageReference
  if (!r) return '—'
  const exact = r.exactVersion && r.exactVersion !== r.version ? ` → ${r.exactVersion}` : ''
  if (r.id) return `${r.id.split('/').slice(-3).join('/')}${exact}`
  return `${r.publisher}:${r.offer}:${r.sku}:${r.version}${exact}`
}

export function healthSource(set: ArmSet): string {
  const probe = set.properties.virtualMachineProfile?.networkProfile?.healthProbe?.id
  if (probe) return `probe ${probe.split('/').pop()}`
  const ext = set.properties.virtualMachineProfile?.extensionProfile?.extensions?.find((e) =>
    /ApplicationHealth/i.test(e.properties?.type ?? ''),
  )
  return ext ? `extension ${ext.name}` : 'none'
}

export function progressText(l: Latest): string {
  const p = l.properties.progress
  const done = p.successfulInstanceCount ?? 0
  const total =
    done +
    (p.failedInstanceCount ?? 0) +
    (p.inProgressInstanceCount ?? 0) +
    (p.pendingInstanceCount ?? 0)
  const failed = p.failedInstanceCount ? `, ${p.failedInstanceCount} failed` : ''
  return `${l.properties.runningStatus.code} · ${done}/${total} upgraded${failed}`
}

/** The visual state of one instance, from its view and the rollout events seen. */
export type CellState =
  'healthy' | 'initializing' | 'unhealthy' | 'unknown' | 'upgrading' | 'rolledBack'

export function cellState(vm: Vm, lastEvent: string | undefined): CellState {
  if (
    lastEvent === 'Reimaging' ||
    lastEvent === 'Updating' ||
    lastEvent === 'Surging' ||
    lastEvent === 'RollingBack'
  )
    return 'upgrading'
  if (lastEvent === 'RolledBack') return 'rolledBack'
  if (
    vm.properties.provisioningState === 'Creating' ||
    vm.properties.provisioningState === 'Updating'
  )
    return 'upgrading'
  const h = vm.properties.instanceView?.vmHealth?.status?.code?.replace('HealthState/', '')
  if (h === 'healthy' || h === 'initializing' || h === 'unhealthy') return h
  return 'unknown'
}

export const CELL_LABEL: Record<CellState, string> = {
  healthy: 'healthy',
  initializing: 'initializing',
  unhealthy: 'unhealthy',
  unknown: 'unknown',
  upgrading: 'upgrading',
  rolledBack: 'rolled back',
}

/**
 * A subscription's heading: its display name with the id beside it, or the id alone when it has
 * no display name of its own (the API then gives the id as the display name).
 */
export function subscriptionHeading(s: { subscriptionId: string; displayName?: string }): {
  title: string
  id: string | null
} {
  const name = s.displayName?.trim()
  if (!name || name === s.subscriptionId) return { title: s.subscriptionId, id: null }
  return { title: name, id: s.subscriptionId }
}
