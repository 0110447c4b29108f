/**
 * What `osroll demo` (demo.ts) watches through the API: the fleet's health and versions, each
 * instance's own answer on its private address, and a rollout followed to its end.
 */
import type { OsrollClient } from '../client/client.js'

type Fleet = { healthy: number; versions: Record<string, number>; summary: string }

/** How many instances are healthy, and how many run each version. */
export async function fleet(c: OsrollClient, setPath: string): Promise<Fleet> {
  const vms = (await c.list(`${setPath}/virtualMachines?$expand=instanceView`)) as {
    properties: {
      instanceView?: { vmHealth?: { status?: { code?: string } }; osImageVersion?: string }
      storageProfile?: { imageReference?: { exactVersion?: string } }
    }
  }[]
  const versions: Record<string, number> = {}
  let healthy = 0
  for (const v of vms) {
    const version = v.properties.storageProfile?.imageReference?.exactVersion ?? '?'
    versions[version] = (versions[version] ?? 0) + 1
    if (v.properties.instanceView?.vmHealth?.status?.code === 'HealthState/healthy') healthy++
  }
  const summary = `${vms.length} instances, ${healthy} healthy, ${Object.entries(versions)
    .map(([v, n]) => `${n}× ${v}`)
    .join(', ')}`
  return { healthy, versions, summary }
}

/** Asks every instance who it is, on its own private address. */
export async function askEveryInstance(c: OsrollClient, setPath: string): Promise<string[]> {
  const nics = (await c.list(`${setPath}/networkInterfaces`)) as {
    properties: { ipConfigurations: { properties: { privateIPAddress: string } }[] }
  }[]
  const ips = nics.map((n) => n.properties.ipConfigurations[0]?.properties.privateIPAddress)
  return Promise.all(
    ips.map(async (ip) => {
      try {
        const res = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(3000) })
        return (await res.text()).trim()
      } catch (err) {
        return `${ip}: no answer (${(err as Error).message})`
      }
    }),
  )
}

type Followed = { status: string; maxInFlight: number; rolledBack: number }

/** Waits for a rollout other than `before` to start and end, printing its progress. */
export async function follow(
  c: OsrollClient,
  setPath: string,
  before: string | null,
  say: (line: string) => void,
  timeoutMs: number,
): Promise<Followed> {
  const end = Date.now() + timeoutMs
  let last = ''
  let maxInFlight = 0
  let id: string | null = null
  while (Date.now() < end) {
    const r = await c.request('GET', `${setPath}/rollingUpgrades/latest`).catch(() => null)
    const p = (
      r?.body as
        | {
            properties: {
              runningStatus: { code: string; startTime: string }
              progress: Record<string, number>
              error?: { message?: string }
            }
          }
        | undefined
    )?.properties
    const thisId = p?.runningStatus.startTime ?? null
    if (p && thisId !== before) {
      id = thisId
      const g = p.progress
      const running = g['inProgressInstanceCount'] ?? 0
      maxInFlight = Math.max(maxInFlight, running)
      const line = `   ${p.runningStatus.code.padEnd(14)} ${g['successfulInstanceCount'] ?? 0} upgraded, ${running} upgrading, ${g['failedInstanceCount'] ?? 0} failed, ${g['pendingInstanceCount'] ?? 0} pending`
      if (line !== last) say(line)
      last = line
      if (p.runningStatus.code !== 'RollingForward') {
        if (p.error?.message) say(`   error: ${p.error.message}`)
        const history = (await c.get(`${setPath}/osUpgradeHistory`)).body as {
          value: {
            properties: { rollbackInfo?: { successfullyRolledbackInstanceCount?: number } }
          }[]
        }
        return {
          status: p.runningStatus.code,
          maxInFlight,
          rolledBack:
            history.value[0]?.properties.rollbackInfo?.successfullyRolledbackInstanceCount ?? 0,
        }
      }
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  return {
    status: id ? 'still running at the timeout' : 'never started',
    maxInFlight,
    rolledBack: 0,
  }
}

/** The latest rollout's start time (its id here), or null before the first. */
export async function latestId(c: OsrollClient, setPath: string): Promise<string | null> {
  const r = await c.request('GET', `${setPath}/rollingUpgrades/latest`).catch(() => null)
  const body = r?.body as { properties: { runningStatus: { startTime: string } } } | undefined
  return body?.properties.runningStatus.startTime ?? null
}

/** Reads `get` every 250 ms until `ok` holds or `ms` ran out; the last value read. */
export async function until<T>(
  get: () => Promise<T>,
  ok: (v: T) => boolean,
  ms: number,
): Promise<T> {
  const end = Date.now() + ms
  let v = await get()
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 250))
    v = await get()
  }
  return v
}
