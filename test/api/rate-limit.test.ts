/**
 * Request-rate limit per token (docs/security.md): past `--rate-limit` requests in a minute a
 * token gets 429 TooManyRequests in the ARM envelope with Retry-After; other tokens, and
 * /healthz, are not affected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness } from '../../test-support/api-harness.js'
import { createToken } from '../../src/services/tokens.js'

let h: Awaited<ReturnType<typeof apiHarness>>
beforeAll(async () => {
  h = await apiHarness({ rateLimit: '5', groups: [] }) // no request before the test's own
})
afterAll(() => h.close())

describe('rate limit', () => {
  it('throttles one token past its limit, and only that token', async () => {
    for (let i = 0; i < 5; i++) expect((await h.call('GET', '/subscriptions')).status).toBe(200)
    const refused = await h.call('GET', '/subscriptions')
    expect(refused.status).toBe(429)
    expect(refused.body.error).toMatchObject({ code: 'TooManyRequests' })
    expect(refused.body.error.message).toMatch(/More than 5 requests in a minute/)
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    const other = await createToken(h.sys.deps.store, {
      role: 'Reader',
      subscriptions: [],
      label: 'other',
      nowMs: 0,
    })
    expect((await h.call('GET', '/subscriptions', { token: other })).status).toBe(200)
    for (let i = 0; i < 10; i++)
      expect((await h.call('GET', '/healthz', { token: null, apiVersion: null })).status).toBe(200)
  })
})
