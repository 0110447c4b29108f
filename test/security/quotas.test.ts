/**
 * Quotas (audit finding 12, issue 16): instances per subscription (a write over the quota is
 * refused with Azure's wording and changes nothing), concurrent `/events` streams per token
 * (a flood is not accepted), and one poller of the event log whatever the number of streams.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import {
  armPaths,
  autoUpgradeSetBody,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'
import { createToken } from '../../src/services/tokens.js'

type Harness = Awaited<ReturnType<typeof apiHarness>>

describe('instances per subscription', () => {
  let h: Harness
  beforeAll(async () => {
    h = await apiHarness({ config: { maxInstancesPerSubscription: '10' } })
    const p = armPaths(h.sub)
    await h.call('PUT', p.image('1.0.0'), { body: imageBody('sim:?boot=0') })
    await h.call('PUT', p.lb, {
      body: loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }),
    })
  })
  afterAll(() => h.close())

  const body = (capacity: number) => autoUpgradeSetBody({ sub: h.sub, capacity, probe: 'tcp' })

  it('refuses a PUT or PATCH over the quota with 409 OperationNotAllowed, changing nothing', async () => {
    const p = armPaths(h.sub)
    expect((await h.call('PUT', p.set('a'), { body: body(6) })).status).toBe(201)
    const before = await h.call('GET', p.set('a'))

    const create = await h.call('PUT', p.set('b'), { body: body(5) })
    expect(create.status).toBe(409)
    expect(create.body.error).toMatchObject({ code: 'OperationNotAllowed', target: 'sku.capacity' })
    expect(create.body.error.message).toMatch(
      /^Operation could not be completed as it results in exceeding approved Total Instances quota .*Current Limit: 10, Current Usage: 6, Additional Required: 5, \(Minimum\) New Limit Required: 11\./,
    )
    expect((await h.call('GET', p.set('b'))).status).toBe(404)
    expect(await h.sys.deps.store.getScaleSet(p.set('b').toLowerCase())).toBeUndefined()

    const grow = await h.call('PATCH', p.set('a'), { body: { sku: { capacity: 11 } } })
    expect(grow.status).toBe(409)
    expect(grow.body.error.code).toBe('OperationNotAllowed')
    const after = await h.call('GET', p.set('a'))
    expect(after.body.sku.capacity).toBe(6)
    expect(after.headers['etag']).toBe(before.headers['etag'])
    expect((await h.sys.deps.store.getScaleSet(p.set('a').toLowerCase()))?.spec.capacity).toBe(6)

    // Up to the quota exactly is fine; lowering one set makes room for another.
    expect((await h.call('PUT', p.set('b'), { body: body(4) })).status).toBe(201)
    expect((await h.call('PUT', p.set('c'), { body: body(1) })).status).toBe(409)
    expect((await h.call('PATCH', p.set('a'), { body: { sku: { capacity: 5 } } })).status).toBe(200)
    expect((await h.call('PUT', p.set('c'), { body: body(1) })).status).toBe(201)
    // A write that does not raise capacity is never refused, even at the quota.
    expect((await h.call('PATCH', p.set('c'), { body: { tags: { team: 'x' } } })).status).toBe(200)
  })
})

/** Opens an event stream on a real socket; resolves once its first frame (the snapshot) came. */
async function openStream(url: string, token: string) {
  const controller = new AbortController()
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  })
  let text = ''
  const closed = (async () => {
    if (!res.ok || !res.body) return
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        text += value
      }
    } catch {
      /* aborted */
    }
  })()
  return {
    res,
    text: () => text,
    close: async () => {
      controller.abort()
      await closed
    },
  }
}

describe('/events streams per token', () => {
  let h: Harness
  let base = ''
  beforeAll(async () => {
    h = await apiHarness()
    await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
  })
  afterAll(() => h.close())

  it(
    'accepts 16 streams of a token out of 1,000 opened at once, answering the rest 429',
    {
      timeout: 60_000,
    },
    async () => {
      const token = await createToken(h.sys.deps.store, {
        role: 'Reader',
        subscriptions: [],
        label: 'flood',
        nowMs: 0,
      })
      const streams = await Promise.all(
        Array.from({ length: 1_000 }, () => openStream(`${base}/events`, token)),
      )
      try {
        const ok = streams.filter((s) => s.res.status === 200)
        const refused = streams.filter((s) => s.res.status === 429)
        expect(ok).toHaveLength(16)
        expect(refused).toHaveLength(984)
        const err = (await refused[0]!.res.json()) as { error: { code: string; message: string } }
        expect(err.error.code).toBe('TooManyRequests')
        expect(err.error.message).toMatch(/--max-event-streams-per-token 16/)
        // Another token is not held back by this one.
        const other = await openStream(`${base}/events`, h.sys.adminToken)
        expect(other.res.status).toBe(200)
        await other.close()
        // Closing a stream frees its slot.
        await ok[0]!.close()
        await waitFor(async () => {
          const again = await openStream(`${base}/events`, token)
          await again.close()
          return again.res.status === 200
        }, 'a freed slot')
      } finally {
        await Promise.all(streams.map((s) => s.close()))
      }
    },
  )
})

describe('/events fan-out', () => {
  let h: Harness
  let base = ''
  beforeAll(async () => {
    h = await apiHarness({ config: { maxEventStreamsPerToken: '0' } })
    await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
  })
  afterAll(() => h.close())

  it(
    'feeds 300 streams from one poller: the log is read as often as with one stream',
    {
      timeout: 60_000,
    },
    async () => {
      const store = h.sys.deps.store
      let reads = 0
      const original = store.listEventsAfter.bind(store)
      store.listEventsAfter = (after, limit) => {
        reads++
        return original(after, limit)
      }
      const streams = await Promise.all(
        Array.from({ length: 300 }, () => openStream(`${base}/events`, h.sys.adminToken)),
      )
      try {
        expect(streams.every((s) => s.res.status === 200)).toBe(true)
        await waitFor(async () => streams.every((s) => s.text().includes('event: snapshot')), 'all')
        const before = reads
        // A rollout plan's events (no rollout of their own: the store keeps them, where it drops a
        // rollout's event once the rollout is gone).
        const key = `/subscriptions/${h.sub}/providers/osroll.upgrades/rolloutplans/probe`
        for (let i = 0; i < 3; i++) {
          await store.appendEvents([
            {
              atMs: i,
              rolloutId: `fan-out-${i}`,
              scaleSetKey: key,
              instanceId: null,
              from: 'RollingForward',
              to: 'Completed',
              reason: 'test',
            },
          ])
          await waitFor(
            async () => streams.every((s) => s.text().includes(`"rolloutId":"fan-out-${i}"`)),
            `event ${i} on every stream`,
          )
        }
        // Each poll is one read whatever the number of streams; polling per stream would be
        // at least 300 reads for each event.
        expect(reads - before).toBeLessThan(60)
        expect(reads - before).toBeGreaterThan(0)
      } finally {
        await Promise.all(streams.map((s) => s.close()))
        store.listEventsAfter = original
      }
    },
  )
})
