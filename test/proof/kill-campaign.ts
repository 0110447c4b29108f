/**
 * The kill campaign (issue 8): `osroll serve` on the local fabric (real instance processes) is
 * SIGKILLed at a random point of each of K rollouts and started again on the same data dir.
 * Each time: the instances keep serving while it is down, the rollout resumes and completes,
 * and the stored outcome is exact — one history entry per version, every instance upgraded
 * exactly once per rollout (no lost and no duplicated upgrade), every instance on the version,
 * and each instance runs as exactly one process, the one its record names (issue 16: no orphan).
 * Whatever happens, the campaign stops every instance process of its data dir before it returns.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Sqlite from 'better-sqlite3'
import {
  instanceProcesses,
  startServe,
  stopInstanceProcesses,
} from '../../test-support/serve-process.js'
import type { ServeProcess } from '../../test-support/serve-process.js'
import { sampleImage } from '../../test-support/sample-images.js'
import { waitFor } from '../../test-support/api-harness.js'
import {
  armPaths,
  autoUpgradeSetBody,
  createResourceGroup,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'
import { Rng } from '../../test-support/rng.js'

export type KillResult = Readonly<{ kills: number; violations: readonly string[] }>

const CAPACITY = 5

export async function runKillCampaign(o: {
  kills: number
  seed: number
  log?: (line: string) => void
  /** The instances' addresses (a /16 of 127/8 no other osroll on the machine uses). */
  addressRange?: string
}): Promise<KillResult> {
  const log = o.log ?? (() => undefined)
  const rng = new Rng(o.seed)
  const dir = mkdtempSync(join(tmpdir(), 'osroll-kill-'))
  const work = join(dir, 'images')
  const args = [
    '--fabric',
    'local',
    '--health-deadline',
    'PT30S',
    '--address-range',
    o.addressRange ?? '127.82.0.0/16',
  ]
  const violations: string[] = []
  let server: ServeProcess = await startServe(join(dir, 'data'), args)
  let kills = 0
  try {
    const sub = server.subscriptionId
    const p = armPaths(sub)
    await createResourceGroup(server.call, sub)
    const publish = (version: string) =>
      server.call('PUT', p.image(version), imageBody(sampleImage(work, { version })))
    await publish('1.0.0')
    await server.call(
      'PUT',
      p.lb,
      loadBalancerBody({
        name: 'http',
        protocol: 'Http',
        port: 8080,
        requestPath: '/health',
        intervalInSeconds: 5,
      }),
    )
    await server.call(
      'PUT',
      p.set(),
      autoUpgradeSetBody({ sub, capacity: CAPACITY, probe: 'http', dataDisk: true }),
    )
    await waitFor(
      async () => {
        const vms =
          (await server.call('GET', `${p.set()}/virtualMachines?$expand=instanceView`)).body
            .value ?? []
        return (
          vms.length === CAPACITY &&
          vms.every(
            (v: any) => v.properties.instanceView?.vmHealth?.status?.code === 'HealthState/healthy',
          )
        )
      },
      'the first instances healthy',
      60_000,
    ).catch(async (err: unknown) => {
      const vms = (await server.call('GET', `${p.set()}/virtualMachines?$expand=instanceView`)).body
        .value as any[] | undefined
      const why = (vms ?? []).map((v) => JSON.stringify(v.properties.instanceView?.statuses))
      throw new Error(`${(err as Error).message}; instances: ${why.join('; ')}`)
    })
    const nics = (await server.call('GET', `${p.set()}/networkInterfaces`)).body.value as any[]
    const instances = nics.map((n) => ({
      id: /\/virtualMachines\/([^/]+)\//.exec(n.id as string)?.[1] as string,
      ip: n.properties.ipConfigurations[0].properties.privateIPAddress as string,
    }))

    for (let k = 1; k <= o.kills; k++) {
      const version = `1.${k}.0`
      if ((await publish(version)).status !== 201) violations.push(`${version}: publish refused`)
      // Somewhere in the rollout: before it starts, mid-batch, between batches, at its end.
      await new Promise((r) => setTimeout(r, rng.int(0, 2500)))
      await server.stop('SIGKILL')
      kills++
      // Every instance not being upgraded at that moment keeps serving while osroll is down.
      const upgrading = inFlight(join(dir, 'data'))
      const answers = await Promise.all(instances.map((i) => ask(i.ip)))
      const silent = instances.filter((i, n) => answers[n] === null && !upgrading.has(i.id))
      if (silent.length > 0)
        violations.push(
          `kill ${k}: instances ${silent.map((i) => i.id).join(', ')} (not being upgraded) did not answer while osroll was down`,
        )
      if (upgrading.size > 1)
        violations.push(`kill ${k}: ${upgrading.size} instances in flight, more than a batch (1)`)
      server = await startServe(join(dir, 'data'), args)
      const done = await waitFor(
        async () => {
          const h = await server.call('GET', `${p.set()}/osUpgradeHistory`)
          const top = h.body.value?.[0]?.properties
          return (
            top?.targetImageReference?.version === version &&
            top.runningStatus.code !== 'RollingForward' &&
            h.body.value
          )
        },
        `rollout to ${version} ended`,
        90_000,
      ).catch(() => null)
      if (!done) {
        violations.push(
          `kill ${k}: the rollout to ${version} did not end within 90 s of the restart`,
        )
        continue
      }
      violations.push(...checkOutcome(join(dir, 'data'), k, version))
      violations.push(...checkProcesses(join(dir, 'data'), k))
      const vms = (await server.call('GET', `${p.set()}/virtualMachines`)).body.value as any[]
      const off = vms.filter(
        (v) => v.properties.storageProfile.imageReference.exactVersion !== version,
      )
      if (vms.length !== CAPACITY || off.length > 0)
        violations.push(`kill ${k}: ${off.length} of ${vms.length} instances not on ${version}`)
      log(`kill ${k}/${o.kills}: ${version} completed after the restart`)
    }
    await server.call('DELETE', p.set())
    await waitFor(
      async () => (await server.call('GET', p.set())).status === 404,
      'set deleted',
      60_000,
    ).catch(() => undefined)
    const left = instanceProcesses(dir)
    if (left.length > 0)
      violations.push(
        `after the set was deleted, ${left.length} instance process(es) still ran: pids ${left.map((l) => l.pid).join(', ')}`,
      )
  } finally {
    await server.stop('SIGTERM')
    await stopInstanceProcesses(dir)
    rmSync(dir, { recursive: true, force: true })
  }
  return { kills, violations }
}

