/**
 * Issue 15: file:// image sources (platform image publish and gallery image versions) are read
 * only from the operator's `--image-source-roots` (default: the system temp dir and
 * `{data-dir}/sources`, what the README quick start and `osroll demo` publish from), never from
 * the data dir itself, and a symbolic link under a root cannot lead out of it. A refusal is an
 * ARM 400 that names the option, and nothing is published.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, type Call } from '../../test-support/api-harness.js'
import { armPaths, imageBody } from '../../test-support/arm-fixtures.js'
import { sampleImage } from '../../test-support/sample-images.js'

const work = mkdtempSync(join(tmpdir(), 'osroll-image-sources-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const gallery = (sub: string) =>
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal`
const galleryVersion = (uri: string) => ({
  location: 'westus',
  properties: {
    publishingProfile: { targetRegions: [{ name: 'westus' }] },
    storageProfile: { osDiskImage: { source: { uri } } },
  },
})

async function versions(call: Call, sub: string): Promise<string> {
  const platform = await call('GET', armPaths(sub).image('').replace(/\/$/, ''))
  const gal = await call('GET', `${gallery(sub)}/images/web/versions`)
  return JSON.stringify([platform.status, platform.body, gal.status, gal.body])
}

async function setUpGallery(call: Call, sub: string): Promise<void> {
  expect((await call('PUT', gallery(sub), { body: { location: 'westus' } })).status).toBe(201)
  const def = await call('PUT', `${gallery(sub)}/images/web`, {
    body: {
      location: 'westus',
      properties: { osType: 'Linux', identifier: { publisher: 'me', offer: 'web', sku: '1' } },
    },
  })
  expect(def.status).toBe(201)
}

describe('with --image-source-roots set to one directory', () => {
  let h: Awaited<ReturnType<typeof apiHarness>>
  const root = join(work, 'root')
  const outside = join(work, 'outside')
  beforeAll(async () => {
    mkdirSync(root)
    mkdirSync(outside)
    h = await apiHarness({ fabric: 'local', config: { imageSourceRoots: root } })
    await setUpGallery(h.call, h.sub)
  })
  afterAll(() => h.close())

  it('publishes from under the root', async () => {
    const uri = sampleImage(root, { version: '1.0.0' })
    const r = await h.call('PUT', armPaths(h.sub).image('1.0.0'), { body: imageBody(uri) })
    expect(r.status, JSON.stringify(r.body)).toBe(201)
  })

  it.each([
    ['a directory outside the root', () => sampleImage(outside, { version: '2.0.0' })],
    [
      'a symbolic link under the root to a directory outside it',
      () => {
        const target = sampleImage(outside, { version: '2.0.1' })
        const link = join(root, 'link-out')
        symlinkSync(new URL(target).pathname, link)
        return pathToFileURL(link).href
      },
    ],
    ['a path climbing out of the root', () => `${pathToFileURL(root).href}/../outside`],
    ['the filesystem root', () => 'file:///'],
  ])('refuses %s, for platform images and gallery versions alike', async (_, make) => {
    const uri = make()
    const before = await versions(h.call, h.sub)
    const platform = await h.call('PUT', armPaths(h.sub).image('2.0.0'), { body: imageBody(uri) })
    expect(platform.status).toBe(400)
    expect(platform.body.error).toMatchObject({
      code: 'InvalidParameter',
      target: 'properties.source.uri',
    })
    expect(platform.body.error.message).toContain('--image-source-roots')
    const gal = await h.call('PUT', `${gallery(h.sub)}/images/web/versions/2.0.0`, {
      body: galleryVersion(uri),
    })
    expect(gal.status).toBe(400)
    expect(gal.body.error.message).toContain('--image-source-roots')
    expect(await versions(h.call, h.sub)).toBe(before)
  })
})

describe('with the default roots (the temp dir and {data-dir}/sources)', () => {
  let h: Awaited<ReturnType<typeof apiHarness>>
  const dataDir = join(work, 'data')
  beforeAll(async () => {
    mkdirSync(dataDir)
    h = await apiHarness({ fabric: 'local', config: { dataDir } })
    await setUpGallery(h.call, h.sub)
  })
  afterAll(() => h.close())

  it('publishes from the temp dir (the README quick start) and {data-dir}/sources (osroll demo)', async () => {
    const quickStart = sampleImage(join(work, 'quick'), { version: '1.0.0' })
    const r1 = await h.call('PUT', armPaths(h.sub).image('1.0.0'), { body: imageBody(quickStart) })
    expect(r1.status, JSON.stringify(r1.body)).toBe(201)
    const demo = sampleImage(join(dataDir, 'sources'), { version: '1.1.0' })
    const r2 = await h.call('PUT', armPaths(h.sub).image('1.1.0'), { body: imageBody(demo) })
    expect(r2.status, JSON.stringify(r2.body)).toBe(201)
    const g = await h.call('PUT', `${gallery(h.sub)}/images/web/versions/1.0.0`, {
      body: galleryVersion(quickStart),
    })
    expect(g.status, JSON.stringify(g.body)).toBe(201)
  })

  it.each([
    ['the data dir itself', () => sampleImage(dataDir, { version: '3.0.0' })],
    ['its instances folder', () => sampleImage(join(dataDir, 'instances'), { version: '3.0.1' })],
    [
      'a link in the temp dir into the data dir',
      () => {
        const link = join(work, 'link-to-data')
        symlinkSync(dataDir, link)
        return pathToFileURL(link).href
      },
    ],
    ['a directory outside the roots', () => 'file:///usr/bin'],
  ])('refuses %s', async (_, make) => {
    const uri = make()
    const before = await versions(h.call, h.sub)
    const r = await h.call('PUT', armPaths(h.sub).image('3.0.0'), { body: imageBody(uri) })
    expect(r.status, JSON.stringify(r.body)).toBe(400)
    expect(r.body.error.code).toBe('InvalidParameter')
    expect(r.body.error.message).toMatch(/data dir|--image-source-roots/)
    const gal = await h.call('PUT', `${gallery(h.sub)}/images/web/versions/3.0.0`, {
      body: galleryVersion(uri),
    })
    expect(gal.status).toBe(400)
    expect(await versions(h.call, h.sub)).toBe(before)
  })
})

describe('with --image-source-roots empty', () => {
  it('refuses every file:// source and says why', async () => {
    const h = await apiHarness({ fabric: 'local', config: { imageSourceRoots: '' } })
    try {
      const uri = sampleImage(join(work, 'none'), { version: '1.0.0' })
      const before = await versions(h.call, h.sub)
      const r = await h.call('PUT', armPaths(h.sub).image('1.0.0'), { body: imageBody(uri) })
      expect(r.status).toBe(400)
      expect(r.body.error.message).toContain('--image-source-roots is empty')
      expect(await versions(h.call, h.sub)).toBe(before)
    } finally {
      await h.close()
    }
  })
})
