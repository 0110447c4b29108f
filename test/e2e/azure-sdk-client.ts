/**
 * Driven by azure-sdk.test.ts in a child process that trusts osroll's CA through
 * NODE_EXTRA_CA_CERTS, as a user would: the unmodified @azure/arm-compute against
 * `osroll serve --tls self-signed`, with the unmodified @azure/arm-resources for the resource
 * group the set lives in (issue 18 §1). Prints one JSON line of what it observed.
 */
import { ComputeManagementClient } from '@azure/arm-compute'
import { ResourceManagementClient } from '@azure/arm-resources'
import type { TokenCredential } from '@azure/core-auth'

const url = process.env['OSROLL_URL'] as string
const token = process.env['OSROLL_TOKEN'] as string
const sub = process.env['OSROLL_SUBSCRIPTION'] as string
const credential: TokenCredential = {
  getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
}
const client = new ComputeManagementClient(credential, sub, {
  endpoint: url,
})
const resources = new ResourceManagementClient(credential, sub, { endpoint: url })
const out: Record<string, unknown> = {}

async function raw(method: string, path: string, body: unknown): Promise<number> {
  const res = await fetch(`${url}${path}?api-version=2024-07-01`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  await res.text()
  return res.status
}

// A declarative client reads the group first, then writes it (issue 18).
out['groupBefore'] = (await resources.resourceGroups.checkExistence('rg')).body
const group = await resources.resourceGroups.createOrUpdate('rg', {
  location: 'westus',
  tags: { by: 'sdk' },
})
out['group'] = {
  id: group.id,
  name: group.name,
  location: group.location,
  tags: group.tags,
  provisioningState: group.properties?.provisioningState,
}

const images = `/subscriptions/${sub}/providers/Microsoft.Compute/locations/westus/publishers/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions`
await raw('PUT', `${images}/1.0.0`, {
  location: 'westus',
  properties: { source: { uri: 'sim:?boot=0' } },
})
await raw(
  'PUT',
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb`,
  {
    location: 'westus',
    properties: { probes: [{ name: 'tcp', properties: { protocol: 'Tcp', port: 80 } }] },
  },
)

const created = await client.virtualMachineScaleSets.beginCreateOrUpdateAndWait('rg', 'sdk', {
  location: 'westus',
  sku: { name: 'Standard_D2s_v3', capacity: 3 },
  upgradePolicy: { mode: 'Manual', automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: false } },
  virtualMachineProfile: {
    storageProfile: {
      imageReference: {
        publisher: 'Canonical',
        offer: 'UbuntuServer',
        sku: '18.04-LTS',
        version: 'latest',
      },
    },
    networkProfile: {
      healthProbe: {
        id: `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb/probes/tcp`,
      },
    },
  },
})
out['created'] = { name: created.name, provisioningState: created.provisioningState }
// The image version an instance runs is on the instance (Azure shows no exactVersion on the set).
const got = await client.virtualMachineScaleSetVMs.get('rg', 'sdk', '0')
out['exactVersion'] = got.storageProfile?.imageReference?.exactVersion
const patched = await client.virtualMachineScaleSets.beginUpdateAndWait('rg', 'sdk', {
  tags: { team: 'sdk' },
})
out['patchedTags'] = patched.tags

await raw('PUT', `${images}/1.1.0`, {
  location: 'westus',
  properties: { source: { uri: 'sim:?boot=0' } },
})
await client.virtualMachineScaleSetRollingUpgrades.beginStartOSUpgradeAndWait('rg', 'sdk', {
  updateIntervalInMs: 200,
})
const latest = await client.virtualMachineScaleSetRollingUpgrades.getLatest('rg', 'sdk')
out['latest'] = {
  code: latest.runningStatus?.code,
  successful: latest.progress?.successfulInstanceCount,
}

await raw('PUT', `${images}/1.2.0`, {
  location: 'westus',
  properties: { source: { uri: 'sim:?boot=2' } },
})
const started = await client.virtualMachineScaleSetRollingUpgrades.beginStartOSUpgrade(
  'rg',
  'sdk',
  { updateIntervalInMs: 200 },
)
await client.virtualMachineScaleSetRollingUpgrades.beginCancelAndWait('rg', 'sdk', {
  updateIntervalInMs: 200,
})
const cancelled = await client.virtualMachineScaleSetRollingUpgrades.getLatest('rg', 'sdk')
out['cancelled'] = {
  code: cancelled.runningStatus?.code,
  lastAction: cancelled.runningStatus?.lastAction,
}
try {
  await started.pollUntilDone()
  out['startAfterCancel'] = 'resolved'
} catch (err) {
  out['startAfterCancel'] = (err as { code?: string }).code ?? String(err)
}

const history = []
for await (const h of client.virtualMachineScaleSets.listOSUpgradeHistory('rg', 'sdk'))
  history.push(h.properties?.runningStatus?.code)
out['history'] = history

const versions = await client.virtualMachineImages.list(
  'westus',
  'Canonical',
  'UbuntuServer',
  '18.04-LTS',
)
out['imageVersions'] = versions.map((v) => v.name)

try {
  await client.virtualMachineScaleSets.get('rg', 'missing')
  out['notFound'] = 'no error'
} catch (err) {
  const e = err as { statusCode?: number; code?: string }
  out['notFound'] = { statusCode: e.statusCode, code: e.code }
}
const held = []
for await (const r of resources.resources.listByResourceGroup('rg'))
  held.push(`${r.type}/${r.name}`)
out['held'] = held
const groups = []
for await (const g of resources.resourceGroups.list()) groups.push(g.name)
out['groups'] = groups
await resources.resourceGroups.beginDeleteAndWait('rg', { updateIntervalInMs: 200 })
out['groupAfter'] = (await resources.resourceGroups.checkExistence('rg')).body
try {
  await client.virtualMachineScaleSets.get('rg', 'sdk')
  out['setAfter'] = 'no error'
} catch (err) {
  const e = err as { statusCode?: number; code?: string }
  out['setAfter'] = { statusCode: e.statusCode, code: e.code }
}
console.log(JSON.stringify(out))
