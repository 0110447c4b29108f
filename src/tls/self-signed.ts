/**
 * `--tls self-signed` (docs/api.md § Pointing Azure clients at osroll): a certificate authority
 * kept in `{data-dir}/tls/ca.crt`
 * (created once, reused across restarts, so clients trust it once) and a server certificate for
 * `localhost` and `127.0.0.1` signed by it, renewed when missing or near expiry. Users trust the
 * CA with NODE_EXTRA_CA_CERTS (Node) or REQUESTS_CA_BUNDLE (az).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join } from 'node:path'
import forge from 'node-forge'

export type TlsMaterial = Readonly<{
  cert: Buffer
  key: Buffer
  caFile: string
  /** A new CA was made (first start, or the kept one lacked these names' constraints). */
  caReplaced: boolean
}>

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
  chmodSync(dir, 0o700)
  const files = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'server.crt'),
    key: join(dir, 'server.key'),
  }
  const caReplaced = !caUsable(files.caCert, files.caKey, hostnames)
  if (caReplaced) {
    const ca = createCa(nowMs, hostnames)
    writePrivate(files.caKey, forge.pki.privateKeyToPem(ca.key))
    writePrivate(files.caCert, forge.pki.certificateToPem(ca.cert))
  }
  const caCert = forge.pki.certificateFromPem(readFileSync(files.caCert, 'utf8'))
  const caKey = forge.pki.privateKeyFromPem(readFileSync(files.caKey, 'utf8'))
  if (caReplaced || !serverCertUsable(files.cert, files.key, hostnames, caCert, nowMs)) {
    const server = createServerCert(caCert, caKey, hostnames, nowMs)
    writePrivate(files.key, forge.pki.privateKeyToPem(server.key))
    writePrivate(
      files.cert,
      forge.pki.certificateToPem(server.cert) + forge.pki.certificateToPem(caCert),
    )
  }
  return {
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    caFile: files.caCert,
    caReplaced,
  }
}

/** Every file of `tls/` is 0600 (the dir 0700): the keys are secrets, the rest need not be shared. */
function writePrivate(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 })
  chmodSync(file, 0o600)
}

/**
 * The kept CA is reused only when it has the name constraints for `hostnames` (so one made before
 * constraints existed, or for other names, is replaced and must be trusted again).
 */
function caUsable(certFile: string, keyFile: string, hostnames: readonly string[]): boolean {
  if (!existsSync(certFile) || !existsSync(keyFile)) return false
  try {
    const ca = forge.pki.certificateFromPem(readFileSync(certFile, 'utf8'))
    const ext = (ca.extensions as { id?: string; value?: string }[]).find(
      (e) => e.id === NAME_CONSTRAINTS,
    )
    const want = forge.asn1.toDer(nameConstraintsValue(hostnames)).getBytes()
    return ext?.value === want
  } catch {
    return false
  }
}

const NAME_CONSTRAINTS = '2.5.29.30'

/**
 * X.509 name constraints (RFC 5280 §4.2.1.10) permitting only localhost, 127.0.0.0/8, ::1 and
 * the server's own names: a leaked CA key cannot mint a certificate for any other site.
 */
export function nameConstraintsValue(hostnames: readonly string[]): forge.asn1.Asn1 {
  const { asn1 } = forge
  const bases = new Map<string, forge.asn1.Asn1>()
  const ip = (bytes: number[]) =>
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, String.fromCharCode(...bytes))
  const dns = (name: string) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, name)
  bases.set('dns:localhost', dns('localhost'))
  bases.set('ip:127.0.0.0/8', ip([127, 0, 0, 0, 255, 0, 0, 0]))
  bases.set('ip:::1', ip([...Array<number>(15).fill(0), 1, ...Array<number>(16).fill(255)]))
  for (const h of hostnames) {
    if (h === 'localhost' || /^127\./.test(h) || h === '::1') continue
    if (isIP(h) === 4) bases.set(`ip:${h}`, ip([...h.split('.').map(Number), 255, 255, 255, 255]))
    else if (isIP(h) === 6)
      bases.set(`ip:${h}`, ip([...ipv6Bytes(h), ...Array<number>(16).fill(255)]))
    else bases.set(`dns:${h.toLowerCase()}`, dns(h.toLowerCase()))
  }
  const subtrees = [...bases.values()].map((b) =>
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [b]),
  )
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, subtrees),
  ])
}

function ipv6Bytes(text: string): number[] {
  const [head = '', tail = ''] = text.split('::')
  const parts = (s: string) => (s === '' ? [] : s.split(':'))
  const h = parts(head)
  const t = text.includes('::') ? parts(tail) : []
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  return groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 255])
}

function createCa(
  nowMs: number,
  hostnames: readonly string[],
): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
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
    { id: NAME_CONSTRAINTS, critical: true, value: nameConstraintsValue(hostnames) },
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
