/**
 * The local fabric with real processes (issue 4): the shared Fabric contract, then what only
 * real instances show — data disks across reimages, a process that dies, re-adoption after the
 * control plane goes away, and artifacts that must be refused.
 */
import {
  chmodSync,
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
import { afterAll, describe, expect, it } from 'vitest'
import * as tar from 'tar'
import { runFabricContract } from '../fabric.contract.js'
import type { InstanceView } from '../types/fabric.js'
import { LocalFabric } from './local-fabric.js'
import { MemoryLocalState } from './local-state.js'
import { importArtifact } from '../host/artifacts.js'
import { isAlive } from '../host/processes.js'
import { Prober } from '../../health/prober.js'
import { fabricModel } from '../../../test-support/builders.js'
import { importedSample } from '../../../test-support/sample-images.js'

const roots: string[] = []
const cleanups: (() => Promise<void>)[] = []
afterAll(async () => {
  for (const c of cleanups) await c()
  for (const r of roots) rmSync(r, { recursive: true, force: true })
})

let slice = 0
async function harness(o: { state?: MemoryLocalState; root?: string } = {}) {
  const root = o.root ?? mkdtempSync(join(tmpdir(), 'osroll-local-'))
  roots.push(root)
  const prober = new Prober({ tickMs: 20 })
  const state = o.state ?? new MemoryLocalState()
  const fabric = new LocalFabric({
    rootDir: join(root, 'instances'),
    casDir: join(root, 'images'),
    state,
    prober,
    addressStart: 40_000 + 64 * slice++,
    stopGraceMs: 2000,
  })
  const model = fabricModel({
    healthSource: 'probe',
    healthCheck: {
      protocol: 'http',
      port: 8080,
      requestPath: '/health',
      intervalMs: 200,
      threshold: 1,
      mode: 'binary',
      gracePeriodMs: 0,
    },
  })
  const images = {
    v1: await importedSample(join(root, 'src'), join(root, 'images'), { version: '1.0.0' }),
    v2: await importedSample(join(root, 'src'), join(root, 'images'), { version: '1.1.0' }),
    broken: await importedSample(join(root, 'src'), join(root, 'images'), {
      version: '1.2.0',
      health: 'unhealthy',
    }),
  }
  const until = async (check: (v: readonly InstanceView[]) => boolean, what: string) => {
    for (let i = 0; i < 300; i++) {
      const views = await fabric.listInstances(model.scaleSetKey)
      if (check(views)) return views
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(
      `local fabric never reached: ${what}; last: ${JSON.stringify(await fabric.listInstances(model.scaleSetKey))}`,
    )
  }
  const close = async () => {
    const views = await fabric.listInstances(model.scaleSetKey)
    await fabric.deleteInstances(
      model.scaleSetKey,
      views.map((v) => v.instanceId),
    )
    prober.close()
  }
  cleanups.push(close)
  return { fabric, model, images, until, close, root, state, prober }
}

runFabricContract('local', () => harness())

describe('local fabric', () => {
  it(
    'keeps data disks and the address across reimage and rollback; the old version serves again',
    { timeout: 30_000 },
    async () => {
      const h = await harness()
      await h.fabric.createInstances(h.model, [
        { instanceId: '0', zone: null, updateDomain: 0, faultDomain: 0, image: h.images.v1 },
      ])
      const [first] = await h.until((v) => v[0]?.health === 'healthy', 'healthy on v1')
      const answer = async () => (await fetch(`http://${first!.privateIp}:8080/`)).text()
      expect(await answer()).toContain('runs image 1.0.0; boot 1')
      await h.fabric.reimage(h.model, ['0'], h.images.broken)
      await h.until(
        (v) => v[0]?.osImageVersion === '1.2.0' && v[0].health === 'unhealthy',
        'unhealthy on the broken image',
      )
      await h.fabric.restore(h.model.scaleSetKey, ['0'])
      const [back] = await h.until(
        (v) => v[0]?.osImageVersion === '1.0.0' && v[0].health === 'healthy',
        'back on v1',
      )
      expect(back!.privateIp).toBe(first!.privateIp)
      expect(back!.dataDisks).toEqual(first!.dataDisks)
      expect(await answer()).toContain('runs image 1.0.0; boot 3') // the data disk counted three boots
    },
  )

  it(
    'boots the sample image even when the data dir lies inside an ESM package',
    { timeout: 30_000 },
    async () => {
      const outer = mkdtempSync(join(tmpdir(), 'osroll-esm-'))
      roots.push(outer)
      writeFileSync(join(outer, 'package.json'), '{"type":"module"}') // like ./.osroll inside this repo
      const h = await harness({ root: join(outer, 'data') })
      await h.fabric.createInstances(h.model, [
        { instanceId: '0', zone: null, updateDomain: 0, faultDomain: 0, image: h.images.v1 },
      ])
      await h.until((v) => v[0]?.health === 'healthy', 'healthy inside an ESM package')
    },
  )

  it(
    'reports an instance whose process dies as stopped and unhealthy',
    { timeout: 30_000 },
    async () => {
      const h = await harness()
      await h.fabric.createInstances(h.model, [
        { instanceId: '0', zone: null, updateDomain: 0, faultDomain: 0, image: h.images.v1 },
      ])
      await h.until((v) => v[0]?.health === 'healthy', 'healthy')
      const [record] = await h.state.list(h.model.scaleSetKey)
      process.kill(record!.process!.pid, 'SIGKILL')
      await h.until((v) => v[0]?.power === 'stopped' && v[0].health === 'unhealthy', 'stopped')
    },
  )

  it(
    'instances keep running when the control plane goes; a new one re-adopts them and restarts dead ones',
    { timeout: 30_000 },
    async () => {
      const h = await harness()
      await h.fabric.createInstances(h.model, [
        { instanceId: '0', zone: null, updateDomain: 0, faultDomain: 0, image: h.images.v1 },
        { instanceId: '1', zone: null, updateDomain: 1, faultDomain: 1, image: h.images.v1 },
      ])
      const before = await h.until(
        (v) => v.length === 2 && v.every((x) => x.health === 'healthy'),
        'two healthy',
      )
      const [r0, r1] = await h.state.list(h.model.scaleSetKey)
      h.prober.close() // the control plane is gone; the instances are not
      process.kill(r1!.process!.pid, 'SIGKILL') // and one dies meanwhile
      for (let i = 0; i < 100 && isAlive(r1!.process!); i++)
        await new Promise((r) => setTimeout(r, 20))
      expect((await fetch(`http://${before[0]!.privateIp}:8080/`)).status).toBe(200)
      const prober = new Prober({ tickMs: 20 })
      const fabric = new LocalFabric({
        rootDir: join(h.root, 'instances'),
        casDir: join(h.root, 'images'),
        state: h.state,
        prober,
        stopGraceMs: 2000,
      })
      cleanups.push(async () => prober.close())
      expect(await fabric.adopt()).toEqual({ adopted: 1, restarted: 1 })
      const [a0, a1] = await h.state.list(h.model.scaleSetKey)
      expect(a0!.process).toEqual(r0!.process) // the same process, not a new one
      expect(a1!.process!.pid).not.toBe(r1!.process!.pid)
      for (
        let i = 0;
        i < 200 &&
        !(await fabric.listInstances(h.model.scaleSetKey)).every((x) => x.health === 'healthy');
        i++
      )
        await new Promise((r) => setTimeout(r, 50))
      expect((await fabric.listInstances(h.model.scaleSetKey)).map((x) => x.health)).toEqual([
        'healthy',
        'healthy',
      ])
    },
  )

  it(
    'a health port nobody listens on makes a clearly unhealthy instance',
    { timeout: 30_000 },
    async () => {
      const h = await harness()
      const model = { ...h.model, healthCheck: { ...h.model.healthCheck!, port: 9 } }
      await h.fabric.createInstances(model, [
        { instanceId: '0', zone: null, updateDomain: 0, faultDomain: 0, image: h.images.v1 },
      ])
      await h.until((v) => v[0]?.power === 'running' && v[0].health === 'unhealthy', 'unhealthy')
    },
  )
})

describe('image artifacts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'osroll-art-'))
  roots.push(dir)
  const cas = join(dir, 'cas')

  it('imports directories and archives by content; the same content twice is one artifact', async () => {
    const src = join(dir, 'img')
    mkdirSync(src)
    writeFileSync(join(src, 'boot'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })
    const a = await importArtifact(pathToFileURL(src).href, cas)
    await tar.create({ file: join(dir, 'img.tar.gz'), gzip: true, cwd: src }, ['boot'])
    const b = await importArtifact(pathToFileURL(join(dir, 'img.tar.gz')).href, cas)
    expect(a).toMatch(/^sha256-[0-9a-f]{64}$/)
    expect(b).toBe(a)
    writeFileSync(join(src, 'boot'), '#!/bin/sh\nexit 1\n') // later changes do not change the import
    expect(readFileSync(join(cas, a, 'boot'), 'utf8')).toContain('exit 0')
  })

  it.each([
    ['a missing boot', (d: string) => writeFileSync(join(d, 'other'), 'x'), /no 'boot' file/],
    [
      'a boot that is not executable',
      (d: string) => writeFileSync(join(d, 'boot'), '#!/bin/sh\n', { mode: 0o644 }),
      /not executable/,
    ],
    [
      'a link escaping the artifact',
      (d: string) => {
        writeFileSync(join(d, 'boot'), '#!/bin/sh\n', { mode: 0o755 })
        symlinkSync('/etc/passwd', join(d, 'passwd'))
      },
      /points outside/,
    ],
  ])('refuses a directory with %s', async (_name, make, message) => {
    const d = mkdtempSync(join(dir, 'bad-'))
    make(d)
    await expect(importArtifact(pathToFileURL(d).href, cas)).rejects.toMatchObject({
      code: 'InvalidParameter',
      message: expect.stringMatching(message),
    })
  })

  it('refuses archives with ../ paths or absolute links, and sources that are not file://', async () => {
    const d = mkdtempSync(join(dir, 'tar-'))
    writeFileSync(join(d, 'boot'), '#!/bin/sh\n', { mode: 0o755 })
    chmodSync(join(d, 'boot'), 0o755)
    await tar.create(
      {
        file: join(dir, 'climb.tar'),
        cwd: d,
        preservePaths: true,
        onWriteEntry: (e: { path: string }) => {
          e.path = '../evil'
        },
      } as never,
      ['boot'],
    )
    await expect(
      importArtifact(pathToFileURL(join(dir, 'climb.tar')).href, cas),
    ).rejects.toMatchObject({ message: expect.stringMatching(/climbs out|absolute/) })
    symlinkSync('/etc/shadow', join(d, 'shadow'))
    await tar.create({ file: join(dir, 'link.tar'), cwd: d }, ['boot', 'shadow'])
    await expect(
      importArtifact(pathToFileURL(join(dir, 'link.tar')).href, cas),
    ).rejects.toMatchObject({ message: expect.stringMatching(/points outside/) })
    await expect(importArtifact('https://example.invalid/x.tar', cas)).rejects.toMatchObject({
      message: expect.stringMatching(/file:\/\//),
    })
  })
})
