/**
 * The HTTP hook caller (docs/rollouts.md § Lifecycle hooks) against a real server on 127.0.0.1:
 * an answer is read as the webhook wrote it; a refused connection, a non-2xx status, a body that
 * is no JSON object and a redirect are results (never exceptions) the core turns into the
 * default action. The timeout case is in test/api/lifecycle-hooks.test.ts.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpHookCaller, parseAnswer } from './hook-caller.js'
import type { HookCall, HookRequest } from './hook-caller.js'

let server: Server
let base = ''
const seen: unknown[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    let data = ''
    req.on('data', (c) => (data += c))
    req.on('end', () => {
      seen.push({ method: req.method, type: req.headers['content-type'], body: JSON.parse(data) })
      if (req.url === '/defer') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end('{"answer":"defer","retryAfterSeconds":5,"reason":"later"}')
      } else if (req.url === '/html') {
        res.writeHead(200, { 'content-type': 'text/html' })
        res.end('<html>ok</html>')
      } else if (req.url === '/moved') {
        res.writeHead(302, { location: '/defer' })
        res.end()
      } else {
        res.writeHead(500)
        res.end('boom')
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const request: HookRequest = {
  hook: 'preReimage',
  scaleSetId:
    '/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/web',
  rolloutId: 'r1',
  instanceId: '3',
  batch: 2,
  fromVersion: '1.0.0',
  targetVersion: '1.1.0',
  deferrals: 0,
}
const callOf = (url: string): HookCall => ({
  type: 'callHook',
  hook: 'preReimage',
  instanceId: '3',
  call: 0,
  url,
  timeoutMs: 5_000,
  batch: 2,
  fromVersion: '1.0.0',
  targetVersion: '1.1.0',
  deferrals: 0,
})
const call = (path: string) =>
  httpHookCaller.call(callOf(`${base}${path}`), request, new AbortController().signal)

describe('httpHookCaller', () => {
  it('POSTs the request as JSON and reads the answer', async () => {
    expect(await call('/defer')).toEqual({
      kind: 'answer',
      answer: 'defer',
      retryAfterSeconds: 5,
      reason: 'later',
    })
    expect(seen.at(-1)).toEqual({ method: 'POST', type: 'application/json', body: request })
  })

  it('a non-2xx status, with the body quoted', async () => {
    expect(await call('/fail')).toEqual({
      kind: 'error',
      cause: 'status',
      detail: 'HTTP 500: boom',
    })
  })

  it('a body that is no JSON object', async () => {
    expect(await call('/html')).toMatchObject({ kind: 'error', cause: 'unparseable' })
  })

  it('a redirect is not followed', async () => {
    expect(await call('/moved')).toMatchObject({ kind: 'error', cause: 'connection' })
  })

  it('a refused connection', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as { port: number }).port
    await new Promise((resolve) => closed.close(resolve))
    const r = await httpHookCaller.call(
      callOf(`http://127.0.0.1:${port}/`),
      request,
      new AbortController().signal,
    )
    expect(r).toMatchObject({ kind: 'error', cause: 'connection' })
    expect(r.kind === 'error' && r.detail).toMatch(/ECONNREFUSED/)
  })
})

describe('parseAnswer', () => {
  it.each([
    ['{"answer":"continue"}', { kind: 'answer', answer: 'continue' }],
    ['{"answer":"fail","reason":"x"}', { kind: 'answer', answer: 'fail', reason: 'x' }],
    ['[]', { kind: 'error', cause: 'unparseable' }],
    ['{"answer":3}', { kind: 'error', cause: 'unparseable' }],
    ['', { kind: 'error', cause: 'unparseable' }],
  ])('%s', (text, want) => expect(parseAnswer(text)).toMatchObject(want))
})
