/**
 * Lifecycle hooks (issue 21 §3, docs/rollouts.md § Lifecycle hooks) end to end on the sim
 * fabric, against a real HTTP server of the test's on 127.0.0.1: a pre-reimage hook that defers
 * then continues, skips, and times out (the default continue applies); a post-healthy hook that
 * fails an instance (rolled back, the answer quoted) and one that answers 503 (the default).
 * Every answer is in the timeline, the metrics and /events. Bad input is a 400 and changes
 * nothing; a set PATCH keeps the hooks; the CLI sets, shows and deletes them.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../test-support/api-harness.js'
import { armPaths, imageBody } from '../../test-support/arm-fixtures.js'
import { servedSimFleet } from '../../test-support/served-fleet.js'
import type { ServedFleet } from '../../test-support/served-fleet.js'

let f: ServedFleet
let hookServer: Server
let hookBase = ''
/** What the hook server received, in order. */
const received: { path: string; body: Record<string, any> }[] = []
/** Per path and instance, the answers to give in turn (the last one repeats). */
type Reply = { status?: number; body?: unknown; hang?: boolean }
const script = new Map<string, Reply[]>()

const HOOKS = '/providers/Osroll.Upgrades/lifecycleHooks/default'
const ROLLOUTS = '/providers/Osroll.Upgrades/rollouts'

beforeAll(async () => {
  hookServer = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = ''
    req.on('data', (c) => (data += c))
    req.on('end', () => {
      const body = JSON.parse(data || '{}') as Record<string, any>
      received.push({ path: req.url ?? '', body })
      const list = script.get(`${req.url}:${body['instanceId']}`) ?? [
        { body: { answer: 'continue' } },
      ]
      const reply = (list.length > 1 ? list.shift() : list[0]) as Reply
      if (reply.hang) return // never answers: the hook's timeout decides
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' })
      res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body))
    })
  })
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve))
  hookBase = `http://127.0.0.1:${(hookServer.address() as { port: number }).port}`
  f = await servedSimFleet({ capacity: 4, healthDeadline: 'PT5S' })
}, 60_000)
afterAll(async () => {
  await f?.close()
  hookServer?.closeAllConnections()
  await new Promise((resolve) => hookServer?.close(resolve))
})

