/**
 * No orphan instance, ever (issue 16). Every process the local fabric starts carries its marker
 * (`processes.ts`: the instances dir and a spawn id). A boot process is recorded in two steps —
 * its intent before the spawn, its pid and start time after — so a crash in between leaves a
 * process that no record names; custom data and extension commands are children of the control
 * plane that waits for them, never adopted, so any that outlive it are orphans too. At start,
 * before it hands out an address or starts anything, the fabric stops every marked process of its
 * own dir whose spawn is not the recorded, live process of an instance: checked by pid and start
 * time, never by name. A recorded process that is a wrapper (a sandbox) names its whole spawn:
 * the instance inside carries the same spawn id.
 */
import type { LocalStateStore } from '../types/local-state.js'
import { findMarked, isAlive, stopProcess, type MarkedProcess } from '../host/processes.js'

export async function stopOrphans(o: {
  rootDir: string
  state: LocalStateStore
  graceMs: number
}): Promise<readonly MarkedProcess[]> {
  const named = new Set<string>()
  for (const i of await o.state.listAll())
    if (i.process?.spawnId !== undefined && isAlive(i.process)) named.add(i.process.spawnId)
  const orphans = findMarked((root) => root === o.rootDir).filter((p) => !named.has(p.spawnId))
  // Leaders first (a group's SIGTERM reaches its members), then any member left.
  await Promise.all(orphans.filter((p) => p.pgid === p.pid).map((p) => stopProcess(p, o.graceMs)))
  await Promise.all(orphans.map((p) => stopProcess(p, o.graceMs)))
  return orphans
}
