/**
 * An in-process Store with the same semantics as the durable ones (revisions, one running
 * rollout per set). Used by the simulator and unit tests; it is checked by the same contract
 * suite as the SQLite store.
 */
import { Errors } from '../../errors.js'
import type { Rollout, RolloutEvent } from '../../core/rollout/types.js'
import { isPlanEvent } from '../../core/rollout/types.js'
import type { InstanceRecord, ScaleSetState, Store } from '../store.js'

export class MemoryStore implements Store {
  private readonly sets = new Map<string, ScaleSetState>()
  private readonly instances = new Map<string, Map<string, InstanceRecord>>()
  private readonly rollouts = new Map<string, Rollout>()
  private readonly active = new Map<string, string>()
  private readonly events = new Map<string, RolloutEvent[]>()
  /** Every event in sequence order; deletions keep the order, so it stays sorted by `seq`. */
  private log: { seq: number; event: RolloutEvent }[] = []
  private seq = 0

  async listScaleSetKeys(): Promise<readonly string[]> {
    return [...this.sets.keys()]
  }

  async getScaleSet(key: string): Promise<ScaleSetState | undefined> {
    return this.sets.get(key)
  }

  async putScaleSet(
    state: ScaleSetState,
    expectedRevision: number | null,
    o: Readonly<{ onlyWithRollout?: string }> = {},
  ): Promise<ScaleSetState> {
    const current = this.sets.get(state.key)
    if ((current?.revision ?? null) !== expectedRevision) {
      throw Errors.RevisionConflict(
        `scale set ${state.key} changed (revision ${current?.revision ?? 'none'}, expected ${expectedRevision ?? 'none'})`,
      )
    }
    if (o.onlyWithRollout !== undefined && !this.rollouts.has(o.onlyWithRollout)) {
      throw Errors.RevisionConflict(`rollout ${o.onlyWithRollout} was not created`)
    }
    const saved = { ...state, revision: (expectedRevision ?? 0) + 1 }
    this.sets.set(state.key, saved)
    return saved
  }

  async deleteScaleSet(key: string): Promise<void> {
    this.sets.delete(key)
    this.instances.delete(key)
    this.active.delete(key)
    this.forget([...this.rollouts.values()].filter((r) => r.scaleSetKey === key))
  }

  /** Deletes rollouts with their events (from the log too). */
  private forget(doomed: readonly Rollout[]): void {
    if (doomed.length === 0) return
    const ids = new Set(doomed.map((r) => r.id))
    for (const id of ids) {
      this.rollouts.delete(id)
      this.events.delete(id)
    }
    this.log = this.log.filter((e) => !ids.has(e.event.rolloutId))
  }

  async listInstanceRecords(key: string): Promise<readonly InstanceRecord[]> {
    return [...(this.instances.get(key)?.values() ?? [])]
  }

  async putInstanceRecords(key: string, records: readonly InstanceRecord[]): Promise<void> {
    let map = this.instances.get(key)
    if (!map) this.instances.set(key, (map = new Map()))
    for (const r of records) map.set(r.instanceId, r)
  }

  async getActiveRollout(key: string): Promise<Rollout | undefined> {
    const id = this.active.get(key)
    return id === undefined ? undefined : this.rollouts.get(id)
  }

  async getRollout(id: string): Promise<Rollout | undefined> {
    return this.rollouts.get(id)
  }

  async createRollout(rollout: Rollout, events: readonly RolloutEvent[] = []): Promise<void> {
    if (this.active.has(rollout.scaleSetKey)) {
      throw Errors.OperationNotAllowed(
        `Scale set ${rollout.scaleSetKey} already has a rollout in progress.`,
      )
    }
    if (this.rollouts.has(rollout.id)) throw Errors.Conflict(`rollout ${rollout.id} exists`)
    this.rollouts.set(rollout.id, rollout)
    if (rollout.status === 'RollingForward') this.active.set(rollout.scaleSetKey, rollout.id)
    await this.appendEvents(events)
  }

  async saveRollout(
    rollout: Rollout,
    expectedRevision: number,
    events: readonly RolloutEvent[] = [],
  ): Promise<void> {
    const current = this.rollouts.get(rollout.id)
    if (!current || current.revision !== expectedRevision) {
      throw Errors.RevisionConflict(
        `rollout ${rollout.id} changed (revision ${current?.revision}, expected ${expectedRevision})`,
      )
    }
    this.rollouts.set(rollout.id, rollout)
    await this.appendEvents(events)
    if (
      rollout.status !== 'RollingForward' &&
      this.active.get(rollout.scaleSetKey) === rollout.id
    ) {
      this.active.delete(rollout.scaleSetKey)
    }
  }

  async listRollouts(
    key: string,
    o: { limit: number; before?: { startedAtMs: number; id: string } },
  ): Promise<readonly Rollout[]> {
    const all = [...this.rollouts.values()]
      .filter((r) => r.scaleSetKey === key)
      .sort((a, b) => b.startedAtMs - a.startedAtMs || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    const from = o.before
      ? all.filter(
          (r) =>
            r.startedAtMs < o.before!.startedAtMs ||
            (r.startedAtMs === o.before!.startedAtMs && r.id < o.before!.id),
        )
      : all
    return from.slice(0, o.limit)
  }

  async pruneRollouts(key: string, o: { beforeMs: number; keepLast: number }): Promise<number> {
    const ended = [...this.rollouts.values()]
      .filter((r) => r.scaleSetKey === key && r.status !== 'RollingForward')
      .sort((a, b) => b.startedAtMs - a.startedAtMs || (a.id < b.id ? 1 : -1))
    const doomed = ended.slice(o.keepLast).filter((r) => r.startedAtMs < o.beforeMs)
    this.forget(doomed)
    return doomed.length
  }

  async pruneOrphanRollouts(limit: number): Promise<number> {
    const doomed = [...this.rollouts.values()]
      .filter((r) => !this.sets.has(r.scaleSetKey))
      .slice(0, limit)
    for (const r of doomed)
      if (this.active.get(r.scaleSetKey) === r.id) this.active.delete(r.scaleSetKey)
    this.forget(doomed)
    return doomed.length
  }

  /** Drops the events of a rollout that is not (or no longer) stored; a plan's are kept. */
  async appendEvents(events: readonly RolloutEvent[]): Promise<void> {
    for (const e of events) {
      if (!isPlanEvent(e) && !this.rollouts.has(e.rolloutId)) continue
      let list = this.events.get(e.rolloutId)
      if (!list) this.events.set(e.rolloutId, (list = []))
      list.push(e)
      this.log.push({ seq: ++this.seq, event: e })
    }
  }

  async listEventsAfter(
    afterSeq: number,
    limit: number,
  ): Promise<readonly { seq: number; event: RolloutEvent }[]> {
    // The first entry after `afterSeq` (binary search: the log is sorted by seq).
    let lo = 0
    let hi = this.log.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((this.log[mid] as { seq: number }).seq <= afterSeq) lo = mid + 1
      else hi = mid
    }
    return this.log.slice(lo, lo + limit)
  }

  async lastEventSeq(): Promise<number> {
    return this.log.at(-1)?.seq ?? 0
  }

  async listEvents(rolloutId: string): Promise<readonly RolloutEvent[]> {
    return this.events.get(rolloutId) ?? []
  }
}