describe('lifecycle hooks resource', () => {
  it('answers 404 before any hook, refuses bad input with 400 and changes nothing', async () => {
    const set = armPaths(f.h.sub).set()
    const none = await f.h.call('GET', `${set}${HOOKS}`)
    expect([none.status, none.body.error.code]).toEqual([404, 'ResourceNotFound'])
    const good = {
      preReimage: { url: `${hookBase}/pre`, timeout: 'PT1S', defaultAction: 'continue' },
    }
    const put = await f.call('PUT', `${set}${HOOKS}`, { properties: good })
    expect(put.status, JSON.stringify(put.body)).toBe(201)
    expect(put.body).toEqual({
      id: `${set}${HOOKS}`,
      name: 'default',
      type: 'Osroll.Upgrades/lifecycleHooks',
      properties: {
        preReimage: {
          url: `${hookBase}/pre`,
          timeout: 'PT1S',
          defaultAction: 'continue',
          maxDeferrals: 10,
          maxDeferTime: 'PT1H',
        },
      },
    })
    const before = (await f.h.call('GET', `${set}${HOOKS}`)).body
    const bad: [unknown, string, RegExp][] = [
      [
        { preReimage: { ...good.preReimage, url: 'ftp://x/hook' } },
        'properties.preReimage.url',
        /http/,
      ],
      [
        { preReimage: { ...good.preReimage, url: 'not a url' } },
        'properties.preReimage.url',
        /URL/,
      ],
      [
        { preReimage: { ...good.preReimage, timeout: 'PT5M' } },
        'properties.preReimage.timeout',
        /PT1S to PT1M/,
      ],
      [
        { preReimage: { ...good.preReimage, timeout: 'soon' } },
        'properties.preReimage.timeout',
        /ISO 8601/,
      ],
      [
        { preReimage: { ...good.preReimage, defaultAction: 'abandon' } },
        'properties.preReimage.defaultAction',
        /continue, skip/,
      ],
      [
        { preReimage: { ...good.preReimage, defaultAction: 'defer' } },
        'properties.preReimage.defaultAction',
        /continue, skip/,
      ],
      [
        { postHealthy: { ...good.preReimage, defaultAction: 'skip' } },
        'properties.postHealthy.defaultAction',
        /continue, fail/,
      ],
      [
        { postHealthy: { ...good.preReimage, maxDeferrals: 3 } },
        'properties.postHealthy.maxDeferrals',
        /Unknown member/,
      ],
      [
        { preReimage: { ...good.preReimage, maxDeferrals: 101 } },
        'properties.preReimage.maxDeferrals',
        /0 to 100/,
      ],
      [
        { preReimage: { ...good.preReimage, maxDeferTime: 'P2D' } },
        'properties.preReimage.maxDeferTime',
        /PT1S to P1D|PT24H/,
      ],
      [{ onTerminate: good.preReimage }, 'properties.onTerminate', /Unknown lifecycle hook/],
      [{ preReimage: 'http://x' }, 'properties.preReimage', /must be an object/],
    ]
    for (const [properties, target, message] of bad)
      for (const method of ['PUT', 'PATCH']) {
        const res = await f.call(method, `${set}${HOOKS}`, { properties })
        expect([res.status, res.body.error?.code], JSON.stringify(res.body)).toEqual([
          400,
          'InvalidParameter',
        ])
        expect(res.body.error.target).toBe(target)
        expect(res.body.error.message).toMatch(message)
      }
    const bodyless = await f.call('PUT', `${set}${HOOKS}`, { properties: [] })
    expect(bodyless.status).toBe(400)
    const noVersion = await f.h.call('GET', `${set}${HOOKS}`, { apiVersion: null })
    expect(noVersion.status).toBe(400)
    expect((await f.h.call('GET', `${set}${HOOKS}`)).body).toEqual(before)
    // A set PATCH (a scale to the same capacity) keeps them: saveState carries them.
    const patched = await f.call('PATCH', set, { sku: { capacity: 4 } })
    expect(patched.status, JSON.stringify(patched.body)).toBeLessThan(300)
    expect((await f.h.call('GET', `${set}${HOOKS}`)).body).toEqual(before)
    expect((await f.h.call('DELETE', `${set}${HOOKS}`)).status).toBe(200)
    expect((await f.h.call('DELETE', `${set}${HOOKS}`)).status).toBe(204)
  })

  it('the CLI sets, shows and deletes a hook', async () => {
    const args = ['-g', 'rg', '-n', 'web']
    const set = await f.osroll(
      'vmss',
      'hook',
      'set',
      ...args,
      '--hook',
      'post-healthy',
      '--url',
      `${hookBase}/post`,
      '--timeout',
      'PT2S',
      '--default-action',
      'fail',
    )
    expect(set.code, set.stderr).toBe(0)
    const shown = await f.osroll('vmss', 'hook', 'show', ...args)
    expect(JSON.parse(shown.stdout).properties.postHealthy).toEqual({
      url: `${hookBase}/post`,
      timeout: 'PT2S',
      defaultAction: 'fail',
    })
    const wrong = await f.osroll(
      'vmss',
      'hook',
      'set',
      ...args,
      '--hook',
      'post-healthy',
      '--url',
      'file:///etc/passwd',
      '--default-action',
      'fail',
    )
    expect(wrong.code).not.toBe(0)
    expect(wrong.stderr).toMatch(/http/)
    const removed = await f.osroll('vmss', 'hook', 'delete', ...args)
    expect(removed.code, removed.stderr).toBe(0)
    expect((await f.h.call('GET', `${armPaths(f.h.sub).set()}${HOOKS}`)).status).toBe(404)
  })
})

