/**
 * Issue 15, finding 4 and 3's "serve says so": a Custom Script download over
 * `--file-uri-max-bytes` is refused (announced by Content-Length, streamed without one, and a
 * `file://` copy), an allowed http URL that redirects to a loopback, link-local or file:// target
 * is refused after the redirect without the target being reached, and `osroll serve` warns at
 * start when `--instance-sandbox auto` finds bubblewrap unusable. Each checks the refusal and
 * that nothing changed: the command did not run, no file was left, the secret was not reached.
 */
import http from 'node:http'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ExtensionModel } from '../../src/fabrics/types/fabric.js'
import { runExtensions } from '../../src/fabrics/local/provisioning.js'
import type { DownloadPolicy } from '../../src/fabrics/types/local-options.js'
import { BWRAP } from '../../src/fabrics/local/sandbox.js'

const root = mkdtempSync(join(tmpdir(), 'osroll-downloads-'))
const SECRET = 'metadata-secret-5d2a-never-fetched'
const servers: http.Server[] = []
afterAll(async () => {
  for (const s of servers) s.close()
  rmSync(root, { recursive: true, force: true })
})

async function listen(host: string, handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler)
  servers.push(s)
  await new Promise<void>((r) => s.listen(0, host, r))
  const port = (s.address() as { port: number }).port
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

const script = (name: string, uri: string): ExtensionModel => ({
  name,
  publisher: 'Microsoft.Azure.Extensions',
  type: 'CustomScript',
  typeHandlerVersion: '2.1',
  // The command leaves a mark: it must not run when a download is refused.
  settings: { fileUris: [uri], commandToExecute: 'touch ran' },
  protectedSettings: {},
  provisionAfterExtensions: [],
  suppressFailures: false,
})

async function provision(extensions: ExtensionModel[], downloads: DownloadPolicy) {
  const dir = mkdtempSync(join(root, 'ext-'))
  const r = await runExtensions({
    dir,
    env: { PATH: '/usr/bin:/bin' },
    budgetMs: 20_000,
    logFile: join(dir, 'log'),
    extensions,
    downloads,
  })
  /** What each extension's folder holds afterwards. */
  const files = (i: number) => {
    const d = join(dir, 'extensions', String(r.extensions[i]!.name))
    return existsSync(d) ? readdirSync(d).sort() : []
  }
  return { r, files }
}

describe('the --file-uri-max-bytes cap', () => {
  let base = ''
  const big = 'x'.repeat(5000)
  beforeAll(async () => {
    base = await listen('127.0.0.1', (req, res) => {
      if (req.url === '/announced') {
        res.setHeader('content-length', big.length)
        res.end(big)
      } else if (req.url === '/streamed') {
        // No Content-Length: the cap must hold while the bytes arrive.
        for (let i = 0; i < 10; i++) res.write(big)
        res.end()
      } else res.end('small')
    })
    mkdirSync(join(root, 'files'))
    writeFileSync(join(root, 'files', 'big.bin'), big)
  })

  it('refuses a download larger than the cap, however it arrives, and runs nothing', async () => {
    const policy: DownloadPolicy = {
      fileRoots: [join(root, 'files')],
      maxBytes: 1000,
      // Only for this test's server on 127.0.0.1: the cap is what is under test.
      allowLocal: true,
    }
    const { r, files } = await provision(
      [
        script('small', `${base}/small`),
        script('announced', `${base}/announced`),
        script('streamed', `${base}/streamed`),
        script('file', pathToFileURL(join(root, 'files', 'big.bin')).href),
      ],
      policy,
    )
    // The control: a small file downloads and its command runs.
    expect(r.extensions[0]!.state, r.extensions[0]!.message).toBe('succeeded')
    expect(files(0)).toEqual(['ran', 'small'])
    for (const i of [1, 2, 3]) {
      const e = r.extensions[i]!
      expect(e.state, e.name).toBe('failed')
      expect(e.message).toContain('larger than the 1000 bytes allowed (--file-uri-max-bytes)')
      expect(files(i), e.name).toEqual([])
    }
  })
})

/** An address of this host that is not loopback or link-local: an origin the policy allows. */
const external = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && !a.internal && a.family === 'IPv4' && !a.address.startsWith('169.254.'))

