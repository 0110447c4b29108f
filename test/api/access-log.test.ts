/**
 * The access log (docs/operations.md § Access log): one `info` line per answered request with
 * the request id, client, method, route template, status, duration and the caller's role and
 * token label, and never the token.
 */
import { Writable } from 'node:stream'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness } from '../../test-support/api-harness.js'
import { createToken } from '../../src/services/tokens.js'

let h: Awaited<ReturnType<typeof apiHarness>>
const lines: string[] = []
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(
      ...chunk
        .toString()
        .split('\n')
        .filter((l) => l !== ''),
    )
    done()
  },
})

beforeAll(async () => {
  h = await apiHarness({ log: pino({ level: 'info' }, sink) })
})
afterAll(() => h.close())

const accessLines = () =>
  lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'request')

describe('access log', () => {
  it('writes one line per request with who, what and how long, never the token', async () => {
    const token = await createToken(h.sys.deps.store, {
      role: 'Reader',
      subscriptions: [],
      label: 'dashboard-ci',
      nowMs: Date.now(),
    })
    const before = accessLines().length
    const r = await h.call(
      'GET',
      `/subscriptions/${h.sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/nope`,
      { token },
    )
    expect(r.status).toBe(404)
    const mine = accessLines().slice(before)
    expect(mine).toHaveLength(1)
    expect(mine[0]).toMatchObject({
      level: 30,
      requestId: r.headers['x-ms-request-id'],
      client: '127.0.0.1',
      method: 'GET',
      route:
        '/subscriptions/:sub/resourceGroups/:rg/providers/Microsoft.Compute/virtualMachineScaleSets/:name',
      status: 404,
      role: 'Reader',
      tokenLabel: 'dashboard-ci',
    })
    expect(typeof mine[0]?.['durationMs']).toBe('number')
    expect(lines.join('\n')).not.toContain(token)
    expect(lines.join('\n')).not.toContain(h.sys.adminToken)
  })

  it('logs a refused request too: no token, no role, status 401', async () => {
    const before = accessLines().length
    const r = await h.call('GET', `/subscriptions/${h.sub}`, { token: 'osr_not-a-real-token' })
    expect(r.status).toBe(401)
    const [line] = accessLines().slice(before)
    expect(line).toMatchObject({ status: 401, role: null, tokenLabel: null })
    expect(lines.join('\n')).not.toContain('osr_not-a-real-token')
  })
})
