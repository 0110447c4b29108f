/**
 * The skeleton the per-set extension resources share (`{scale set}/providers/Osroll.Upgrades/
 * {type}/default`: upgradeSettings, healthGates, lifecycleHooks, maintenanceWindows): GET, PUT or
 * PATCH, and DELETE of one field of the set's orchestrator state. Each resource says how its body
 * parses, how a value is made from what the body gives and the stored one, and how it reads back;
 * the writes here change that field alone, on the state as read at the write, so a write of one
 * extension never drops another's (set-fields.ts keeps them across a set PUT).
 */
import { Errors } from '../errors.js'
import type { StoredResource } from '../store/control-store.js'
import type { ScaleSetState } from '../store/store.js'
import type { ServiceDeps } from './deps.js'
import { updateState } from './set-state.js'
import { requireScaleSet } from './scale-sets.js'
import type { ScaleSetRef } from './scale-sets.js'
import type { ExtensionField } from './set-fields.js'

type Value<F extends ExtensionField> = NonNullable<ScaleSetState[F]>
type Context = Readonly<{ deps: ServiceDeps; nowMs: number }>

export type SetExtension<F extends ExtensionField, Given> = Readonly<{
  field: F
  /** The message of a GET's 404 when the set has none. */
  none: (setName: string, deps: ServiceDeps) => string
  /** When set, a PATCH of a set that has none is a 404 with this message (else it creates). */
  patchNone?: (setName: string) => string
  /** What the body gives, checked on its own: throws before anything is written. */
  parse: (body: unknown, state: ScaleSetState, deps: ServiceDeps) => Given | Promise<Given>
  /**
   * The value to store from what the body gave and `base`: the stored one for a PATCH, null for a
   * PUT. Run on the state read at the write; throws to write nothing.
   */
  next: (given: Given, base: Value<F> | null, nowMs: number) => Value<F>
  view: (resource: StoredResource, value: Value<F>, ctx: Context) => Record<string, unknown>
  /** Wakes the set's reconciler after a write (its passes read the field). */
  notify: boolean
}>

export type ExtensionService = Readonly<{
  get: (deps: ServiceDeps, ref: ScaleSetRef) => Promise<Record<string, unknown>>
  /** PUT replaces, PATCH (`merge`) merges as the resource's `next` says. */
  put: (
    deps: ServiceDeps,
    ref: ScaleSetRef,
    body: unknown,
    merge: boolean,
  ) => Promise<{ created: boolean; view: Record<string, unknown> }>
  /** True when the set had one. */
  delete: (deps: ServiceDeps, ref: ScaleSetRef) => Promise<boolean>
}>

export function extensionService<F extends ExtensionField, Given>(
  ext: SetExtension<F, Given>,
): ExtensionService {
  const { field } = ext
  return {
    async get(deps, ref) {
      const { resource, state } = await requireScaleSet(deps, ref)
      const value = state[field] as Value<F> | null | undefined
      if (!value) throw Errors.ResourceNotFound(ext.none(ref.name, deps))
      return ext.view(resource, value, { deps, nowMs: deps.clock.nowMs() })
    },
    async put(deps, ref, body, merge) {
      const { resource, state } = await requireScaleSet(deps, ref)
      if (merge && ext.patchNone && !state[field])
        throw Errors.ResourceNotFound(ext.patchNone(ref.name))
      const given = await ext.parse(body, state, deps)
      const created = !state[field]
      const nowMs = deps.clock.nowMs()
      let next: Value<F> | undefined
      await updateState(deps, state.key, (s) => {
        const base = merge ? ((s[field] as Value<F> | null | undefined) ?? null) : null
        next = ext.next(given, base, nowMs)
        return { ...s, [field]: next }
      })
      if (ext.notify) deps.notify(state.key)
      return { created, view: ext.view(resource, next as Value<F>, { deps, nowMs }) }
    },
    async delete(deps, ref) {
      const { state } = await requireScaleSet(deps, ref)
      if (!state[field]) return false
      await updateState(deps, state.key, (s) => ({ ...s, [field]: null }))
      if (ext.notify) deps.notify(state.key)
      return true
    },
  }
}
