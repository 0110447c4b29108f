/**
 * Custom data and extensions on the local fabric (docs/rollouts.md R8), with real processes and a
 * real HTTP
 * server for fileUris: custom data runs once per new OS disk; Custom Script downloads and runs
 * in dependency order, independent extensions in parallel; a 403 on a fileUri fails the extension, its dependents and provisioning.
 */
import http from 'node:http'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ExtensionModel, InstanceView } from '../types/fabric.js'
import { LocalFabric } from './local-fabric.js'
import { MemoryLocalState } from './local-state.js'
import { Prober } from '../../health/prober.js'
import { fabricModel } from '../../../test-support/builders.js'
import { importedSample } from '../../../test-support/sample-images.js'
import { runExtensions } from './provisioning.js'
import { DEFAULT_DOWNLOAD_POLICY } from '../host/fetch-files.js'

/** These tests' file server is on loopback, which fileUris may reach only when allowed. */
const downloads = { ...DEFAULT_DOWNLOAD_POLICY, allowLocal: true }

const root = mkdtempSync(join(tmpdir(), 'osroll-prov-'))
const prober = new Prober({ tickMs: 20 })
let server: http.Server
let base = ''
beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url?.startsWith('/expired')) {
      res.writeHead(403)
      res.end('AuthenticationFailed: signature expired')
      return
    }
    res.writeHead(200)
    res.end('#!/bin/sh\necho installed-from-http > "$OSROLL_DATA_DISK_0/installed"\n')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})
afterAll(async () => {
  prober.close()
  server.close()
  rmSync(root, { recursive: true, force: true })
})

const script = (
  name: string,
  o: Partial<ExtensionModel> & { settings?: Record<string, unknown> } = {},
): ExtensionModel => ({
  name,
  publisher: 'Microsoft.Azure.Extensions',
  type: 'CustomScript',
  typeHandlerVersion: '2.1',
  settings: {},
  protectedSettings: {},
  provisionAfterExtensions: [],
  suppressFailures: false,
  ...o,
})

async function until(
  f: LocalFabric,
  key: string,
  check: (v: InstanceView) => boolean,
  what: string,
): Promise<InstanceView> {
  for (let i = 0; i < 300; i++) {
    const [v] = await f.listInstances(key)
    if (v && check(v)) return v
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`never ${what}: ${JSON.stringify(await f.listInstances(key))}`)
}

