/**
 * Issue 15's attacks on the local fabric, run for real: a Custom Script, custom data and a boot
 * file that try to read the data dir's token, database and TLS keys and another instance's disk,
 * write outside their folder and report `id`; fileUris aimed at a loopback secret and at the
 * token; a credential in a fileUri; chained symlinks in an artifact; a `../` extension name.
 */
import http from 'node:http'
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ExtensionModel, InstanceView } from '../../src/fabrics/types/fabric.js'
import { LocalFabric } from '../../src/fabrics/local/local-fabric.js'
import { MemoryLocalState } from '../../src/fabrics/local/local-state.js'
import { importArtifact } from '../../src/fabrics/host/artifacts.js'
import { runExtensions } from '../../src/fabrics/local/provisioning.js'
import { resolveSandbox } from '../../src/fabrics/local/sandbox.js'
import { Prober } from '../../src/health/prober.js'
import { fabricModel } from '../../test-support/builders.js'
import { importedSample } from '../../test-support/sample-images.js'

const root = mkdtempSync(join(tmpdir(), 'osroll-sec-'))
const prober = new Prober({ tickMs: 20 })
const SECRET = 'tok-4f1c9e-never-leaks'
let server: http.Server
let base = ''
beforeAll(async () => {
  // The data dir as serve makes it: token, database, TLS key beside the instances.
  writeFileSync(join(root, 'token'), SECRET, { mode: 0o600 })
  writeFileSync(join(root, 'osroll.db'), `db ${SECRET}`)
  mkdirSync(join(root, 'tls'))
  writeFileSync(join(root, 'tls', 'ca.key'), `key ${SECRET}`, { mode: 0o600 })
  server = http.createServer((_req, res) => res.end(`secret ${SECRET}`))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})
afterAll(async () => {
  prober.close()
  server.close()
  rmSync(root, { recursive: true, force: true })
})

const script = (name: string, settings: Record<string, unknown>): ExtensionModel => ({
  name,
  publisher: 'Microsoft.Azure.Extensions',
  type: 'CustomScript',
  typeHandlerVersion: '2.1',
  settings,
  protectedSettings: {},
  provisionAfterExtensions: [],
  suppressFailures: false,
})

/** Tries every read and write the audit made; prints what worked. */
const ATTACK = [
  'id -u',
  `cat ${root}/token && echo READ-TOKEN`,
  `cat ${root}/osroll.db && echo READ-DB`,
  `cat ${root}/tls/ca.key && echo READ-TLS`,
  `ls ${root}/instances/*/1/data && echo SAW-OTHER`,
  `touch ${root}/escaped && echo WROTE-OUT`,
  'true',
].join('; ')

async function until(
  f: LocalFabric,
  key: string,
  check: (v: readonly InstanceView[]) => boolean,
): Promise<readonly InstanceView[]> {
  for (let i = 0; i < 300; i++) {
    const v = await f.listInstances(key)
    if (check(v)) return v
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`never reached: ${JSON.stringify(await f.listInstances(key))}`)
}

