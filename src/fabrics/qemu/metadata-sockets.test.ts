/**
 * The metadata sockets without a VM: each socket answers as the identity it was opened for,
 * passes the request through as read, refuses an oversized body, replaces a stale socket file
 * and removes its file when closed.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { GuestMetadata, MetadataRequest } from '../types/metadata.js'
import { MAX_BODY_BYTES, MetadataSockets, RELAY_SOURCE, writeRelay } from './metadata-sockets.js'

const dir = mkdtempSync(join(tmpdir(), 'osroll-imds-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const seen: { instanceId: string; req: MetadataRequest }[] = []
const endpoint: GuestMetadata = {
  answer: async (guest, req) => {
    seen.push({ instanceId: guest.instanceId, req })
    return { status: 200, contentType: 'text/plain; charset=utf-8', body: guest.instanceId }
  },
}

function send(
  socketPath: string,
  o: { method?: string; path?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, method: o.method ?? 'GET', path: o.path ?? '/', headers: o.headers },
      (res) => {
        let body = ''
        res.on('data', (c) => (body += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    req.on('error', reject)
    req.end(o.body)
  })
}

describe('MetadataSockets', () => {
  it('answers on each socket as the instance it was opened for, whatever the request says', async () => {
    const sockets = new MetadataSockets(endpoint)
    const a = join(dir, 'a', 'imds.sock')
    const b = join(dir, 'b', 'imds.sock')
    try {
      await sockets.open(a, { scaleSetKey: 'set', instanceId: '0' })
      await sockets.open(b, { scaleSetKey: 'set', instanceId: '1' })
      expect(statSync(a).mode & 0o777).toBe(0o600)
      const forged = {
        path: '/metadata/instance?instanceId=1',
        headers: { Metadata: 'true', 'X-Forwarded-For': '10.0.0.1', Host: 'vm-1' },
      }
      expect(await send(a, forged)).toEqual({ status: 200, body: '0' })
      expect(await send(b, { path: '/metadata/instance' })).toEqual({ status: 200, body: '1' })
      expect(seen[0]).toEqual({
        instanceId: '0',
        req: {
          method: 'GET',
          url: '/metadata/instance?instanceId=1',
          metadataHeader: 'true',
          forwardedFor: true,
          body: '',
        },
      })
      const big = await send(a, { method: 'POST', body: 'x'.repeat(MAX_BODY_BYTES + 1) })
      expect(big.status).toBe(413)
    } finally {
      await sockets.closeAll()
    }
    expect(existsSync(a) || existsSync(b)).toBe(false)
  })

  it('replaces a socket file left by an earlier process', async () => {
    const path = join(dir, 'stale', 'imds.sock')
    const first = new MetadataSockets(endpoint)
    await first.open(path, { scaleSetKey: 'set', instanceId: '7' })
    // The earlier osroll died without closing: its file stays, nobody listens.
    const second = new MetadataSockets(endpoint)
    try {
      await second.open(path, { scaleSetKey: 'set', instanceId: '7' })
      expect((await send(path)).body).toBe('7')
    } finally {
      await second.closeAll()
      await first.closeAll()
    }
  })

  it('writes the relay read-only', async () => {
    const path = join(dir, 'vms', 'imds-relay.mjs')
    await writeRelay(path)
    await writeRelay(path) // again at the next start, over the read-only file
    expect(statSync(path).mode & 0o777).toBe(0o444)
    expect(RELAY_SOURCE).toContain('connect(process.argv[2])')
  })
})
