/**
 * Enum values are read without regard to case, as Azure's resource providers read them, and are
 * stored and answered in their canonical casing (issue 16 §2). A value that matches nothing is
 * still refused, naming the allowed values in their canonical casing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import { armPaths, autoUpgradeSetBody } from '../../test-support/arm-fixtures.js'
import { canonicalEnum, canonicalEnums, SCALE_SET_ENUMS } from '../../src/core/enums.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let p: ReturnType<typeof armPaths>

beforeAll(async () => {
  h = await apiHarness()
  p = armPaths(h.sub)
})
afterAll(() => h.close())

describe('canonicalEnums (pure)', () => {
  it('rewrites matching values, walks arrays and case-insensitive member names, copies', () => {
    const body = {
      Properties: {
        upgradePolicy: { mode: 'rolling' },
        virtualMachineProfile: {
          storageProfile: { dataDisks: [{ createOption: 'empty' }, { createOption: 'ATTACH' }] },
        },
      },
    }
    const out = canonicalEnums(body, SCALE_SET_ENUMS) as typeof body
    expect(out.Properties.upgradePolicy.mode).toBe('Rolling')
    expect(
      out.Properties.virtualMachineProfile.storageProfile.dataDisks.map((d) => d.createOption),
    ).toEqual(['Empty', 'Attach'])
    expect(body.Properties.upgradePolicy.mode).toBe('rolling')
    expect(canonicalEnum('Sometimes', ['Always', 'Never'])).toBe('Sometimes')
    expect(canonicalEnum(3, ['Always'])).toBe(3)
  })
})

describe('enum values in the API', () => {
  it('platform image, load balancer, probe and scale set accept any casing and answer canonically', async () => {
    const image = await h.call('PUT', p.image('1.0.0'), {
      body: {
        location: 'westus',
        properties: { source: { uri: 'sim:?boot=0' }, osDiskImage: { operatingSystem: 'linux' } },
      },
    })
    expect(image.status).toBe(201)
    expect(image.body.properties.osDiskImage.operatingSystem).toBe('Linux')

    const lb = await h.call('PUT', p.lb, {
      body: {
        location: 'westus',
        sku: { name: 'standard', tier: 'REGIONAL' },
        properties: {
          probes: [
            { name: 'http', properties: { protocol: 'http', port: 80, requestPath: '/' } },
            { name: 'tcp', properties: { protocol: 'TCP', port: 22 } },
          ],
        },
      },
    })
    expect(lb.status).toBe(201)
    const lbBack = (await h.call('GET', p.lb)).body
    expect(lbBack.sku).toEqual({ name: 'Standard', tier: 'Regional' })
    expect(lbBack.properties.probes.map((x: any) => x.properties.protocol)).toEqual(['Http', 'Tcp'])

    const body = autoUpgradeSetBody({
      sub: h.sub,
      capacity: 1,
      probe: 'tcp',
      dataDisk: true,
    }) as any
    body.properties.upgradePolicy.mode = 'automatic'
    body.properties.orchestrationMode = 'UNIFORM'
    body.properties.virtualMachineProfile.storageProfile.dataDisks[0].createOption = 'empty'
    const set = await h.call('PUT', p.set('enums'), { body })
    expect(set.status, JSON.stringify(set.body)).toBe(201)
    await waitFor(
      async () =>
        (await h.call('GET', p.set('enums'))).body.properties.provisioningState === 'Succeeded',
      'set provisioned',
    )
    const back = (await h.call('GET', p.set('enums'))).body
    expect(back.properties.upgradePolicy.mode).toBe('Automatic')
    expect(back.properties.orchestrationMode).toBe('Uniform')
    expect(back.properties.virtualMachineProfile.storageProfile.dataDisks[0].createOption).toBe(
      'Empty',
    )

    const patch = await h.call('PATCH', p.set('enums'), {
      body: { properties: { upgradePolicy: { mode: 'mAnUaL' } } },
    })
    expect(patch.status).toBeLessThan(300)
    expect((await h.call('GET', p.set('enums'))).body.properties.upgradePolicy.mode).toBe('Manual')
  })

  it('gallery image definitions and versions accept any casing', async () => {
    const gal = `/subscriptions/${h.sub}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g`
    expect((await h.call('PUT', gal, { body: { location: 'westus' } })).status).toBe(201)
    const def = await h.call('PUT', `${gal}/images/web`, {
      body: {
        location: 'westus',
        properties: {
          osType: 'LINUX',
          osState: 'generalized',
          hyperVGeneration: 'v2',
          identifier: { publisher: 'me', offer: 'web', sku: '1' },
        },
      },
    })
    expect(def.status, JSON.stringify(def.body)).toBe(201)
    expect(def.body.properties).toMatchObject({
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2',
    })
  })

  it('a value that matches nothing is refused with the canonical choices', async () => {
    const bad = await h.call('PUT', p.lb, {
      body: {
        location: 'westus',
        properties: { probes: [{ name: 'x', properties: { protocol: 'udp', port: 1 } }] },
      },
    })
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toContain("'udp' is not one of Http, Https, Tcp")
    const body = autoUpgradeSetBody({ sub: h.sub, capacity: 1, probe: 'tcp' }) as any
    body.properties.upgradePolicy.mode = 'sometimes'
    const set = await h.call('PUT', p.set('bad'), { body })
    expect(set.status).toBe(400)
    expect(set.body.error.message).toContain("'sometimes' is not one of Automatic, Manual, Rolling")
  })
})
