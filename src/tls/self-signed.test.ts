import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ensureSelfSignedTls } from './self-signed.js'

describe('--tls self-signed', () => {
  it(
    'keeps the CA across restarts and signs a server certificate for localhost and 127.0.0.1',
    { timeout: 60_000 },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'osroll-tls-'))
      try {
        const first = ensureSelfSignedTls(dir)
        const ca = new X509Certificate(readFileSync(first.caFile))
        const server = new X509Certificate(first.cert)
        expect(ca.ca).toBe(true)
        expect(server.verify(ca.publicKey)).toBe(true)
        expect(server.subjectAltName).toContain('DNS:localhost')
        expect(server.subjectAltName).toContain('IP Address:127.0.0.1')
        const again = ensureSelfSignedTls(dir)
        expect(again.cert.equals(first.cert)).toBe(true) // nothing regenerated
        unlinkSync(join(dir, 'tls', 'server.crt'))
        const renewed = ensureSelfSignedTls(dir)
        expect(new X509Certificate(renewed.cert).verify(ca.publicKey)).toBe(true) // same CA
        expect(readFileSync(first.caFile).equals(readFileSync(renewed.caFile))).toBe(true)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  )
})
