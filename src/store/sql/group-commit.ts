/**
 * Group commit: writes that arrive in the same turn of the event loop go to the database in one
 * transaction (one fsync on SQLite, one round trip on PostgreSQL) instead of one each. Each
 * caller's promise settles when its write is committed — or fails with the group — so a caller
 * still sees its own write durable before it goes on (persist-before-act holds). Writes made
 * under different fences (lease-store.ts) are committed separately, each under its own fence.
 */
import { fenceScope } from '../lease-store.js'
import type { Fence } from '../lease-store.js'

type Job<R> = { row: R; resolve: () => void; reject: (err: unknown) => void }
type Group<R> = { fence: Fence | undefined; jobs: Job<R>[] }

export class GroupCommit<R> {
  private groups = new Map<string, Group<R>>()
  private scheduled = false

  /**
   * `commit` writes the rows of one group in one transaction, under `fence` if given. It may
   * refuse single rows without failing the group (a revision conflict, say): it then returns,
   * per row, the error of a refused one (or null), and only those callers see an error.
   */
  constructor(
    private readonly commit: (rows: readonly R[]) => Promise<void | readonly (Error | null)[]>,
  ) {}

  add(row: R): Promise<void> {
    const fence = fenceScope.getStore()
    const key = fence ? `${fence.key}\0${fence.holder}\0${fence.epoch}` : ''
    let group = this.groups.get(key)
    if (!group) this.groups.set(key, (group = { fence, jobs: [] }))
    const jobs = group.jobs
    const done = new Promise<void>((resolve, reject) => jobs.push({ row, resolve, reject }))
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
    return done
  }

  private flush(): void {
    this.scheduled = false
    const groups = [...this.groups.values()]
    this.groups = new Map()
    for (const { fence, jobs } of groups) {
      const rows = jobs.map((j) => j.row)
      const run = () => this.commit(rows)
      const committed = fence ? fenceScope.run(fence, run) : fenceScope.exit(run)
      committed.then(
        (refused) =>
          jobs.forEach((j, i) => {
            const err = refused ? refused[i] : null
            if (err) j.reject(err)
            else j.resolve()
          }),
        (err: unknown) => jobs.forEach((j) => j.reject(err)),
      )
    }
  }
}