describe('lifecycle hooks in a rollout', () => {
  it(
    'defer, skip, timeout and fail answers, all in the timeline, the metrics and /events',
    { timeout: 90_000 },
    async () => {
      const set = armPaths(f.h.sub).set()
      const key = set.toLowerCase()
      // Batches of one (4 × 20%), in id order: 0, 1, 2, 3.
      script.set('/pre:0', [
        { body: { answer: 'defer', retryAfterSeconds: 1, reason: 'draining sessions' } },
        { body: { answer: 'continue' } },
      ])
      script.set('/pre:1', [{ body: { answer: 'skip', reason: 'holds the primary lock' } }])
      script.set('/pre:2', [{ hang: true }])
      script.set('/post:2', [{ status: 503, body: 'smoke service down' }])
      script.set('/post:3', [{ body: { answer: 'fail', reason: 'checkout returned 500' } }])
      const put = await f.call('PUT', `${set}${HOOKS}`, {
        properties: {
          preReimage: { url: `${hookBase}/pre`, timeout: 'PT3S', defaultAction: 'continue' },
          postHealthy: { url: `${hookBase}/post`, timeout: 'PT2S', defaultAction: 'continue' },
        },
      })
      expect(put.status, JSON.stringify(put.body)).toBe(201)
      const image = await f.call('PUT', armPaths(f.h.sub).image('1.1.0'), imageBody('sim:?boot=0'))
      expect(image.status).toBe(201)
      const done = await waitFor(
        async () => {
          const r = (await f.h.sys.deps.store.listRollouts(key, { limit: 1 }))[0]
          return r && r.status !== 'RollingForward' && r
        },
        'the rollout ended',
        60_000,
      )
      // 3 of 3 upgraded minus the one the post-healthy hook failed: 1 of 3 > 20% → Faulted.
      expect(done.status).toBe('Faulted')
      const state = Object.fromEntries(done.attempts.map((a) => [a.instanceId, a.state]))
      expect(state).toEqual({
        '0': 'Succeeded',
        '1': 'Skipped',
        '2': 'Succeeded',
        '3': 'RolledBack',
      })
      expect(done.attempts.find((a) => a.instanceId === '3')!.failure).toEqual({
        reason: 'PostHealthyHookFailed',
        message: 'The post-healthy hook failed instance 3: checkout returned 500',
      })

      // The webhook was told the instance, the set, the rollout and the target version.
      const first = received.find((r) => r.path === '/pre' && r.body['instanceId'] === '0')!
      expect(first.body).toEqual({
        hook: 'preReimage',
        scaleSetId: key,
        rolloutId: done.id,
        instanceId: '0',
        batch: 1,
        fromVersion: '1.0.0',
        targetVersion: '1.1.0',
        deferrals: 0,
      })
      // Nobody asked the post-healthy hook about the skipped instance, nor reimaged it.
      expect(received.some((r) => r.body['instanceId'] === '1' && r.path === '/post')).toBe(false)
      const vm1 = await f.h.call('GET', `${set}/virtualMachines/1/instanceView`)
      expect(vm1.status).toBe(200)
      const views = await f.h.sys.deps.fabric.listInstances(key)
      expect(views.find((v) => v.instanceId === '1')!.osImageVersion).toBe('1.0.0')

      const res = await f.h.call('GET', `${set}${ROLLOUTS}/${done.id}/timeline`)
      expect(res.status).toBe(200)
      expect(res.body.properties.skippedInstanceIds).toEqual(['1'])
      type Step = { step: string; time: string; reason: string; hook?: Record<string, unknown> }
      const stepsOf = (id: string): Step[] =>
        res.body.properties.instances.find((i: { instanceId: string }) => i.instanceId === id).steps
      const answers = (id: string) =>
        stepsOf(id)
          .filter((s) => s.step === 'hookAnswered')
          .map((s) => s.hook)
      expect(answers('0')).toEqual([
        {
          hook: 'preReimage',
          answer: 'defer',
          source: 'webhook',
          reason: 'draining sessions',
          retryAfter: 'PT1S',
          notBefore: expect.any(String),
        },
        { hook: 'preReimage', answer: 'continue', source: 'webhook' },
        { hook: 'postHealthy', answer: 'continue', source: 'webhook' },
      ])
      // The deferred instance was not reimaged before its deferral ended.
      const defer = stepsOf('0').find((s) => s.step === 'hookAnswered')!
      const swapped = stepsOf('0').find((s) => s.step === 'diskSwapped')!
      expect(Date.parse(swapped.time)).toBeGreaterThanOrEqual(
        Date.parse(String(defer.hook!['notBefore'])),
      )
      expect(stepsOf('1').map((s) => s.step)).toEqual(['requested', 'hookAnswered', 'skipped'])
      expect(answers('1')).toEqual([
        { hook: 'preReimage', answer: 'skip', source: 'webhook', reason: 'holds the primary lock' },
      ])
      expect(answers('2')).toEqual([
        {
          hook: 'preReimage',
          answer: 'continue',
          source: 'default',
          cause: 'timeout',
          reason: 'no answer within 3000 ms',
        },
        {
          hook: 'postHealthy',
          answer: 'continue',
          source: 'default',
          cause: 'status',
          reason: 'HTTP 503: smoke service down',
        },
      ])
      expect(answers('3')).toEqual([
        { hook: 'preReimage', answer: 'continue', source: 'webhook' },
        { hook: 'postHealthy', answer: 'fail', source: 'webhook', reason: 'checkout returned 500' },
      ])
      const three = stepsOf('3').map((s) => s.step)
      expect(three.slice(three.indexOf('firstHealthy'))).toEqual([
        'firstHealthy',
        'hookAnswered',
        'failed',
        'rollbackRequested',
        'previousDiskSwapped',
        'rolledBack',
      ])
      expect(stepsOf('3').find((s) => s.step === 'failed')!.reason).toBe('PostHealthyHookFailed')

      // Prometheus metrics: the calls' results and the answers acted on.
      const metrics = await f.h.call('GET', '/metrics', { apiVersion: null })
      const text = String(metrics.body)
      expect(text).toMatch(/osroll_hook_calls_total\{hook="preReimage",result="timeout"\} 1/)
      expect(text).toMatch(/osroll_hook_calls_total\{hook="postHealthy",result="status"\} 1/)
      expect(text).toMatch(
        /osroll_hook_answers_total\{hook="preReimage",answer="skip",source="webhook"\} 1/,
      )
      expect(text).toMatch(
        /osroll_hook_answers_total\{hook="postHealthy",answer="fail",source="webhook"\} 1/,
      )
      expect(text).toMatch(/osroll_instance_upgrades_total\{outcome="skipped",kind="OSImage"\} 1/)
      // The decisions are rollout events, and /events streams them with their hook record.
      const port = (f.h.sys.app.server.address() as { port: number }).port
      const sse = await readEvents(
        `http://127.0.0.1:${port}/events?since=0&scaleSet=${encodeURIComponent(key)}`,
        f.h.sys.adminToken,
        (text) => text.includes('"reason":"PostHealthyHookFailed"'),
      )
      const frames = sse
        .split('\n\n')
        .filter((fr) => fr.includes('event: instance'))
        .map((fr) => JSON.parse(fr.slice(fr.indexOf('data: ') + 6)) as Record<string, any>)
      expect(frames.find((e) => e['reason'] === 'PreReimageSkip')).toMatchObject({
        instanceId: '1',
        hook: { hook: 'preReimage', answer: 'skip', source: 'webhook' },
      })
      const events = await f.h.sys.deps.store.listEvents(done.id)
      expect(events.filter((e) => e.hook).map((e) => [e.instanceId, e.reason])).toEqual(
        expect.arrayContaining([
          ['0', 'PreReimageDefer'],
          ['1', 'PreReimageSkip'],
          ['2', 'PreReimageContinue'],
          ['3', 'PostHealthyHookFailed'],
        ]),
      )
    },
  )
})

/** The text of an event stream until `done` says so (or 15 s pass), then closes it. */
async function readEvents(url: string, token: string, done: (text: string) => boolean) {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), 15_000)
  let text = ''
  try {
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${token}` },
      signal: controller.signal,
    })
    expect(res.status).toBe(200)
    const decoder = new TextDecoder()
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true })
      if (done(text)) break
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  return text
}
