/**
 * Request bodies (issue 15, audit findings 11 and 13): nesting depth and string length limited
 * at parse time (400, never 500, nothing stored), tags by ARM's limits, and customData, which is
 * write-only: stored and used, never in a GET, list, PUT or PATCH response.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness } from '../../test-support/api-harness.js'
import type { Call } from '../../test-support/api-harness.js'
import { jsonLimitProblem, jsonSyntaxPosition } from '../../src/api/json-body.js'
import { scaleSetId } from '../../src/arm/arm.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
let sub: string
const sets = () =>
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets`
const setPath = (name: string) => `${sets()}/${name}`
const lbPath = (name: string) =>
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/${name}`
const galPath = (name: string) =>
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/galleries/${name}`
const sfPath = (name: string) =>
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ServiceFabric/clusters/${name}`
const setBody = (extra: Record<string, unknown> = {}, osProfile: Record<string, unknown> = {}) => ({
  location: 'westus',
  sku: { capacity: 1 },
  ...extra,
  properties: {
    upgradePolicy: { mode: 'Manual' },
    virtualMachineProfile: {
      osProfile: { computerNamePrefix: 'web', ...osProfile },
      storageProfile: {
        imageReference: {
          publisher: 'Canonical',
          offer: 'UbuntuServer',
          sku: '18.04-LTS',
          version: 'latest',
        },
      },
    },
  },
})
const lists = async () => {
  const all = await call(
    'GET',
    `/subscriptions/${sub}/providers/Microsoft.Compute/virtualMachineScaleSets`,
  )
  const rg = await call('GET', sets())
  expect([all.status, rg.status]).toEqual([200, 200])
  // Ids and ETags: what a write changes (provisioningState moves on by itself).
  return JSON.stringify([all.body, rg.body].map((b) => b.value.map((v: any) => [v.id, v.etag])))
}

beforeAll(async () => {
  h = await apiHarness()
  call = h.call
  sub = h.sub
  const img = await call(
    'PUT',
    `/subscriptions/${sub}/providers/Microsoft.Compute/locations/westus/publishers/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions/1.0.0`,
    { body: { location: 'westus', properties: { source: { uri: 'sim:?boot=0' } } } },
  )
  expect(img.status).toBe(201)
  expect((await call('PUT', setPath('base'), { body: setBody() })).status).toBe(201)
})
afterAll(() => h.close())

describe('JSON nesting and string limits at parse time (finding 13)', () => {
  const deep = (n: number, open: string, close: string, inner = '1') =>
    `${open.repeat(n)}${inner}${close.repeat(n)}`
  it.each([
    ['100,000-deep arrays', deep(100_000, '[', ']')],
    ['100,000-deep objects', deep(100_000, '{"a":', '}')],
    ['a 4,112-deep tags value', `{"location":"westus","tags":{"t":${deep(4112, '[', ']')}}}`],
    ['65 levels in all', JSON.stringify(setBody({ x: JSON.parse(deep(64, '{"a":', '}')) }))],
  ])(
    'refuses %s with 400 InvalidRequestContent; nothing stored, lists still answer',
    async (_what, body) => {
      const before = await lists()
      for (const path of [setPath('deep'), lbPath('deep'), galPath('deep'), sfPath('deep')]) {
        const r = await call('PUT', path, { body })
        expect(r.status, r.body?.error?.message).toBe(400)
        expect(r.body.error.code).toBe('InvalidRequestContent')
        expect(r.body.error.message).toMatch(/deeper than 64 levels/)
        expect((await call('GET', path)).status).toBe(404)
      }
      expect(await lists()).toBe(before)
    },
  )

  it('accepts 64 levels, and brackets inside strings do not count', async () => {
    const settings = JSON.parse(deep(60, '{"a":', '}', '"[[[[{{{{"'))
    const body = setBody({ tags: { brackets: '['.repeat(200) } })
    ;(body.properties.virtualMachineProfile as any).osProfile.linuxConfiguration = settings
    const r = await call('PUT', setPath('nested'), { body })
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(201)
    expect(jsonLimitProblem(deep(64, '[', ']'))).toBeUndefined()
    expect(jsonLimitProblem(deep(65, '[', ']'))).toMatch(/deeper than 64/)
    expect(jsonLimitProblem('"\\"[[[[["')).toBeUndefined() // an escaped quote does not end the string
  })

  it('refuses a string longer than 256 KiB (400), nothing stored', async () => {
    const before = await lists()
    const r = await call('PUT', setPath('long'), {
      body: setBody({ tags: { a: 'b' } }, { adminUsername: 'x'.repeat(256 * 1024 + 1) }),
    })
    expect(r).toMatchObject({ status: 400, body: { error: { code: 'InvalidRequestContent' } } })
    expect(r.body.error.message).toMatch(/longer than 262144 characters/)
    expect(await lists()).toBe(before)
  })

  it('still refuses __proto__ members, malformed and empty bodies as before', async () => {
    const proto = await call('PUT', setPath('proto'), {
      body: '{"__proto__":{"p":1},"location":"westus"}',
    })
    expect(proto.status).toBe(400)
    expect(({} as Record<string, unknown>)['p']).toBeUndefined()
    expect((await call('PUT', setPath('bad'), { body: '{"location":' })).body.error.code).toBe(
      'InvalidRequestContent',
    )
  })
})

describe('tags follow ARM limits', () => {
  const cases: [string, unknown, string][] = [
    [
      '51 tags',
      Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, 'v'])),
      'InvalidTag',
    ],
    ['a 513-character name', { ['k'.repeat(513)]: 'v' }, 'InvalidTag'],
    ['a 257-character value', { k: 'v'.repeat(257) }, 'InvalidTag'],
    ['a reserved character in a name', { 'a/b': 'v' }, 'InvalidTagNameCharacters'],
    ['a control character in a name', { 'a\nb': 'v' }, 'InvalidTagNameCharacters'],
    ['a value that is not a string', { k: { nested: 'x' } }, 'InvalidRequestContent'],
    ['tags that are not an object', ['a'], 'InvalidRequestContent'],
  ]
  it.each(cases)('refuses %s on every resource type; nothing stored', async (_what, tags, code) => {
    const before = await lists()
    for (const [path, body] of [
      [setPath('tagged'), setBody({ tags })],
      [lbPath('tagged'), { location: 'westus', tags }],
      [galPath('tagged'), { location: 'westus', tags }],
      [sfPath('tagged'), { location: 'westus', tags }],
    ] as const) {
      const r = await call('PUT', path, { body })
      expect(r.status).toBe(400)
      expect(r.body.error.code).toBe(code)
      expect((await call('GET', path)).status).toBe(404)
    }
    expect(await lists()).toBe(before)
  })

  it('accepts 50 tags with a 512-character name and a 256-character value', async () => {
    const tags = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`t${i}`, 'v']))
    tags['k'.repeat(512)] = 'v'.repeat(256)
    const r = await call('PUT', setPath('tagged'), { body: setBody({ tags }) })
    expect(r.status).toBe(201)
    expect(Object.keys(r.body.tags)).toHaveLength(50)
    const merged = await call('PATCH', setPath('tagged'), {
      body: { tags: { ...tags, extra: 'x' } },
    })
    expect(merged).toMatchObject({ status: 400, body: { error: { code: 'InvalidTag' } } })
  })
})

describe('customData is write-only (finding 11)', () => {
  const data = Buffer.from('#!/bin/sh\necho secret-token-123\n').toString('base64')
  const hasCustomData = (v: unknown) =>
    JSON.stringify(v).includes('customData') || JSON.stringify(v).includes(data)

  it('is absent from PUT, PATCH, GET, list and instance responses, yet stored and used', async () => {
    const put = await call('PUT', setPath('cd'), { body: setBody({}, { customData: data }) })
    expect(put.status).toBe(201)
    expect(hasCustomData(put.body)).toBe(false)
    const patch = await call('PATCH', setPath('cd'), { body: { sku: { capacity: 2 } } })
    expect(patch.status).toBe(200)
    expect(hasCustomData(patch.body)).toBe(false)
    expect(hasCustomData((await call('GET', setPath('cd'))).body)).toBe(false)
    expect(hasCustomData((await call('GET', sets())).body)).toBe(false)
    expect(
      hasCustomData(
        (await call('GET', `${setPath('cd')}/virtualMachines?$expand=instanceView`)).body,
      ),
    ).toBe(false)
    // Still stored, and still what the fabric runs (a PATCH without it keeps it).
    const id = scaleSetId(sub, 'rg', 'cd')
    const stored = await h.sys.deps.store.getResource(id)
    expect((stored?.body as any).properties.virtualMachineProfile.osProfile.customData).toBe(data)
    expect((await h.sys.deps.store.getScaleSet(id.toLowerCase()))?.fabricModel.customData).toBe(
      data,
    )
  })
})

describe('where JSON parsing stops', () => {
  it('names the character, line and column, and nothing for valid JSON', () => {
    expect(jsonSyntaxPosition('{"a": [1, 2], "b": {"c": "d\\n"}}')).toBeUndefined()
    expect(jsonSyntaxPosition('{"a": }')).toEqual({ position: 6, line: 1, column: 7 })
    expect(jsonSyntaxPosition('{\n  "a": 1,\n  "b" 2\n}')).toEqual({
      position: 18,
      line: 3,
      column: 7,
    })
    expect(jsonSyntaxPosition('[1, 2')).toEqual({ position: 5, line: 1, column: 6 })
    expect(jsonSyntaxPosition('{"a": 1} x')).toEqual({ position: 9, line: 1, column: 10 })
    expect(jsonSyntaxPosition('"\\q"')).toEqual({ position: 2, line: 1, column: 3 })
  })
})
