/**
 * The dry run's imagined fleet (dry-run.ts): what each action of the engine does to it. Every
 * action succeeds, after `lag`; an instance boots on its new disk and turns healthy.
 */
import type { Action, InstanceObservation, Rollout } from './types.js'

/** A change to an instance that lands at `atMs`. */
export type Due = Readonly<{ atMs: number; apply: (i: InstanceObservation) => InstanceObservation }>

export type World = Readonly<{
  fleet: Map<string, InstanceObservation>
  due: Map<string, Due[]>
  schedule: (id: string, d: Due) => void
  nowMs: number
  lag: number
  rollout: Rollout
}>

/** What an action does to the imagined fleet: it succeeds, after `lag` (once per instance). */
export function applyAction(a: Action, w: World): void {
  const booted = (i: InstanceObservation, atMs: number): InstanceObservation => ({
    ...i,
    power: 'running',
    provisioning: 'succeeded',
    provisioningError: null,
    health: w.lag === 0 ? 'healthy' : 'initializing',
    bootedAtMs: atMs,
  })
  const onBoot = (
    id: string,
    atMs: number,
    change: (i: InstanceObservation) => InstanceObservation,
  ) => {
    if ((w.due.get(id) ?? []).length > 0) return // already on its way
    w.schedule(id, { atMs, apply: (i) => booted(change(i), atMs) })
    if (w.lag > 0)
      w.schedule(id, { atMs: atMs + w.lag, apply: (i) => ({ ...i, health: 'healthy' }) })
  }
  switch (a.type) {
    case 'reimage':
      for (const id of a.instanceIds)
        onBoot(id, w.nowMs + w.lag, (i) => ({
          ...i,
          previousOsImageVersion: i.osImageVersion,
          osImageVersion: a.imageVersion,
          modelGeneration: a.modelGeneration,
        }))
      return
    case 'update':
      for (const id of a.instanceIds)
        onBoot(id, w.nowMs + w.lag, (i) => ({ ...i, modelGeneration: a.modelGeneration }))
      return
    case 'create':
      for (const n of a.instances) {
        if (w.fleet.has(n.instanceId)) continue
        const fresh: InstanceObservation = {
          ...n,
          osImageVersion: n.imageVersion,
          previousOsImageVersion: null,
          protectFromScaleIn: false,
          protectFromScaleSetActions: false,
          power: 'starting',
          provisioning: 'creating',
          provisioningError: null,
          health: 'initializing',
          bootedAtMs: w.nowMs,
          osUpgradePending: false,
          osUpgradeApproved: false,
        }
        w.fleet.set(n.instanceId, fresh)
        onBoot(n.instanceId, w.nowMs + w.lag, (i) => i)
      }
      return
    case 'delete':
      for (const id of a.instanceIds) w.fleet.delete(id)
      return
    case 'release':
      for (const id of a.instanceIds) update(w, id, (i) => ({ ...i, previousOsImageVersion: null }))
      return
    case 'markPending':
    case 'clearPending':
      for (const id of a.instanceIds)
        update(w, id, (i) => ({ ...i, osUpgradePending: a.type === 'markPending' }))
      return
    case 'restore':
      return // nothing fails in the imagined fleet
  }
}

function update(w: World, id: string, f: (i: InstanceObservation) => InstanceObservation): void {
  const i = w.fleet.get(id)
  if (i) w.fleet.set(id, f(i))
}
