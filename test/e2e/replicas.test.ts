/**
 * Several replicas on one PostgreSQL database (issue 5, SPEC §11.2): two `osroll serve`
 * processes share a schema. The replica driving a rollout is SIGKILLed mid-batch, and the other
 * takes the lease over and completes the rollout; a lease holder that is paused (SIGSTOP) past
 * its lease is fenced off when it wakes up (SIGCONT). In both, the stored outcome is exact: one
 * history entry, every instance given exactly one new OS disk, never more than a batch (2 of 10)
 * in flight at once. Skipped outside CI without OSROLL_TEST_DATABASE_URL.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes, randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { startServe } from '../../test-support/serve-process.js'
import type { ServeProcess } from '../../test-support/serve-process.js'
import { waitFor } from '../../test-support/api-harness.js'
import {
  armPaths,
  autoUpgradeSetBody,
  createResourceGroup,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'

const url = process.env['OSROLL_TEST_DATABASE_URL']
const TTL_S = 3

type Fleet = {
  schema: string
  dirs: string[]
  replicas: Map<string, ServeProcess>
  admin: pg.Client
}
let fleet: Fleet | null = null

afterEach(async (ctx) => {
  if (!fleet) return
  // A failure here is rare and timing-dependent: keep what each replica said for the report.
  if (ctx.task.result?.state === 'fail')
    for (const [id, r] of fleet.replicas)
      console.error(`--- replica ${id} (last 4,000 characters) ---\n${r.output().slice(-4000)}`)
  for (const r of fleet.replicas.values()) {
    if (r.child.signalCode === null && r.child.exitCode === null) r.child.kill('SIGCONT')
    await r.stop('SIGKILL')
  }
  await fleet.admin.query(`drop schema if exists ${fleet.schema} cascade`)
  await fleet.admin.end()
  for (const d of fleet.dirs) rmSync(d, { recursive: true, force: true })
  fleet = null
})

async function startFleet(): Promise<Fleet> {
  const schema = `osroll_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const f: Fleet = { schema, dirs: [], replicas: new Map(), admin }
  fleet = f
  // Replicas share one secrets key (docs/operations.md, Secrets at rest).
  const keyDir = mkdtempSync(join(tmpdir(), 'osroll-replica-key-'))
  f.dirs.push(keyDir)
  const keyFile = join(keyDir, 'secrets.key')
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 })
  // One after the other: the first creates the schema and the default subscription.
  for (const id of ['a', 'b']) {
    const dir = mkdtempSync(join(tmpdir(), `osroll-replica-${id}-`))
    f.dirs.push(dir)
    const r = await startServe(dir, [
      '--store',
      'postgres',
      '--database-url',
      url as string,
      '--database-schema',
      schema,
      '--replica-id',
      id,
      '--lease-ttl',
      `PT${TTL_S}S`,
      '--secrets-key-file',
      keyFile,
    ])
    f.replicas.set(id, r)
  }
  return f
}

/** Creates a 10-instance set through one replica and publishes 1.1.0 through the other. */
async function rolloutUnderWay(f: Fleet): Promise<{ set: string; driver: string }> {
  const a = f.replicas.get('a') as ServeProcess
  const b = f.replicas.get('b') as ServeProcess
  const sub = a.subscriptionId
  expect(b.subscriptionId).toBe(sub)
  const p = armPaths(sub)
  await createResourceGroup(a.call, sub)
  const set = p.set()
  expect((await a.call('PUT', p.image('1.0.0'), imageBody('sim:?boot=0'))).status).toBe(201)
  await a.call('PUT', p.lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }))
  // Created through a; its long-running operation is polled through b until it succeeds.
  const created = await fetch(`${a.url}${set}?api-version=2024-07-01`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(autoUpgradeSetBody({ sub, capacity: 10, probe: 'tcp' })),
  })
  expect(created.status).toBe(201)
  const operation = new URL(created.headers.get('azure-asyncoperation') as string)
  await waitFor(
    async () => {
      const r = await fetch(`${b.url}${operation.pathname}${operation.search}`, {
        headers: { authorization: `Bearer ${b.token}` },
      })
      return r.status === 200 && ((await r.json()) as { status: string }).status === 'Succeeded'
    },
    'the create operation, polled on the other replica, succeeded',
    30_000,
  )
  expect((await b.call('GET', set)).body.properties?.provisioningState).toBe('Succeeded')
  // Published through b: whichever replica drives the set is woken (NOTIFY). Five batches of
  // two, each booting for 2 s.
  expect((await b.call('PUT', p.image('1.1.0'), imageBody('sim:?boot=2'))).status).toBe(201)
  await waitFor(
    async () => {
      const latest = await a.call('GET', `${set}/rollingUpgrades/latest`)
      const progress = latest.body.properties?.progress
      return (
        latest.status === 200 &&
        progress.successfulInstanceCount >= 2 &&
        progress.inProgressInstanceCount > 0
      )
    },
    'rollout under way, mid-batch',
    30_000,
  )
  const [lease] = (await f.admin.query(`select holder, epoch from ${f.schema}.leases`)).rows as {
    holder: string
    epoch: string
  }[]
  expect(lease).toBeDefined()
  return { set, driver: (lease as { holder: string }).holder }
}

