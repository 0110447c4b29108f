/**
 * Read batching, the reading half of group commit: reads by key that arrive in the same turn of
 * the event loop, within one group (a scale set), become one query for all their keys. A batch
 * of reimages reads its instances in one round trip instead of one each — on PostgreSQL, that
 * was most of a fleet rollout's round trips (docs/performance.md). A read still sees every write
 * that completed before it was asked for.
 */
type Pending<V> = { ids: Set<string>; result: Promise<ReadonlyMap<string, V>> }

export class ReadBatcher<V> {
  private pending = new Map<string, Pending<V>>()

  /** `fetch` reads the values of `ids` in `group`, returning them by id (absent ones left out). */
  constructor(
    private readonly fetch: (
      group: string,
      ids: readonly string[],
    ) => Promise<ReadonlyMap<string, V>>,
  ) {}

  get(group: string, id: string): Promise<V | undefined> {
    return this.batch(group, [id]).then((found) => found.get(id))
  }

  getMany(group: string, ids: readonly string[]): Promise<V[]> {
    return this.batch(group, ids).then((found) => ids.flatMap((id) => found.get(id) ?? []))
  }

  private batch(group: string, ids: readonly string[]): Promise<ReadonlyMap<string, V>> {
    let p = this.pending.get(group)
    if (!p) {
      const wanted = new Set<string>()
      const result = new Promise<ReadonlyMap<string, V>>((resolve, reject) =>
        setImmediate(() => {
          this.pending.delete(group)
          this.fetch(group, [...wanted]).then(resolve, reject)
        }),
      )
      p = { ids: wanted, result }
      this.pending.set(group, p)
    }
    for (const id of ids) p.ids.add(id)
    return p.result
  }
}
