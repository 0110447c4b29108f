/**
 * `GET /events` (issue 5): server-sent events of rollout and instance changes, on a real socket:
 * the stream shows a rollout as it happens, resumes after Last-Event-ID, filters by scale set and
 * shows nothing of subscriptions the token may not use.
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
  data: { scaleSetKey: string; instanceId: string | null; to: string }
}

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
  try {
    while (!until(out) && Date.now() < deadline) {
      const chunk = await Promise.race([
        reader.read(),
        new Promise<null>((r) => setTimeout(() => r(null), 500)),
      ])
      if (chunk === null) continue
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
      const events = await streaming
      expect(
        events
          .filter((e) => e.event === 'instance' && e.data.to === 'Succeeded')
          .map((e) => e.data.instanceId)
          .sort(),
      ).toEqual(['0', '1', '2'])
      expect(events.at(-1)).toMatchObject({
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
      expect(resumed.map((e) => e.id)).toEqual(
        events.filter((e) => e.id > middle.id).map((e) => e.id),
      )

      expect(
        await read(
          '/events?scaleSet=/subscriptions/x/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/none',
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
        await read('/events', { authorization: `Bearer ${elsewhere}` }, () => false, 1500),
      ).toEqual([])
      expect((await fetch(`${base}/events`)).status).toBe(401)
      expect(
        (await fetch(`${base}/events`, { headers: { ...auth, 'last-event-id': 'yesterday' } }))
          .status,
      ).toBe(400)
    },
  )
})