/** One history entry per version so far, all Completed; this rollout upgraded each instance once. */
function checkOutcome(dataDir: string, k: number, version: string): string[] {
  const db = new Sqlite(join(dataDir, 'osroll.db'), { readonly: true })
  try {
    const rows = db
      .prepare('select status, document from rollouts order by started_at_ms')
      .all() as {
      status: string
      document: string
    }[]
    const out: string[] = []
    if (rows.length !== k) out.push(`kill ${k}: ${rows.length} rollouts stored, expected ${k}`)
    // Only this kill's rollout: an earlier one that did not complete was reported at its kill.
    const mine = rows.filter((r) => {
      const d = JSON.parse(r.document) as { target: { imageVersion: string } }
      return d.target.imageVersion === version
    })
    const notDone = mine.filter((r) => r.status !== 'Completed')
    if (notDone.length > 0)
      out.push(
        `kill ${k}: ${notDone.length} rollout(s) ended ${notDone.map((r) => r.status).join(', ')}`,
      )
    const last = rows[rows.length - 1]
    if (last) {
      const r = JSON.parse(last.document) as {
        target: { imageVersion: string }
        attempts: { instanceId: string; state: string }[]
      }
      if (r.target.imageVersion !== version)
        out.push(`kill ${k}: last rollout targets ${r.target.imageVersion}`)
      const per = new Map<string, number>()
      for (const a of r.attempts) per.set(a.instanceId, (per.get(a.instanceId) ?? 0) + 1)
      const dup = [...per].filter(([, n]) => n > 1).map(([id]) => id)
      if (dup.length > 0) out.push(`kill ${k}: instances ${dup.join(', ')} upgraded more than once`)
      const ok = r.attempts.filter((a) => a.state === 'Succeeded').length
      if (ok !== CAPACITY) out.push(`kill ${k}: ${ok} of ${CAPACITY} instances upgraded`)
    }
    return out
  } finally {
    db.close()
  }
}

/**
 * Every instance process of the data dir is the spawn its instance's record names, and every
 * record's spawn runs: one process tree per instance, no orphan beside it.
 */
function checkProcesses(dataDir: string, k: number): string[] {
  const db = new Sqlite(join(dataDir, 'osroll.db'), { readonly: true })
  let recorded: Map<string, string>
  try {
    const rows = db.prepare('select instance_id, instance from local_instances').all() as {
      instance_id: string
      instance: string
    }[]
    recorded = new Map(
      rows.map((r) => [
        (JSON.parse(r.instance) as { process: { spawnId?: string } | null }).process?.spawnId ?? '',
        r.instance_id,
      ]),
    )
  } finally {
    db.close()
  }
  const running = instanceProcesses(dataDir)
  const out: string[] = []
  const orphans = running.filter((p) => !recorded.has(p.spawnId))
  if (orphans.length > 0)
    out.push(
      `kill ${k}: ${orphans.length} instance process(es) no record names: pids ${orphans.map((o) => o.pid).join(', ')}`,
    )
  const spawns = new Set(running.map((p) => p.spawnId))
  const dead = [...recorded].filter(([spawn]) => !spawns.has(spawn)).map(([, id]) => id)
  if (dead.length > 0) out.push(`kill ${k}: instances ${dead.join(', ')} have no process running`)
  return out
}

/** Instances whose attempt in the running rollout had not ended when osroll was killed. */
function inFlight(dataDir: string): Set<string> {
  const db = new Sqlite(join(dataDir, 'osroll.db'), { readonly: true })
  try {
    const row = db
      .prepare("select document from rollouts where status = 'RollingForward'")
      .get() as { document: string } | undefined
    if (!row) return new Set()
    const r = JSON.parse(row.document) as { attempts: { instanceId: string; state: string }[] }
    const ended = new Set(['Succeeded', 'Failed', 'RolledBack', 'RollbackFailed', 'Removed'])
    return new Set(r.attempts.filter((a) => !ended.has(a.state)).map((a) => a.instanceId))
  } finally {
    db.close()
  }
}

async function ask(ip: string): Promise<string | null> {
  try {
    const res = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(2000) })
    return await res.text()
  } catch {
    return null
  }
}
