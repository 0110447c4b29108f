/**
 * `--tls self-signed` (SPEC §8.1): a certificate authority kept in `{data-dir}/tls/ca.crt`
 * (created once, reused across restarts, so clients trust it once) and a server certificate for
 * `localhost` and `127.0.0.1` signed by it, renewed when missing or near expiry. Users trust the
 * CA with NODE_EXTRA_CA_CERTS (Node) or REQUESTS_CA_BUNDLE (az).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import forge from 'node-forge'

export type TlsMaterial = Readonly<{ cert: Buffer; key: Buffer; caFile: string }>

const CA_DAYS = 3650
const SERVER_DAYS = 397
const RENEW_BEFORE_MS = 30 * 86_400_000

/**
 * @example const { cert, key, caFile } = ensureSelfSignedTls('./.osroll') // caFile = ./.osroll/tls/ca.crt
 */
export function ensureSelfSignedTls(
  dataDir: string,
  hostnames: readonly string[] = ['localhost', '127.0.0.1'],
  nowMs = Date.now(),
): TlsMaterial {
  const dir = join(dataDir, 'tls')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const files = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'server.crt'),
    key: join(dir, 'server.key'),
  }
  if (!existsSync(files.caCert) || !existsSync(files.caKey)) {
    const ca = createCa(nowMs)
    writeFileSync(files.caKey, forge.pki.privateKeyToPem(ca.key), { mode: 0o600 })
    writeFileSync(files.caCert, forge.pki.certificateToPem(ca.cert), { mode: 0o644 })
  }
  const caCert = forge.pki.certificateFromPem(readFileSync(files.caCert, 'utf8'))
  const caKey = forge.pki.privateKeyFromPem(readFileSync(files.caKey, 'utf8'))
  if (!serverCertUsable(files.cert, files.key, hostnames, caCert, nowMs)) {
    const server = createServerCert(caCert, caKey, hostnames, nowMs)
    writeFileSync(files.key, forge.pki.privateKeyToPem(server.key), { mode: 0o600 })
    writeFileSync(
      files.cert,
      forge.pki.certificateToPem(server.cert) + forge.pki.certificateToPem(caCert),
      { mode: 0o644 },
    )
  }
  return { cert: readFileSync(files.cert), key: readFileSync(files.key), caFile: files.caCert }
}

function createCa(nowMs: number): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  const keys = forge.pki.rsa.generateKeyPair(2048)
  const cert = forge.pki.createCertificate()
  cert.publicKey = keys.publicKey
  cert.serialNumber = serial()
  cert.validity.notBefore = new Date(nowMs - 60_000)
  cert.validity.notAfter = new Date(nowMs + CA_DAYS * 86_400_000)
  const subject = [
    { name: 'commonName', value: 'osroll local CA' },
    { name: 'organizationName', value: 'osroll' },
  ]
  cert.setSubject(subject)
  cert.setIssuer(subject)
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ])
  cert.sign(keys.privateKey, forge.md.sha256.create())
  return { cert, key: keys.privateKey }
}

function createServerCert(
  ca: forge.pki.Certificate,
  caKey: forge.pki.PrivateKey,
  hostnames: readonly string[],
  nowMs: number,
): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  const keys = forge.pki.rsa.generateKeyPair(2048)
  const cert = forge.pki.createCertificate()
  cert.publicKey = keys.publicKey
  cert.serialNumber = serial()
  cert.validity.notBefore = new Date(nowMs - 60_000)
  cert.validity.notAfter = new Date(nowMs + SERVER_DAYS * 86_400_000)
  cert.setSubject([{ name: 'commonName', value: hostnames[0] ?? 'localhost' }])
  cert.setIssuer(ca.subject.attributes)
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: hostnames.map((h) =>
        /^[\d.]+$/.test(h) || h.includes(':') ? { type: 7, ip: h } : { type: 2, value: h },
      ),
    },
  ])
  cert.sign(caKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create())
  return { cert, key: keys.privateKey }
}

function serverCertUsable(
  certFile: string,
  keyFile: string,
  hostnames: readonly string[],
  ca: forge.pki.Certificate,
  nowMs: number,
): boolean {
  if (!existsSync(certFile) || !existsSync(keyFile)) return false
  try {
    const cert = forge.pki.certificateFromPem(readFileSync(certFile, 'utf8'))
    if (cert.validity.notAfter.getTime() - nowMs < RENEW_BEFORE_MS) return false
    if (!ca.verify(cert)) return false
    const alt = cert.getExtension('subjectAltName') as {
      altNames?: { value?: string; ip?: string }[]
    } | null
    const names = new Set((alt?.altNames ?? []).map((a) => a.ip ?? a.value))
    return hostnames.every((h) => names.has(h))
  } catch {
    return false
  }
}

function serial(): string {
  return '01' + forge.util.bytesToHex(forge.random.getBytesSync(15))
}