describe('local provisioning', () => {
  it(
    'custom data runs once per new OS disk; extensions run in order with the instance environment',
    { timeout: 30_000 },
    async () => {
      const fabric = new LocalFabric({
        rootDir: join(root, 'a'),
        casDir: join(root, 'cas'),
        state: new MemoryLocalState(),
        prober,
        addressStart: 50_000,
        stopGraceMs: 2000,
        downloads,
      })
      const v1 = await importedSample(join(root, 'src'), join(root, 'cas'), { version: '1.0.0' })
      const v2 = await importedSample(join(root, 'src'), join(root, 'cas'), { version: '1.1.0' })
      const customData = Buffer.from(
        '#!/bin/sh\necho "custom $OSROLL_IMAGE_VERSION" >> "$OSROLL_DATA_DISK_0/custom.log"\n',
      ).toString('base64')
      const model = fabricModel({
        scaleSetKey: '/s/prov',
        customData,
        extensions: [
          script('second', {
            provisionAfterExtensions: ['first'],
            settings: { commandToExecute: 'echo second >> "$OSROLL_DATA_DISK_0/order"' },
          }),
          script('first', {
            settings: {
              fileUris: [`${base}/install.sh`],
              commandToExecute: 'sh install.sh && echo first >> "$OSROLL_DATA_DISK_0/order"',
            },
          }),
        ],
      })
      await fabric.createInstances(model, [
        { instanceId: '0', zone: null, updateDomain: 0, faultDomain: 0, image: v1 },
      ])
      const v = await until(fabric, '/s/prov', (x) => x.provisioning === 'succeeded', 'provisioned')
      expect(v.extensions.map((e) => [e.name, e.state])).toEqual([
        ['second', 'succeeded'],
        ['first', 'succeeded'],
      ])
      const disk = join(root, 'a')
      const files = (name: string) => readFileSync(findData(disk, name), 'utf8')
      expect(files('order')).toBe('first\nsecond\n')
      expect(files('installed')).toBe('installed-from-http\n')
      expect(files('custom.log')).toBe('custom 1.0.0\n')
      await fabric.reimage(model, ['0'], v2)
      await until(
        fabric,
        '/s/prov',
        (x) => x.osImageVersion === '1.1.0' && x.provisioning === 'succeeded',
        'reprovisioned',
      )
      expect(files('custom.log')).toBe('custom 1.0.0\ncustom 1.1.0\n') // again on the new disk
      expect(files('order')).toBe('first\nsecond\nfirst\nsecond\n')
      await fabric.restore('/s/prov', ['0'])
      await until(
        fabric,
        '/s/prov',
        (x) => x.osImageVersion === '1.0.0' && x.provisioning === 'succeeded',
        'restored',
      )
      expect(files('custom.log')).toBe('custom 1.0.0\ncustom 1.1.0\n') // not again on the old disk
      await fabric.deleteInstances('/s/prov', ['0'])
    },
  )

  it(
    'an instance whose Custom Script fileUri answers 403 reports failed provisioning, and is unhealthy',
    { timeout: 30_000 },
    async () => {
      const fabric = new LocalFabric({
        rootDir: join(root, 'b'),
        casDir: join(root, 'cas'),
        state: new MemoryLocalState(),
        prober,
        addressStart: 50_100,
        stopGraceMs: 2000,
        downloads,
      })
      const v1 = await importedSample(join(root, 'src'), join(root, 'cas'), { version: '1.0.0' })
      const model = fabricModel({
        scaleSetKey: '/s/expired',
        extensions: [
          script('fetch', {
            protectedSettings: {
              fileUris: [`${base}/expired/setup.sh?sv=2020&sig=abc`],
              commandToExecute: 'sh setup.sh',
            },
          }),
        ],
      })
      await fabric.createInstances(model, [
        { instanceId: '0', zone: null, updateDomain: 0, faultDomain: 0, image: v1 },
      ])
      const v = await until(
        fabric,
        '/s/expired',
        (x) => x.provisioning === 'failed',
        'failed provisioning',
      )
      expect(v.provisioningError).toContain("processing extension 'fetch'")
      expect(v.provisioningError).toContain('HTTP 403')
      expect(v.extensions).toMatchObject([{ name: 'fetch', state: 'failed' }])
      await fabric.deleteInstances('/s/expired', ['0'])
    },
  )

  it('a fileUri answering 403 fails the extension, its dependents and provisioning; suppressFailures does not', async () => {
    const dir = mkdtempSync(join(root, 'ext-'))
    const r = await runExtensions({
      dir,
      env: { PATH: process.env['PATH'] ?? '' },
      budgetMs: 10_000,
      logFile: join(dir, 'log'),
      downloads,
      extensions: [
        script('fetch', {
          settings: {
            fileUris: [`${base}/expired/install.sh?sig=SECRET`],
            commandToExecute: 'sh install.sh',
          },
        }),
        script('after', {
          provisionAfterExtensions: ['fetch'],
          settings: { commandToExecute: 'true' },
        }),
        script('optional', { suppressFailures: true, settings: { commandToExecute: 'exit 3' } }),
      ],
    })
    expect(r.extensions.map((e) => [e.name, e.state])).toEqual([
      ['fetch', 'failed'],
      ['after', 'failed'],
      ['optional', 'failed'],
    ])
    expect(r.extensions[0]!.message).toContain('HTTP 403')
    expect(r.extensions[0]!.message).not.toContain('SECRET')
    expect(r.extensions[1]!.message).toBe(
      "VM Extension 'after' is marked as failed since it depends upon the VM Extension 'fetch' which has failed.",
    )
    expect(r.error).toContain("VM has reported a failure when processing extension 'fetch'")
    const onlyOptional = await runExtensions({
      dir,
      env: {},
      budgetMs: 10_000,
      logFile: join(dir, 'log'),
      extensions: [
        script('optional', { suppressFailures: true, settings: { commandToExecute: 'exit 3' } }),
      ],
    })
    expect(onlyOptional.error).toBeNull()
  })

  it('the error names the root-cause extension, not a dependent listed before it (issue 18, gap 8)', async () => {
    const dir = mkdtempSync(join(root, 'ext-'))
    const r = await runExtensions({
      dir,
      env: { PATH: process.env['PATH'] ?? '' },
      budgetMs: 10_000,
      logFile: join(dir, 'log'),
      extensions: [
        script('app', {
          provisionAfterExtensions: ['setup'],
          settings: { commandToExecute: 'true' },
        }),
        script('setup', { settings: { commandToExecute: 'exit 7' } }),
      ],
    })
    expect(r.extensions.map((e) => [e.name, e.state])).toEqual([
      ['app', 'failed'],
      ['setup', 'failed'],
    ])
    expect(r.error).toContain("VM has reported a failure when processing extension 'setup'")
  })

  it('extensions with no ordering between them run in parallel; a dependent waits for both', async () => {
    const dir = mkdtempSync(join(root, 'ext-'))
    // Each of the two waits (up to 10 s) for the other's marker: run one after the other, the
    // first would time out and fail. The third must see both markers when it starts.
    const waitFor = (mine: string, other: string) =>
      `touch ../${mine}.started; i=0; while [ ! -f ../${other}.started ]; do i=$((i+1)); [ $i -gt 200 ] && exit 7; sleep 0.05; done; touch ../${mine}.done`
    const r = await runExtensions({
      dir,
      env: { PATH: process.env['PATH'] ?? '' },
      budgetMs: 30_000,
      logFile: join(dir, 'log'),
      extensions: [
        script('last', {
          provisionAfterExtensions: ['left', 'right'],
          settings: { commandToExecute: 'test -f ../left.done && test -f ../right.done' },
        }),
        script('left', { settings: { commandToExecute: waitFor('left', 'right') } }),
        script('right', { settings: { commandToExecute: waitFor('right', 'left') } }),
      ],
    })
    expect(r.extensions.map((e) => [e.name, e.state])).toEqual([
      ['last', 'succeeded'],
      ['left', 'succeeded'],
      ['right', 'succeeded'],
    ])
    expect(r.error).toBeNull()
  })

  it('an unreachable fileUri or a command past the time budget fails clearly', async () => {
    const dir = mkdtempSync(join(root, 'ext-'))
    const local = join(dir, 'present.sh')
    writeFileSync(local, 'exit 0\n')
    const r = await runExtensions({
      dir,
      env: { PATH: process.env['PATH'] ?? '' },
      budgetMs: 1_000,
      logFile: join(dir, 'log'),
      downloads: { ...downloads, fileRoots: [dir] },
      extensions: [
        script('missing', {
          settings: { fileUris: ['http://127.0.0.1:9/nothing.sh'], commandToExecute: 'true' },
        }),
        script('slow', {
          settings: { fileUris: [pathToFileURL(local).href], commandToExecute: 'sleep 5' },
        }),
      ],
    })
    expect(r.extensions[0]!.message).toMatch(/Failed to download file/)
    expect(r.extensions[1]!.message).toMatch(/did not finish within 1 s/)
  })
})

/** The data disk file of the only instance under `root`. */
function findData(rootDir: string, name: string): string {
  for (const set of readdirSync(rootDir)) return join(rootDir, set, '0', 'data', 'lun0', name)
  throw new Error('no instance')
}
