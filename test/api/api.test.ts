/**
 * The ARM API in process (`app.inject`, STYLE R13): routes, status codes and errors of SPEC
 * §2–§5 and §8 that this build serves, on the real wiring with the sim fabric.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import type { Call } from '../../test-support/api-harness.js'
import { createToken } from '../../src/services/tokens.js'
import { MESSAGES } from '../../src/core/scale-set/validate.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let call: Call
let sub: string
const imgPath = (sku: string, v = '') =>
  `/subscriptions/${sub}/providers/Microsoft.Compute/locations/westus/publishers/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/${sku}/versions${v ? `/${v}` : ''}`
const setPath = (name: string, rest = '') =>
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/${name}${rest}`
const probeId = () =>
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb/probes/http`
const publish = (sku: string, v: string, uri = 'sim:?boot=0') =>
  call('PUT', imgPath(sku, v), { body: { location: 'westus', properties: { source: { uri } } } })
const vmss = (
  sku: string,
  o: { capacity?: number; probe?: boolean; version?: string; extra?: Record<string, unknown> } = {},
) => ({
  location: 'westus',
  sku: { name: 'Standard_D2s_v3', capacity: o.capacity ?? 4 },
  properties: {
    upgradePolicy: {
      mode: 'Automatic',
      automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: true },
    },
    virtualMachineProfile: {
      osProfile: { computerNamePrefix: 'web', adminUsername: 'azure', adminPassword: 'S3cret!' },
      storageProfile: {
        imageReference: {
          publisher: 'Canonical',
          offer: 'UbuntuServer',
          sku,
          version: o.version ?? 'latest',
        },
        dataDisks: [{ lun: 0, diskSizeGB: 4, createOption: 'Empty' }],
      },
      networkProfile: o.probe === false ? {} : { healthProbe: { id: probeId() } },
    },
    ...o.extra,
  },
})
const history = async (name: string) =>
  (await call('GET', setPath(name, '/osUpgradeHistory'))).body.value as any[]

beforeAll(async () => {
  h = await apiHarness()
  call = h.call
  sub = h.sub
  const lb = await call(
    'PUT',
    `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb`,
    {
      body: {
        location: 'westus',
        sku: { name: 'Standard' },
        properties: {
          probes: [
            { name: 'http', properties: { protocol: 'Http', port: 80, requestPath: '/health' } },
          ],
        },
      },
    },
  )
  expect(lb.status).toBe(201)
})
afterAll(() => h.close())

describe('§8 common behaviour', () => {
  it('authenticates: no token or a wrong one is 401 AuthenticationFailed with WWW-Authenticate', async () => {
    for (const token of [null, 'osr_nope']) {
      const r = await call(
        'GET',
        `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets`,
        { token },
      )
      expect(r.status).toBe(401)
      expect(r.body.error.code).toBe('AuthenticationFailed')
      expect(r.headers['www-authenticate']).toContain('Bearer')
    }
  })

  it('roles: Reader reads but cannot write; Contributor cannot publish images', async () => {
    const reader = await createToken(h.sys.deps.store, {
      role: 'Reader',
      subscriptions: [],
      label: 't',
      nowMs: 0,
    })
    expect((await call('GET', `/subscriptions/${sub}`, { token: reader })).status).toBe(200)
    const put = await call('PUT', setPath('nope'), { token: reader, body: vmss('18.04-LTS') })
    expect(put).toMatchObject({ status: 403, body: { error: { code: 'AuthorizationFailed' } } })
    const contributor = await createToken(h.sys.deps.store, {
      role: 'Contributor',
      subscriptions: [],
      label: 't',
      nowMs: 0,
    })
    const pub = await call('PUT', imgPath('18.04-LTS', '9.9.9'), {
      token: contributor,
      body: { location: 'westus', properties: { source: { uri: 'sim:' } } },
    })
    expect(pub.status).toBe(403)
  })

  it('subscription isolation: a token limited to one subscription does not see another (404)', async () => {
    const other = '11111111-2222-3333-4444-555555555555'
    expect(
      (
        await call(
          'GET',
          `/subscriptions/${other}/providers/Microsoft.Compute/virtualMachineScaleSets`,
        )
      ).status,
    ).toBe(200)
    const limited = await createToken(h.sys.deps.store, {
      role: 'Owner',
      subscriptions: [sub],
      label: 't',
      nowMs: 0,
    })
    const r = await call(
      'GET',
      `/subscriptions/${other}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets`,
      { token: limited },
    )
    expect(r).toMatchObject({ status: 404, body: { error: { code: 'SubscriptionNotFound' } } })
    const list = await call('GET', '/subscriptions', { token: limited })
    expect(list.body.value.map((s: { subscriptionId: string }) => s.subscriptionId)).toEqual([sub])
  })

  it('requires api-version; every response carries request ids; unknown routes and bad JSON are ARM errors', async () => {
    const r = await call('GET', `/subscriptions/${sub}`, { apiVersion: null })
    expect(r).toMatchObject({
      status: 400,
      body: { error: { code: 'MissingApiVersionParameter' } },
    })
    expect(r.headers['x-ms-request-id']).toBeTruthy()
    expect(r.headers['x-ms-correlation-request-id']).toBeTruthy()
    expect(
      (await call('GET', `/subscriptions/${sub}/providers/Microsoft.Nope/things`)).body.error.code,
    ).toBe('NotFound')
    const bad = await call('PUT', setPath('web'), { body: '{"location": "westus",' })
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'InvalidRequestContent' } } })
    expect(bad.body.error.message).toMatch(/character 22 \(line 1, column 23\)/)
    expect(JSON.stringify(bad.body)).not.toMatch(/at .*\.js/)
    expect((await call('GET', '/healthz', { token: null, apiVersion: null })).body).toEqual({
      status: 'ok',
    })
  })

  it('lists subscriptions and locations', async () => {
    const s = await call('GET', `/subscriptions/${sub}`)
    expect(s.body).toMatchObject({ subscriptionId: sub, state: 'Enabled' })
    expect(
      (await call('GET', `/subscriptions/${sub}/locations`)).body.value.map(
        (l: { name: string }) => l.name,
      ),
    ).toContain('westus')
  })
})

describe('§2.3 platform image catalog', () => {
  it('publishes immutably, lists as a bare array in numeric order, honours $orderby and $top', async () => {
    expect((await publish('cat', '1.9.0')).status).toBe(201)
    expect((await publish('cat', '1.10.0')).status).toBe(201)
    expect((await publish('cat', '1.10.0')).status).toBe(200)
    expect((await publish('cat', '1.10.0', 'sim:?boot=3')).body.error.code).toBe('Conflict')
    const list = await call('GET', imgPath('cat'))
    expect(list.body.map((v: { name: string }) => v.name)).toEqual(['1.9.0', '1.10.0'])
    const desc = await call('GET', `${imgPath('cat')}?$orderby=name%20desc&$top=1`)
    expect(desc.body.map((v: { name: string }) => v.name)).toEqual(['1.10.0'])
    const one = await call('GET', imgPath('cat', '1.9.0'))
    expect(one.body.properties.automaticOSUpgradeProperties.automaticOSUpgradeSupported).toBe(false) // not in the seed's table
    expect((await call('GET', imgPath('cat', '3.0.0'))).status).toBe(404)
    const pubs = await call(
      'GET',
      `/subscriptions/${sub}/providers/Microsoft.Compute/locations/westus/publishers`,
    )
    expect(pubs.body.map((p: { name: string }) => p.name)).toContain('Canonical')
  })

  it('refuses sources the fabric cannot boot and malformed versions', async () => {
    const r = await call('PUT', imgPath('cat', '2.0.0'), {
      body: { location: 'westus', properties: { source: { uri: 'file:///tmp/x' } } },
    })
    expect(r).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidParameter', target: 'properties.source.uri' } },
    })
    expect((await publish('cat', 'v2')).status).toBe(400)
  })
})

describe('§2.1 and §3 scale sets', () => {
  it('refuses invalid models with Azure codes and messages, and changes nothing', async () => {
    await publish('18.04-LTS', '1.0.0')
    const noHealth = await call('PUT', setPath('bad'), {
      body: vmss('18.04-LTS', { probe: false }),
    })
    expect(noHealth).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidParameter', message: MESSAGES.noHealthAuto } },
    })
    const pinned = await call('PUT', setPath('bad'), {
      body: vmss('18.04-LTS', { version: '1.0.0' }),
    })
    expect(pinned.body.error.message).toBe(MESSAGES.notLatest)
    const typo = vmss('18.04-LTS', { extra: {} })
    ;(typo.properties.upgradePolicy as Record<string, unknown>)['rollingUpgradePolicy'] = {
      maxBatchInstancePercnet: 20,
    }
    expect((await call('PUT', setPath('bad'), { body: typo })).body.error).toMatchObject({
      code: 'InvalidRequestContent',
      target: 'properties.upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercnet',
    })
    const missing = await call('PUT', setPath('bad'), { body: vmss('no-such-sku') })
    expect(missing).toMatchObject({
      status: 404,
      body: { error: { code: 'PlatformImageNotFound' } },
    })
    expect((await call('GET', setPath('bad'))).status).toBe(404)
  })

  it('creates a set (201, Azure-AsyncOperation that completes), hides secrets, lists it', async () => {
    const r = await call('PUT', setPath('web'), { body: vmss('18.04-LTS') })
    expect(r.status).toBe(201)
    expect(r.body.properties.provisioningState).toBe('Creating')
    expect(r.headers['location']).toBeUndefined()
    const op = String(r.headers['azure-asyncoperation']).replace(/^http:\/\/[^/]+/, '')
    await waitFor(
      async () => (await call('GET', op, { apiVersion: null })).body.status === 'Succeeded',
      'create operation',
    )
    const got = await call('GET', setPath('web'))
    expect(got.body).toMatchObject({
      name: 'web',
      type: 'Microsoft.Compute/virtualMachineScaleSets',
      properties: { provisioningState: 'Succeeded' },
    })
    // exactVersion is an instance's, not the set model's (Azure's shapes; issue 18 §4).
    expect(
      got.body.properties.virtualMachineProfile.storageProfile.imageReference.exactVersion,
    ).toBeUndefined()
    const vm = await call('GET', setPath('web', '/virtualMachines/0'))
    expect(vm.body.properties.storageProfile.imageReference.exactVersion).toBe('1.0.0')
    expect(JSON.stringify(got.body)).not.toContain('S3cret')
    expect(got.headers['etag']).toBe(got.body.etag)
    const list = await call(
      'GET',
      `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets`,
    )
    expect(list.body.value.map((s: { name: string }) => s.name)).toContain('web')
  })

  it('PUT merges like Compute (imageReference omitted is kept); ETag preconditions give 412', async () => {
    const body = vmss('18.04-LTS')
    delete (body.properties.virtualMachineProfile.storageProfile as Record<string, unknown>)[
      'imageReference'
    ]
    const r = await call('PUT', setPath('web'), { body })
    expect(r.status).toBe(200)
    expect(r.body.properties.virtualMachineProfile.storageProfile.imageReference.sku).toBe(
      '18.04-LTS',
    )
    expect(
      (await call('PUT', setPath('web'), { body, headers: { 'if-match': 'W/"stale"' } })).status,
    ).toBe(412)
    expect(
      (await call('PUT', setPath('web'), { body, headers: { 'if-none-match': '*' } })).body.error
        .code,
    ).toBe('PreconditionFailed')
    const patch = await call('PATCH', setPath('nothere'), { body: {} })
    expect(patch.status).toBe(404)
  })

  it('lists instances with their instance view; protection is writable', async () => {
    const r = await call('GET', setPath('web', '/virtualMachines?$expand=instanceView'))
    expect(r.body.value).toHaveLength(4)
    const vm = r.body.value[0]
    expect(vm).toMatchObject({
      instanceId: '0',
      name: 'web_0',
      properties: { latestModelApplied: true, osProfile: { computerName: 'web000000' } },
    })
    expect(vm.properties.instanceView.statuses.map((s: { code: string }) => s.code)).toEqual([
      'ProvisioningState/succeeded',
      'PowerState/running',
    ])
    expect(vm.properties.instanceView.vmHealth.status.code).toBe('HealthState/healthy')
    const p = await call('PUT', setPath('web', '/virtualMachines/3'), {
      body: { properties: { protectionPolicy: { protectFromScaleIn: true } } },
    })
    expect(p.body.properties.protectionPolicy).toEqual({
      protectFromScaleIn: true,
      protectFromScaleSetActions: false,
    })
    expect((await call('GET', setPath('web', '/virtualMachines/99'))).status).toBe(404)
    const iv = await call('GET', setPath('web', '/instanceView'))
    expect(iv.body.virtualMachine.statusesSummary).toContainEqual({
      code: 'PowerState/running',
      count: 4,
    })
  })
})

describe('§4 rollouts through the API', () => {
  it('a newly published version rolls out automatically; history and latest show it', async () => {
    await publish('18.04-LTS', '1.1.0')
    const entries = await waitFor(async () => {
      const v = await history('web')
      return v.length === 1 && v[0].properties.runningStatus.code === 'Completed' && v
    }, 'automatic rollout')
    expect(entries[0].properties).toMatchObject({
      startedBy: 'Platform',
      progress: { successfulInstanceCount: 4, failedInstanceCount: 0 },
      targetImageReference: { version: '1.1.0' },
    })
    const latest = await call('GET', setPath('web', '/rollingUpgrades/latest'))
    expect(latest.body).toMatchObject({
      name: 'latest',
      properties: {
        runningStatus: { code: 'Completed', lastAction: 'Start' },
        policy: { maxBatchInstancePercent: 20 },
      },
    })
  })

  it('GET /metrics (authenticated) counts the rollout, its instances and the API requests', async () => {
    expect((await call('GET', '/metrics', { token: null, apiVersion: null })).status).toBe(401)
    const r = await h.sys.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${h.sys.adminToken}` },
    })
    expect(r.statusCode).toBe(200)
    expect(r.headers['content-type']).toContain('text/plain')
    const text = r.body
    expect(text).toMatch(
      /osroll_rollouts_total\{status="Started",kind="OSImage",started_by="Platform"\} 1/,
    )
    expect(text).toMatch(
      /osroll_rollouts_total\{status="Completed",kind="OSImage",started_by="Platform"\} 1/,
    )
    expect(text).toMatch(/osroll_instance_upgrades_total\{outcome="succeeded",kind="OSImage"\} 4/)
    expect(text).toMatch(/osroll_batch_duration_seconds_count \d+/)
    expect(text).toMatch(/osroll_rollout_reasons_total\{reason="Batch",kind="start"\} 4/)
    expect(text).toMatch(/osroll_rollout_reasons_total\{reason="Completed",kind="done"\} 1/)
    expect(text).not.toMatch(/reason="Uncatalogued"/)
    expect(text).toMatch(
      /osroll_api_request_duration_seconds_count\{route="\/subscriptions\/:sub\/resourceGroups\/:rg\/providers\/Microsoft.Compute\/virtualMachineScaleSets\/:name",method="PUT",status="201"\} \d+/,
    )
  })

  it('manual osRollingUpgrade on a broken image: no rollback, Faulted, the operation Failed', async () => {
    await publish('manual', '1.0.0')
    await call('PUT', setPath('m'), {
      body: {
        ...vmss('manual', { capacity: 2 }),
        properties: { ...vmss('manual').properties, upgradePolicy: { mode: 'Manual' } },
      },
    })
    await waitFor(
      async () =>
        (await call('GET', setPath('m'))).body.properties.provisioningState === 'Succeeded',
      'set m',
    )
    await publish('manual', '2.0.0', 'sim:?boot=0&health=unhealthy')
    const r = await call('POST', setPath('m', '/osRollingUpgrade'))
    expect(r.status).toBe(202)
    expect(r.headers['location']).toContain('monitor=true')
    expect(r.headers['retry-after']).toBe('1')
    expect((await call('POST', setPath('m', '/osRollingUpgrade'))).body.error.code).toBe(
      'OperationNotAllowed',
    )
    const op = String(r.headers['azure-asyncoperation']).replace(/^http:\/\/[^/]+/, '')
    const done = await waitFor(async () => {
      const s = await call('GET', op, { apiVersion: null })
      return s.body.status !== 'InProgress' && s.body
    }, 'manual rollout')
    expect(done).toMatchObject({
      status: 'Failed',
      error: { code: 'MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade' },
    })
    const [entry] = await history('m')
    expect(entry.properties).toMatchObject({
      startedBy: 'User',
      runningStatus: { code: 'Faulted' },
      rollbackInfo: { successfullyRolledbackInstanceCount: 0 },
    })
    const vms = await call('GET', setPath('m', '/virtualMachines'))
    expect(vms.body.value[0].properties.storageProfile.imageReference.exactVersion).toBe('2.0.0') // left on the new image
    const location = String(r.headers['location']).replace(/^http:\/\/[^/]+/, '')
    expect((await call('GET', location, { apiVersion: null })).status).toBe(200)
  })

  it('a pinned set cannot use osRollingUpgrade; cancel with nothing running is 409', async () => {
    await publish('pin', '1.0.0')
    const body = vmss('pin', { capacity: 1, version: '1.0.0' })
    body.properties.upgradePolicy = { mode: 'Manual' } as never
    expect((await call('PUT', setPath('pinned'), { body })).status).toBe(201)
    const r = await call('POST', setPath('pinned', '/osRollingUpgrade'))
    expect(r).toMatchObject({ status: 409, body: { error: { code: 'OperationNotAllowed' } } })
    expect(r.body.error.message).toContain('imageReference.version set to latest')
    expect((await call('POST', setPath('pinned', '/rollingUpgrades/cancel'))).status).toBe(409)
    // a JSON content type with an empty body is accepted on POST actions, as Azure does
    const json = { headers: { 'content-type': 'application/json' } }
    expect((await call('POST', setPath('pinned', '/osRollingUpgrade'), json)).body.error.code).toBe(
      'OperationNotAllowed',
    )
    expect((await call('POST', setPath('pinned', '/rollingUpgrades/cancel'), json)).status).toBe(
      409,
    )
    // an empty PUT body is still refused
    const empty = await call('PUT', setPath('pinned'), json)
    expect(empty).toMatchObject({ status: 400, body: { error: { code: 'InvalidRequestContent' } } })
    expect((await call('GET', setPath('pinned', '/rollingUpgrades/latest'))).status).toBe(404)
  })

  it('cancel lets the batch finish, then Cancelled with lastAction Cancel', async () => {
    await publish('16.04-LTS', '1.0.0')
    expect(
      (await call('PUT', setPath('c'), { body: vmss('16.04-LTS', { capacity: 5 }) })).status,
    ).toBe(201)
    await waitFor(
      async () =>
        (await call('GET', setPath('c'))).body.properties.provisioningState === 'Succeeded',
      'set c',
    )
    await publish('16.04-LTS', '1.1.0', 'sim:?boot=1')
    await waitFor(
      async () => (await call('GET', setPath('c', '/rollingUpgrades/latest'))).status === 200,
      'rollout c',
    )
    const r = await call('POST', setPath('c', '/rollingUpgrades/cancel'))
    expect(r.status).toBe(202)
    const op = String(r.headers['azure-asyncoperation']).replace(/^http:\/\/[^/]+/, '')
    await waitFor(
      async () => (await call('GET', op, { apiVersion: null })).body.status === 'Succeeded',
      'cancel operation',
    )
    const latest = await call('GET', setPath('c', '/rollingUpgrades/latest'))
    expect(latest.body.properties.runningStatus).toMatchObject({
      code: 'Cancelled',
      lastAction: 'Cancel',
    })
    expect(latest.body.properties.progress.pendingInstanceCount).toBeGreaterThan(0)
  })

  it('pages history newest first with nextLink', async () => {
    const key = setPath('web').toLowerCase()
    const { startRollout } = await import('../../src/core/rollout/start.js')
    const state = (await h.sys.deps.store.getScaleSet(key))!
    for (let i = 0; i < 30; i++) {
      const r = startRollout({
        id: `hist-${String(i).padStart(2, '0')}`,
        spec: state.spec,
        request: {
          kind: 'OSImage',
          startedBy: 'User',
          target: { imageVersion: '1.1.0', modelGeneration: 1 },
          pace: 'batched',
          scope: null,
        },
        healthDeadlineMs: 1,
        nowMs: 1000 + i,
      })
      await h.sys.deps.store.createRollout({ ...r, status: 'Completed', endedAtMs: 2000 + i })
    }
    const page1 = await call('GET', setPath('web', '/osUpgradeHistory'))
    expect(page1.body.value).toHaveLength(25)
    expect(
      page1.body.value[0].properties.runningStatus.startTime >=
        page1.body.value[1].properties.runningStatus.startTime,
    ).toBe(true)
    const next = String(page1.body.nextLink).replace(/^http:\/\/[^/]+/, '')
    const page2 = await call('GET', next, { apiVersion: null })
    expect(page2.body.value).toHaveLength(6) // 31 in all: 30 written + the automatic one
    expect(page2.body.nextLink).toBeUndefined()
    expect((await call('GET', setPath('web', '/osUpgradeHistory?$skiptoken=garbage'))).status).toBe(
      400,
    )
  })
})

describe('§2.4 load balancers and §5 deletes', () => {
  it('a probe in use cannot be removed', async () => {
    const r = await call(
      'DELETE',
      `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb`,
    )
    expect(r).toMatchObject({
      status: 400,
      body: { error: { code: 'CannotRemoveProbeUsedByVMSS' } },
    })
    expect(
      (
        await call(
          'GET',
          `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb/probes/http`,
        )
      ).body.name,
    ).toBe('http')
  })

  it('DELETE a set answers 202 with both headers and removes its instances', async () => {
    const r = await call('DELETE', setPath('pinned'))
    expect(r.status).toBe(202)
    expect(r.headers['azure-asyncoperation']).toBeTruthy()
    const loc = String(r.headers['location']).replace(/^http:\/\/[^/]+/, '')
    const final = await call('GET', loc, { apiVersion: null })
    expect(final.status).toBe(200)
    expect((await call('GET', setPath('pinned'))).status).toBe(404)
    expect(await h.sys.deps.fabric.listInstances(setPath('pinned').toLowerCase())).toEqual([])
    expect((await call('DELETE', setPath('pinned'))).status).toBe(204)
  })
})
