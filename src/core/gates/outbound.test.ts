import { describe, expect, it } from 'vitest'
import { outboundAllowed, parseOutboundHosts } from './outbound.js'

describe('the outbound allow-list of gates and hooks', () => {
  it('parses host, host:port, *.domain and [IPv6] patterns, and names the first bad one', () => {
    expect(parseOutboundHosts(' Prom.Internal:9090, *.hooks.example ,[::1]:8080,,')).toEqual({
      ok: true,
      patterns: ['prom.internal:9090', '*.hooks.example', '[::1]:8080'],
    })
    for (const bad of ['http://prom', 'prom/x', '*', 'a.*.b', 'prom:0', 'prom:70000', 'a b'])
      expect(parseOutboundHosts(`ok.example,${bad}`)).toEqual({ ok: false, bad })
  })
  it.each([
    ['https://prom.internal/api', ['prom.internal'], true],
    ['https://prom.internal/api', ['prom.internal:443'], true],
    ['http://prom.internal/api', ['prom.internal:443'], false],
    ['http://prom.internal:9090/', ['prom.internal:9090'], true],
    ['http://a.hooks.example/x', ['*.hooks.example'], true],
    ['http://hooks.example/x', ['*.hooks.example'], false],
    ['http://evilhooks.example/x', ['*.hooks.example'], false],
    ['http://127.0.0.1:9090/', ['prom.internal'], false],
    ['http://127.0.0.1:9090/', ['127.0.0.1'], true],
    ['http://[::1]:8080/', ['[::1]:8080'], true],
    ['http://169.254.169.254/', null, true],
  ] as const)('%s with %j → %s', (url, list, allowed) => {
    expect(outboundAllowed(url, list)).toBe(allowed)
  })
})
