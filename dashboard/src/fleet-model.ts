/**
 * The fleet pictures' model, without a browser (issue 22 §3): the versions × scale sets matrix
 * (each set's share of instances per version, and the fleet's) and the version adoption over
 * time, rebuilt from the sets' rollout timelines (when each instance succeeded on its rollout's
 * target) back from what the instances run now.
 */
import { compareVersions } from './live.js'

export type SetVersions = { setId: string; name: string; versions: Record<string, number> }
export type Matrix = {
  versions: string[]
  rows: { setId: string; name: string; total: number; cells: { n: number; share: number }[] }[]
  fleet: { total: number; cells: { n: number; share: number }[] }
}

/** Rows per set, one column per version (oldest first), with the fleet's totals. */
export function versionMatrix(sets: SetVersions[]): Matrix {
  const versions = [...new Set(sets.flatMap((s) => Object.keys(s.versions)))].sort(compareVersions)
  const fleetN = versions.map(() => 0)
  const rows = sets.map((s) => {
    const total = Object.values(s.versions).reduce((a, b) => a + b, 0)
    const cells = versions.map((v, i) => {
      const n = s.versions[v] ?? 0
      fleetN[i] = (fleetN[i] ?? 0) + n
      return { n, share: total ? n / total : 0 }
    })
    return { setId: s.setId, name: s.name, total, cells }
  })
  const total = fleetN.reduce((a, b) => a + b, 0)
  return {
    versions,
    rows,
    fleet: { total, cells: fleetN.map((n) => ({ n, share: total ? n / total : 0 })) },
  }
}

/** One rollout of a set as the adoption needs it: its target and who succeeded when. */
export type RolloutMoves = {
  target: string
  startMs: number
  /** Instances counted upgraded, with when. */
  moves: { instanceId: string; atMs: number }[]
}

export type AdoptionPoint = { atMs: number; counts: Record<string, number> }

/**
 * One set's version counts over time: from `now` (what each instance runs) back through its
 * rollouts (newest first), undoing each success. An instance's version before its move is the
 * version most of the set's unmoved instances ran then, else the previous rollout's target,
 * else `earlier` (the history does not go further back).
 * @example now { 0: '1.1.0', 1: '1.1.0' }, one rollout to 1.1.0 moving 0 at t1 and 1 at t2, and
 *   an older one to 1.0.0 → points t0 {1.0.0: 2}, t1 {1.0.0: 1, 1.1.0: 1}, t2… {1.1.0: 2}
 */
export function setAdoption(
  now: Record<string, string>,
  rollouts: RolloutMoves[],
  nowMs: number,
): AdoptionPoint[] {
  const state = new Map(Object.entries(now))
  const count = (): Record<string, number> => {
    const c: Record<string, number> = {}
    for (const v of state.values()) c[v] = (c[v] ?? 0) + 1
    return c
  }
  const points: AdoptionPoint[] = [{ atMs: nowMs, counts: count() }]
  const ordered = [...rollouts].sort((a, b) => b.startMs - a.startMs)
  ordered.forEach((r, k) => {
    const moved = new Set(r.moves.map((m) => m.instanceId))
    const others = new Map<string, number>()
    for (const [id, v] of state)
      if (!moved.has(id) && v !== r.target) others.set(v, (others.get(v) ?? 0) + 1)
    let before = [...others.entries()].sort((a, b) => b[1] - a[1])[0]?.[0]
    before ??= ordered[k + 1]?.target ?? 'earlier'
    for (const m of [...r.moves].sort((a, b) => b.atMs - a.atMs)) {
      if (!state.has(m.instanceId)) continue // since removed: not in today's counts either
      points.push({ atMs: m.atMs, counts: count() })
      state.set(m.instanceId, before)
    }
    points.push({ atMs: r.startMs, counts: count() })
  })
  return points.sort((a, b) => a.atMs - b.atMs)
}

/**
 * The fleet's share per version over time: each set's step function summed at every instant
 * any of them changed. `series[v][i]` is the share (0..1) of version `v` at `times[i]`.
 */
export function fleetAdoption(perSet: AdoptionPoint[][]): {
  times: number[]
  versions: string[]
  series: Record<string, number[]>
} {
  const times = [...new Set(perSet.flatMap((ps) => ps.map((p) => p.atMs)))].sort((a, b) => a - b)
  const versions = [
    ...new Set(perSet.flatMap((ps) => ps.flatMap((p) => Object.keys(p.counts)))),
  ].sort((a, b) => (a === 'earlier' ? -1 : b === 'earlier' ? 1 : compareVersions(a, b)))
  const series: Record<string, number[]> = Object.fromEntries(versions.map((v) => [v, []]))
  const idx = perSet.map(() => 0)
  for (const t of times) {
    const sum: Record<string, number> = {}
    perSet.forEach((ps, s) => {
      while (
        (idx[s] as number) + 1 < ps.length &&
        (ps[(idx[s] as number) + 1] as AdoptionPoint).atMs <= t
      )
        idx[s] = (idx[s] as number) + 1
      const p = ps[idx[s] as number]
      // Before a set's first point it counts as it was then (its first point's counts).
      if (p) for (const [v, n] of Object.entries(p.counts)) sum[v] = (sum[v] ?? 0) + n
    })
    const total = Object.values(sum).reduce((a, b) => a + b, 0) || 1
    for (const v of versions) (series[v] as number[]).push((sum[v] ?? 0) / total)
  }
  return { times, versions, series }
}