/** The stored outcome, read from the database itself. */
async function expectExactOutcome(f: Fleet): Promise<void> {
  const rollouts = (await f.admin.query(`select id, status from ${f.schema}.rollouts`)).rows
  expect(rollouts).toEqual([{ id: expect.any(String), status: 'Completed' }])
  const disks = (await f.admin.query(`select instance from ${f.schema}.sim_instances`)).rows
    .map((r: { instance: string }) => JSON.parse(r.instance))
    .map((i: { instanceId: string; disk: { version: string }; diskCount: number }) => [
      i.instanceId,
      i.disk.version,
      i.diskCount,
    ])
    .sort((x: (string | number)[], y: (string | number)[]) => Number(x[0]) - Number(y[0]))
  expect(disks).toEqual(Array.from({ length: 10 }, (_, i) => [String(i), '1.1.0', 2]))
  // Replays the instance events: never more than a batch (2) in flight.
  const events = (
    await f.admin.query(`select event from ${f.schema}.rollout_events order by seq`)
  ).rows.map(
    (r: { event: string }) =>
      JSON.parse(r.event) as { instanceId: string | null; from: string; to: string },
  )
  const inFlight = new Set<string>()
  let most = 0
  const started = new Map<string, number>()
  for (const e of events) {
    if (e.instanceId === null || e.from === e.to) continue // a timeline step, not a change
    if (['Reimaging', 'Updating', 'Surging', 'WaitingHealth', 'RollingBack'].includes(e.to)) {
      if (e.to === 'Reimaging') started.set(e.instanceId, (started.get(e.instanceId) ?? 0) + 1)
      inFlight.add(e.instanceId)
    } else inFlight.delete(e.instanceId)
    most = Math.max(most, inFlight.size)
  }
  expect(most).toBeLessThanOrEqual(2)
  expect([...started.values()]).toEqual(Array(10).fill(1))
}

async function completed(r: ServeProcess, set: string, ms: number): Promise<void> {
  const entries = await waitFor(
    async () => {
      const h = await r.call('GET', `${set}/osUpgradeHistory`)
      return h.body.value?.[0]?.properties.runningStatus.code === 'Completed' && h.body.value
    },
    'rollout completed by the surviving replica',
    ms,
  )
  expect(entries).toHaveLength(1)
  expect(entries[0].properties.progress).toMatchObject({
    successfulInstanceCount: 10,
    failedInstanceCount: 0,
  })
}

describe.skipIf(!url && process.env['CI'] !== 'true')('replicas on PostgreSQL', () => {
  it(
    'the other replica takes over a SIGKILLed driver and completes its rollout exactly once',
    { timeout: 120_000 },
    async () => {
      const f = await startFleet()
      const { set, driver } = await rolloutUnderWay(f)
      const killedAt = Date.now()
      await (f.replicas.get(driver) as ServeProcess).stop('SIGKILL')
      const survivor = f.replicas.get(driver === 'a' ? 'b' : 'a') as ServeProcess
      // The lease moves within the lease time plus a renewal round (well under 15 s).
      await waitFor(
        async () => {
          const { rows } = await f.admin.query(`select holder from ${f.schema}.leases`)
          return rows[0]?.holder !== driver
        },
        'lease taken over',
        15_000,
      )
      expect(Date.now() - killedAt).toBeLessThan(15_000)
      await completed(survivor, set, 60_000)
      await expectExactOutcome(f)
      const metrics = await (
        await fetch(`${survivor.url}/metrics`, {
          headers: { authorization: `Bearer ${survivor.token}` },
        })
      ).text()
      expect(metrics).toMatch(/osroll_lease_acquisitions_total\{kind="takeover"\} [1-9]/)
    },
  )

  it(
    'a paused lease holder cannot write after the takeover (fenced in the database)',
    { timeout: 120_000 },
    async () => {
      const f = await startFleet()
      const { set, driver } = await rolloutUnderWay(f)
      const paused = f.replicas.get(driver) as ServeProcess
      const other = f.replicas.get(driver === 'a' ? 'b' : 'a') as ServeProcess
      const before = (await f.admin.query(`select epoch from ${f.schema}.leases`)).rows[0].epoch
      paused.child.kill('SIGSTOP')
      await waitFor(
        async () => {
          const { rows } = await f.admin.query(`select holder, epoch from ${f.schema}.leases`)
          return rows[0]?.holder !== driver && Number(rows[0].epoch) > Number(before)
        },
        'lease taken over from the paused replica',
        20_000,
      )
      paused.child.kill('SIGCONT')
      await completed(other, set, 60_000)
      // The woken replica noticed it lost the lease (or had a write refused) and drives nothing.
      const log = await waitFor(
        async () =>
          /Lease lost|Write refused|Effect fenced off/.test(paused.output()) && paused.output(),
        'the woken replica saw its lease was lost',
        15_000,
      )
      expect(log).toMatch(/Lease lost|Write refused|Effect fenced off/)
      const { rows } = await f.admin.query(`select holder from ${f.schema}.leases`)
      expect(rows[0].holder).not.toBe(driver)
      await expectExactOutcome(f)
    },
  )
})
