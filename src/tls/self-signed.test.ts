import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs'
import forge from 'node-forge'
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

describe('--tls self-signed, private material', () => {
  it(
    'keeps every TLS file 0600 in a 0700 dir, and the CA is name-constrained to the served names, critical',
    { timeout: 60_000 },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'osroll-tls-'))
      try {
        const first = ensureSelfSignedTls(dir, ['localhost', '127.0.0.1', 'osroll.example'])
        expect(first.caReplaced).toBe(true)
        expect(statSync(join(dir, 'tls')).mode & 0o777).toBe(0o700)
        for (const f of ['ca.crt', 'ca.key', 'server.crt', 'server.key'])
          expect(statSync(join(dir, 'tls', f)).mode & 0o777).toBe(0o600)
        const ca = forge.pki.certificateFromPem(readFileSync(first.caFile, 'utf8'))
        const ext = constraintsOf(ca)
        expect(ext?.critical).toBe(true)
        const value = ext?.value ?? ''
        expect(value).toContain('localhost')
        expect(value).toContain('osroll.example')
        expect(value).toContain(String.fromCharCode(127, 0, 0, 0, 255, 0, 0, 0)) // 127.0.0.0/8
        // node:crypto checks the chain with the constraint: the server cert's names are permitted.
        const caX = new X509Certificate(readFileSync(first.caFile))
        expect(new X509Certificate(first.cert).checkIssued(caX)).toBe(true)
        // Same names: the CA is kept; another host name: a new CA with that name permitted.
        expect(
          ensureSelfSignedTls(dir, ['localhost', '127.0.0.1', 'osroll.example']).caReplaced,
        ).toBe(false)
        const other = ensureSelfSignedTls(dir, ['localhost', '127.0.0.1', '10.1.2.3'])
        expect(other.caReplaced).toBe(true)
        const ca2 = forge.pki.certificateFromPem(readFileSync(other.caFile, 'utf8'))
        const v2 = constraintsOf(ca2)?.value ?? ''
        expect(v2).toContain(String.fromCharCode(10, 1, 2, 3, 255, 255, 255, 255))
        expect(v2).not.toContain('osroll.example')
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  )
})

function constraintsOf(
  cert: forge.pki.Certificate,
): { critical?: boolean; value?: string } | undefined {
  return (cert.extensions as { id?: string; critical?: boolean; value?: string }[]).find(
    (e) => e.id === '2.5.29.30',
  )
}
