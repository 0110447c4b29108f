/**
 * `Retry-After` on the operation status resource (docs/api.md): present, in whole seconds,
 * while the operation runs, with or without `monitor=true`; absent once it has finished.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import type { Call } from '../../test-support/api-harness.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
let sub: string
const setPath = (name: string) =>
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`
const img = (v: string) =>
  `/subscriptions/${sub}/providers/Microsoft.Compute/locations/westus/publishers/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/slow/versions/${v}`

beforeAll(async () => {
  h = await apiHarness()
  call = h.call
  sub = h.sub
  // Instances take 2 s to boot, so the create operation is seen in progress.
  const r = await call('PUT', img('1.0.0'), {
    body: { location: 'westus', properties: { source: { uri: 'sim:?boot=2' } } },
  })
  expect(r.status).toBeLessThan(300)
})
afterAll(() => h.close())

describe('Retry-After on operation status', () => {
  it('answers Retry-After ≥ 1 while InProgress, and none once Succeeded', async () => {
    const put = await call('PUT', setPath('slow'), {
      body: {
        location: 'westus',
        sku: { capacity: 2 },
        properties: {
          upgradePolicy: { mode: 'Manual' },
          virtualMachineProfile: {
            storageProfile: {
              imageReference: {
                publisher: 'Canonical',
                offer: 'UbuntuServer',
                sku: 'slow',
                version: 'latest',
              },
            },
          },
        },
      },
    })
    expect(put.status).toBe(201)
    expect(put.headers['retry-after']).toBe('1')
    const op = String(put.headers['azure-asyncoperation']).replace(/^http:\/\/[^/]+/, '')

    const running = await call('GET', op, { apiVersion: null })
    expect(running.body.status).toBe('InProgress')
    expect(running.headers['retry-after']).toMatch(/^[1-9]\d*$/)
    const monitor = await call('GET', `${op}&monitor=true`, { apiVersion: null })
    expect(monitor.status).toBe(202)
    expect(Number(monitor.headers['retry-after'])).toBeGreaterThanOrEqual(1)

    await waitFor(
      async () => (await call('GET', op, { apiVersion: null })).body.status === 'Succeeded',
      'create operation',
    )
    const done = await call('GET', op, { apiVersion: null })
    expect(done.headers['retry-after']).toBeUndefined()
    const doneMonitor = await call('GET', `${op}&monitor=true`, { apiVersion: null })
    expect(doneMonitor.status).toBe(200)
    expect(doneMonitor.headers['retry-after']).toBeUndefined()
  })
})
