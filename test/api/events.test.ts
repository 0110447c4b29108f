/**
 * `GET /events` (issues 5 and 16): server-sent events of rollout and instance changes, on a real
 * socket: the stream starts from now with a snapshot, shows a rollout as it happens, resumes after
 * Last-Event-ID or `?since=`, filters by scale set and shows nothing of subscriptions the token
 * may not use.
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

let h: Awaited<ReturnType<typeof apiHarness>>
let base = ''

beforeAll(async () => {
  h = await apiHarness()
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  base = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
})
afterAll(() => h.close())

type Sse = {
  id: number
  event: string
  data: {
    scaleSetKey: string
    instanceId: string | null
    from?: string
    to: string
    position?: number
    rollout?: { rolloutId: string; status: string; instances: Record<string, string> } | null
  }
}

const changes = (all: Sse[]) => all.filter((e) => e.event !== 'snapshot')

/** Reads events until `until` holds or `ms` passes, then closes the stream. */
async function read(
  path: string,
  headers: Record<string, string>,
  until: (all: Sse[]) => boolean,
  ms = 15_000,
): Promise<Sse[]> {
  const controller = new AbortController()
  const res = await fetch(`${base}${path}`, { headers, signal: controller.signal })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toContain('text/event-stream')
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  const out: Sse[] = []
  let buffer = ''
  const deadline = Date.now() + ms
  // A read outlives a timeout that wins the race: it is awaited again, so no chunk is dropped.
  let pending: ReturnType<typeof reader.read> | null = null
  try {
    while (!until(out) && Date.now() < deadline) {
      pending ??= reader.read()
      const chunk = await Promise.race([
        pending,
        new Promise<null>((r) => setTimeout(() => r(null), 500)),
      ])
      if (chunk === null) continue
      pending = null
      if (chunk.done) break
      buffer += decoder.decode(chunk.value, { stream: true })
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const fields = Object.fromEntries(
          frame
            .split('\n')
            .filter((l) => !l.startsWith(':'))
            .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
        )
        if (fields['id'])
          out.push({
            id: Number(fields['id']),
            event: fields['event'] as string,
            data: JSON.parse(fields['data'] as string),
          })
      }
    }
  } finally {
    controller.abort()
  }
  return out
}