describe('redirects', () => {
  let allowed = ''
  let hits = 0
  beforeAll(async () => {
    if (!external) return
    const secret = await listen('127.0.0.1', (_req, res) => {
      hits++
      res.end(SECRET)
    })
    const port = secret.split(':')[2]
    writeFileSync(join(root, 'token'), SECRET)
    const to: Record<string, string> = {
      '/to-loopback': `${secret}/secret`,
      '/to-localhost': `http://localhost:${port}/secret`,
      '/to-v6-loopback': `http://[::1]:${port}/secret`,
      '/to-mapped': `http://[::ffff:127.0.0.1]:${port}/secret`,
      '/to-link-local': 'http://169.254.169.254/latest/meta-data/',
      '/to-file': pathToFileURL(join(root, 'token')).href,
      '/hop': '/to-loopback',
    }
    allowed = await listen(external.address, (req, res) => {
      const target = to[req.url ?? '']
      if (target) {
        res.statusCode = 302
        res.setHeader('location', target)
        res.end()
      } else res.end('fine')
    })
  })

  it.skipIf(!external)(
    'an allowed URL that redirects to loopback, link-local or file:// is refused after the redirect',
    async () => {
      const policy: DownloadPolicy = { fileRoots: [], maxBytes: 1_000_000, allowLocal: false }
      const paths = [
        '/to-loopback',
        '/to-localhost',
        '/to-v6-loopback',
        '/to-mapped',
        '/to-link-local',
        '/hop',
        '/to-file',
      ]
      const { r, files } = await provision(
        [script('ok', `${allowed}/ok`), ...paths.map((p, i) => script(`r${i}`, `${allowed}${p}`))],
        policy,
      )
      // The control: the origin itself is allowed and fetched.
      expect(r.extensions[0]!.state, r.extensions[0]!.message).toBe('succeeded')
      expect(files(0)).toEqual(['ok', 'ran'])
      paths.forEach((p, i) => {
        const e = r.extensions[i + 1]!
        expect(e.state, p).toBe('failed')
        expect(e.message, p).toMatch(
          p === '/to-file'
            ? /a redirect to file: is refused/
            : /loopback, link-local or unspecified address/,
        )
        expect(files(i + 1), p).toEqual([])
      })
      expect(JSON.stringify(r)).not.toContain(SECRET)
      expect(hits).toBe(0)
    },
  )
})

describe('serve without a usable sandbox', () => {
  // bubblewrap made unusable for one serve process only: /usr/bin/bwrap is /dev/null in its
  // mount namespace (itself made by the real bubblewrap of this host).
  const canHide =
    existsSync(BWRAP) &&
    spawnSync(BWRAP, ['--dev-bind', '/', '/', '--bind', '/dev/null', BWRAP, '--', 'true'])
      .status === 0

  async function serve(mode: 'auto' | 'bwrap'): Promise<{ out: string; code: number | null }> {
    const dataDir = mkdtempSync(join(root, 'serve-'))
    const child = spawn(
      BWRAP,
      [
        '--dev-bind',
        '/',
        '/',
        '--bind',
        '/dev/null',
        BWRAP,
        '--die-with-parent',
        '--',
        process.execPath,
        '--import',
        'tsx',
        join(import.meta.dirname, '../../src/cli/main.ts'),
        'serve',
        '--fabric',
        'local',
        '--instance-sandbox',
        mode,
        '--port',
        '0',
        '--data-dir',
        dataDir,
      ],
      { env: { ...process.env, OSROLL_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    try {
      const started = Date.now()
      while (!/osroll is serving/.test(out) && child.exitCode === null) {
        if (Date.now() - started > 30_000) throw new Error(`serve did not start:\n${out}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      return { out, code: child.exitCode }
    } finally {
      child.kill('SIGTERM')
      await exited
    }
  }

  it.skipIf(!canHide)(
    '--instance-sandbox auto starts with a warning that says what it means',
    { timeout: 60_000 },
    async () => {
      const { out } = await serve('auto')
      expect(out).toContain('osroll is serving')
      expect(out).toContain('WARNING: local instances are NOT sandboxed')
      expect(out).toContain('bubblewrap does not work here')
      expect(out).toContain("run as osroll's own user")
      expect(out).not.toContain('instances: sandboxed')
    },
  )

  it.skipIf(!canHide)(
    '--instance-sandbox bwrap refuses to start instead',
    { timeout: 60_000 },
    async () => {
      const { out, code } = await serve('bwrap')
      expect(code).toBe(2)
      expect(out).toContain('--instance-sandbox bwrap: bubblewrap does not work here')
      expect(out).not.toContain('osroll is serving')
    },
  )
})