describe('local fabric sandbox (issue 15)', async () => {
  const sandbox = await resolveSandbox('auto')
  it('bubblewrap is usable here (CI installs it)', () => {
    expect(sandbox.kind).toBe('bwrap')
  })

  it(
    'custom data, a Custom Script and boot cannot read the token, db, TLS key or another instance, nor write outside, and do not run as root',
    { timeout: 60_000 },
    async () => {
      const fabric = new LocalFabric({
        rootDir: join(root, 'instances'),
        casDir: join(root, 'images'),
        state: new MemoryLocalState(),
        prober,
        addressStart: 52_000,
        stopGraceMs: 2000,
      })
      const image = await importedSample(join(root, 'src'), join(root, 'images'), {
        version: '1.0.0',
      })
      // boot: the sample image behind a wrapper that runs the attack first.
      const evil = join(root, 'evil')
      execFileSync('cp', ['-r', join(root, 'src', 'web-1.0.0-healthy'), evil])
      execFileSync('mv', [join(evil, 'boot'), join(evil, 'web')])
      writeFileSync(
        join(evil, 'boot'),
        `#!/bin/sh\n(${ATTACK}) > "$OSROLL_DATA_DISK_0/boot.out" 2>&1\nexec ./web\n`,
        { mode: 0o755 },
      )
      const digest = await importArtifact(pathToFileURL(evil).href, join(root, 'images'))
      const customData = Buffer.from(`#!/bin/sh\n(${ATTACK}) > "$OSROLL_DATA_DISK_0/cd.out" 2>&1\n`)
      const model = fabricModel({
        scaleSetKey: '/s/attack',
        customData: customData.toString('base64'),
        extensions: [script('attack', { commandToExecute: ATTACK })],
      })
      await fabric.createInstances(model, [
        {
          instanceId: '0',
          zone: null,
          updateDomain: 0,
          faultDomain: 0,
          image: { ...image, sourceUri: `cas:${digest}` },
        },
        { instanceId: '1', zone: null, updateDomain: 1, faultDomain: 0, image },
      ])
      const views = await until(fabric, '/s/attack', (v) =>
        v.every((x) => x.provisioning === 'succeeded'),
      )
      const message = views[0]!.extensions[0]!.message
      const data = join(root, 'instances')
      const outs = [message]
      for (const f of ['boot.out', 'cd.out']) {
        const set = execFileSync('ls', [data]).toString().trim()
        outs.push(readFileSync(join(data, set, '0', 'data', 'lun0', f), 'utf8'))
      }
      for (const out of outs) {
        expect(out).not.toContain(SECRET)
        expect(out).not.toMatch(/READ-TOKEN|READ-DB|READ-TLS|SAW-OTHER|WROTE-OUT/)
        const uid = Number(/^\s*(?:Enable succeeded: )?(\d+)/m.exec(out)?.[1])
        expect(uid).toBeGreaterThan(0)
      }
      expect(existsSync(join(root, 'escaped'))).toBe(false)
      await fabric.deleteInstances('/s/attack', ['0', '1'])
    },
  )

  it('fileUris cannot fetch a loopback secret or file:// the token, and credentials never show', async () => {
    const dir = mkdtempSync(join(root, 'ext-'))
    const r = await runExtensions({
      dir,
      env: { PATH: '/usr/bin:/bin' },
      budgetMs: 20_000,
      logFile: join(dir, 'log'),
      extensions: [
        script('ssrf', { fileUris: [`${base}/secret`], commandToExecute: 'cat secret' }),
        script('v6', {
          fileUris: [`http://[::ffff:127.0.0.1]:${base.split(':')[2]}/s`],
          commandToExecute: 'cat s',
        }),
        script('file', {
          fileUris: [pathToFileURL(join(root, 'token')).href],
          commandToExecute: 'cat token',
        }),
        script('creds', {
          fileUris: ['http://user:hunter2pass@127.0.0.1:9/x.sh?sv=1&sig=SAS-SIGNATURE-XYZ'],
          commandToExecute: 'true',
        }),
      ],
    })
    expect(r.extensions.map((e) => e.state)).toEqual(['failed', 'failed', 'failed', 'failed'])
    expect(r.extensions[0]!.message).toMatch(/loopback, link-local or unspecified/)
    expect(r.extensions[1]!.message).toMatch(/loopback, link-local or unspecified/)
    expect(r.extensions[2]!.message).toMatch(/--file-uri-roots/)
    const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : ''
    const all = JSON.stringify(r) + log
    expect(all).not.toContain(SECRET)
    expect(all).not.toMatch(/hunter2pass|SAS-SIGNATURE-XYZ|user:/)
    expect(r.extensions[3]!.message).toContain("'http://***@127.0.0.1:9/x.sh?***'")
  })

  it('an extension named ../../../../tmp/x is refused and writes nothing outside', async () => {
    const dir = mkdtempSync(join(root, 'ext-'))
    const name = `../../../../${root.slice(1)}/outside`
    const r = await runExtensions({
      dir,
      env: { PATH: '/usr/bin:/bin' },
      budgetMs: 10_000,
      logFile: join(dir, 'log'),
      extensions: [script(name, { commandToExecute: 'touch made' })],
    })
    expect(r.extensions[0]).toMatchObject({ state: 'failed' })
    expect(r.extensions[0]!.message).toMatch(/cannot name its folder/)
    expect(existsSync(join(root, 'outside'))).toBe(false)
  })

  it('refuses chained symlinks that leave the artifact, in a tar and in a directory', async () => {
    const d = mkdtempSync(join(root, 'chain-'))
    writeFileSync(join(d, 'boot'), '#!/bin/sh\n', { mode: 0o755 })
    chmodSync(join(d, 'boot'), 0o755)
    mkdirSync(join(d, 'a', 'b'), { recursive: true })
    symlinkSync('../..', join(d, 'a', 'b', 'q'))
    symlinkSync('a/b/q/../..', join(d, 'up2'))
    const file = join(root, 'chain.tar')
    execFileSync('/usr/bin/tar', ['-cf', file, '-C', d, 'boot', 'a', 'up2'])
    for (const uri of [pathToFileURL(file).href, pathToFileURL(d).href])
      await expect(importArtifact(uri, join(root, 'cas2'))).rejects.toMatchObject({
        code: 'InvalidParameter',
        message: expect.stringMatching(/link 'up2' points outside it/),
      })
    // a link inside is kept
    rmSync(join(d, 'up2'))
    await expect(importArtifact(pathToFileURL(d).href, join(root, 'cas2'))).resolves.toMatch(
      /^sha256-/,
    )
  })
})