describe('GET /events', () => {
  it(
    'streams a rollout as it happens, resumes after Last-Event-ID, and filters',
    { timeout: 40_000 },
    async () => {
      const p = armPaths(h.sub)
      await h.call('PUT', p.image('1.0.0'), { body: imageBody('sim:?boot=0') })
      await h.call('PUT', p.lb, {
        body: loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }),
      })
      await h.call('PUT', p.set(), {
        body: autoUpgradeSetBody({ sub: h.sub, capacity: 3, probe: 'tcp' }),
      })
      await waitFor(
        async () =>
          (await h.call('GET', p.set())).body.properties?.provisioningState === 'Succeeded',
        'set',
      )
      const auth = { authorization: `Bearer ${h.sys.adminToken}` }
      const streaming = read(`/events?scaleSet=${encodeURIComponent(p.set())}`, auth, (all) =>
        all.some((e) => e.event === 'rollout' && e.data.to === 'Completed'),
      )
      await new Promise((r) => setTimeout(r, 300))
      await h.call('PUT', p.image('1.1.0'), { body: imageBody('sim:?boot=0') })
      const all = await streaming
      // From now: a snapshot first, then only what happened after it.
      expect(all[0]).toMatchObject({ event: 'snapshot', data: { rollout: null } })
      const events = changes(all)
      expect(events.every((e) => e.id > all[0]!.id)).toBe(true)
      expect(
        events
          .filter(
            (e) =>
              e.event === 'instance' && e.data.to === 'Succeeded' && e.data.from !== 'Succeeded',
          )
          .map((e) => e.data.instanceId)
          .sort(),
      ).toEqual(['0', '1', '2'])
      // The last state change (the kept disks' release notes may follow it: from = to).
      expect(events.filter((e) => e.data.from !== e.data.to).at(-1)).toMatchObject({
        event: 'rollout',
        data: { to: 'Completed', scaleSetKey: p.set().toLowerCase() },
      })
      expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((a, b) => a - b))

      const middle = events[Math.floor(events.length / 2)] as Sse
      const resumed = await read(
        '/events',
        { ...auth, 'last-event-id': String(middle.id) },
        (all) => all.length >= events.length - events.indexOf(middle) - 1,
        3000,
      )
      // Everything after the position, in order: at least what the first stream saw after it
      // (the release notes of kept disks may have come since).
      const stored = (await h.sys.deps.store.listEventsAfter(middle.id, 1000)).map((e) => e.seq)
      expect(resumed.map((e) => e.id)).toEqual(stored.slice(0, resumed.length))
      expect(resumed.length).toBeGreaterThanOrEqual(events.filter((e) => e.id > middle.id).length)
      // ?since= does the same (no snapshot: the client has a position); Last-Event-ID wins.
      const since = await read(
        `/events?since=${middle.id}`,
        auth,
        (all) => all.length >= resumed.length,
        3000,
      )
      expect(since.map((e) => e.id)).toEqual(resumed.map((e) => e.id))
      const both = await read(
        `/events?since=0`,
        { ...auth, 'last-event-id': String(middle.id) },
        (all) => all.length >= resumed.length,
        3000,
      )
      expect(both.map((e) => e.id)).toEqual(resumed.map((e) => e.id))

      // The filters, over the whole log (since=0).
      expect(
        await read(
          '/events?since=0&scaleSet=/subscriptions/x/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/none',
          auth,
          () => false,
          1500,
        ),
      ).toEqual([])
      const elsewhere = await createToken(h.sys.deps.store, {
        role: 'Reader',
        subscriptions: ['another-subscription'],
        label: 't',
        nowMs: 0,
      })
      expect(
        await read('/events?since=0', { authorization: `Bearer ${elsewhere}` }, () => false, 1500),
      ).toEqual([])
      // Nor does its snapshot show the running rollout of a set it may not see.
      const [snap] = await read(
        `/events?scaleSet=${encodeURIComponent(p.set())}`,
        { authorization: `Bearer ${elsewhere}` },
        (all) => all.length > 0,
        1500,
      )
      expect(snap).toMatchObject({ event: 'snapshot', data: { rollout: null } })
      expect((await fetch(`${base}/events`)).status).toBe(401)
      for (const [path, headers, target] of [
        ['/events', { 'last-event-id': 'yesterday' }, 'Last-Event-ID'],
        ['/events?since=-1', {}, 'since'],
        ['/events?since=1e3', {}, 'since'],
      ] as const) {
        const res = await fetch(`${base}${path}`, { headers: { ...auth, ...headers } })
        expect(res.status).toBe(400)
        expect(await res.json()).toMatchObject({ error: { code: 'InvalidParameter', target } })
      }
    },
  )

  it(
    "a new stream of one set starts with its running rollout's instance states, then follows it",
    { timeout: 40_000 },
    async () => {
      const p = armPaths(h.sub)
      const auth = { authorization: `Bearer ${h.sys.adminToken}` }
      // Slow instances: the rollout is still running when the stream opens.
      await h.call('PUT', p.image('1.2.0'), { body: imageBody('sim:?boot=1') })
      const key = p.set().toLowerCase()
      const seen = await waitFor(async () => {
        const r = await h.sys.deps.store.getActiveRollout(key)
        if (!r) return undefined
        const events = await h.sys.deps.store.listEvents(r.id)
        return events.some((e) => e.instanceId !== null) ? { r, events } : undefined
      }, 'running rollout with instance events')
      // A step inside a state (from = to) noted late is not the instance's state: here one that
      // no instance of this rollout is ever in.
      const noted = seen.events.find((e) => e.instanceId !== null)!.instanceId as string
      await h.sys.deps.store.appendEvents([
        {
          atMs: Date.now(),
          rolloutId: seen.r.id,
          scaleSetKey: key,
          instanceId: noted,
          from: 'Surging',
          to: 'Surging',
          reason: 'LateNote',
        },
      ])
      const all = await read(
        `/events?scaleSet=${encodeURIComponent(p.set())}`,
        auth,
        (all) => changes(all).length >= 2,
      )
      const snap = all[0] as Sse
      expect(snap.event).toBe('snapshot')
      expect(snap.data.position).toBe(snap.id)
      expect(snap.data.rollout).toMatchObject({
        rolloutId: seen.r.id,
        status: 'RollingForward',
      })
      // Each instance's latest state as of the snapshot: at least what was seen before it.
      const instances = snap.data.rollout!.instances
      for (const e of seen.events)
        if (e.instanceId !== null) expect(instances).toHaveProperty(e.instanceId)
      const states = (await h.sys.deps.store.listEvents(seen.r.id))
        .filter((e) => e.instanceId === noted && e.from !== e.to)
        .map((e) => e.to)
      expect(states).toContain(instances[noted])
      const later = changes(all)
      expect(later.length).toBeGreaterThanOrEqual(2)
      expect(later.every((e) => e.id > snap.id && e.data.scaleSetKey === key)).toBe(true)
      // Nothing the snapshot already covers is sent again.
      const stored = await h.sys.deps.store.listEventsAfter(0, 10_000)
      expect(later.map((e) => e.id)).toEqual(
        stored
          .filter((e) => e.seq > snap.id && e.event.scaleSetKey === key)
          .slice(0, later.length)
          .map((e) => e.seq),
      )
    },
  )
})
