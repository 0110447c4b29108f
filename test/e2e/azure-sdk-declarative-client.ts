/**
 * Driven by azure-sdk-declarative.test.ts in a child process, as a declarative tool drives Azure
 * (issue 18, "What it must show"): the unmodified @azure/arm-resources, @azure/arm-network and
 * @azure/arm-compute create a group, a virtual network with a subnet, a load balancer with a probe
 * and a backend pool, and a scale set in that subnet behind that pool; read everything back and
 * apply it again, which must change nothing; scale the set and enable automatic OS upgrades; and
 * delete the group, which takes everything with it. Prints one JSON line of what it observed.
 */
import { ComputeManagementClient } from '@azure/arm-compute'
import type { VirtualMachineScaleSet } from '@azure/arm-compute'
import { NetworkManagementClient } from '@azure/arm-network'
import { ResourceManagementClient } from '@azure/arm-resources'
import type { TokenCredential } from '@azure/core-auth'

const url = process.env['OSROLL_URL'] as string
const token = process.env['OSROLL_TOKEN'] as string
const sub = process.env['OSROLL_SUBSCRIPTION'] as string
const credential: TokenCredential = {
  getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
}
const options = { endpoint: url }
const compute = new ComputeManagementClient(credential, sub, options)
const network = new NetworkManagementClient(credential, sub, options)
const resources = new ResourceManagementClient(credential, sub, options)
const poll = { updateIntervalInMs: 200 }
const out: Record<string, unknown> = {}

const rg = 'decl'
const group = `/subscriptions/${sub}/resourceGroups/${rg}`
const subnetId = `${group}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/web`
const lbId = `${group}/providers/Microsoft.Network/loadBalancers/lb`

function statusOf(err: unknown): unknown {
  const e = err as { statusCode?: number; code?: string }
  return { statusCode: e.statusCode, code: e.code }
}

// The platform image the set runs (osroll's own publish route: there is no SDK call for it).
const images = `/subscriptions/${sub}/providers/Microsoft.Compute/locations/westus/publishers/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions`
const published = await fetch(`${url}${images}/1.0.0?api-version=2024-07-01`, {
  method: 'PUT',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  body: JSON.stringify({ location: 'westus', properties: { source: { uri: 'sim:?boot=0' } } }),
})
out['published'] = published.status

// 1. Create, in dependency order, as a declarative tool plans it.
await resources.resourceGroups.createOrUpdate(rg, { location: 'westus', tags: { env: 'decl' } })
const vnet = await network.virtualNetworks.beginCreateOrUpdateAndWait(
  rg,
  'vnet',
  {
    location: 'westus',
    addressSpace: { addressPrefixes: ['10.1.0.0/16'] },
    subnets: [{ name: 'web', addressPrefix: '10.1.0.0/24' }],
  },
  poll,
)
const lb = await network.loadBalancers.beginCreateOrUpdateAndWait(
  rg,
  'lb',
  {
    location: 'westus',
    sku: { name: 'Standard', tier: 'Regional' },
    frontendIPConfigurations: [{ name: 'fe', privateIPAllocationMethod: 'Dynamic' }],
    backendAddressPools: [{ name: 'pool' }],
    probes: [
      {
        name: 'http',
        protocol: 'Http',
        port: 80,
        requestPath: '/health',
        intervalInSeconds: 5,
        numberOfProbes: 2,
      },
    ],
    loadBalancingRules: [
      {
        name: 'web',
        frontendIPConfiguration: { id: `${lbId}/frontendIPConfigurations/fe` },
        backendAddressPool: { id: `${lbId}/backendAddressPools/pool` },
        probe: { id: `${lbId}/probes/http` },
        protocol: 'Tcp',
        frontendPort: 80,
        backendPort: 80,
      },
    ],
  },
  poll,
)
const setModel: VirtualMachineScaleSet = {
  location: 'westus',
  tags: { env: 'decl' },
  sku: { name: 'Standard_D2s_v3', tier: 'Standard', capacity: 2 },
  upgradePolicy: {
    mode: 'Rolling',
    rollingUpgradePolicy: {
      maxBatchInstancePercent: 50,
      maxUnhealthyInstancePercent: 50,
      maxUnhealthyUpgradedInstancePercent: 50,
      pauseTimeBetweenBatches: 'PT0S',
    },
    automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: false },
  },
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
      healthProbe: { id: `${lbId}/probes/http` },
      networkInterfaceConfigurations: [
        {
          name: 'nic',
          primary: true,
          ipConfigurations: [
            {
              name: 'ip',
              primary: true,
              subnet: { id: subnetId },
              loadBalancerBackendAddressPools: [{ id: `${lbId}/backendAddressPools/pool` }],
            },
          ],
        },
      ],
    },
  },
}
const set = await compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(
  rg,
  'web',
  setModel,
  poll,
)
out['created'] = {
  vnet: [vnet.provisioningState, vnet.subnets?.map((s) => s.id)],
  lb: [lb.provisioningState, lb.backendAddressPools?.map((p) => p.id)],
  set: [set.provisioningState, set.sku?.tier],
}

// 2. Read everything back and apply it again: nothing may change (same etags, no rollout).
const vnetBack = await network.virtualNetworks.get(rg, 'vnet')
const lbBack = await network.loadBalancers.get(rg, 'lb')
const setBack = await compute.virtualMachineScaleSets.get(rg, 'web')
const vnetAgain = await network.virtualNetworks.beginCreateOrUpdateAndWait(
  rg,
  'vnet',
  vnetBack,
  poll,
)
const lbAgain = await network.loadBalancers.beginCreateOrUpdateAndWait(rg, 'lb', lbBack, poll)
const setAgain = await compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(
  rg,
  'web',
  setBack,
  poll,
)
out['reapplied'] = {
  vnet: vnetAgain.etag === vnetBack.etag,
  lb: lbAgain.etag === lbBack.etag,
  set: setAgain.etag === setBack.etag,
  imageReference: setAgain.virtualMachineProfile?.storageProfile?.imageReference,
}
const history = []
for await (const h of compute.virtualMachineScaleSets.listOSUpgradeHistory(rg, 'web'))
  history.push(h.properties?.runningStatus?.code)
out['rolloutsAfterReapply'] = history.length

// 3. Scale the set and enable automatic OS upgrades.
await compute.virtualMachineScaleSets.beginUpdateAndWait(rg, 'web', { sku: { capacity: 3 } }, poll)
const enabled = await compute.virtualMachineScaleSets.beginUpdateAndWait(
  rg,
  'web',
  { upgradePolicy: { automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: true } } },
  poll,
)
out['enabled'] = enabled.upgradePolicy?.automaticOSUpgradePolicy?.enableAutomaticOSUpgrade
const vms = []
for await (const vm of compute.virtualMachineScaleSetVMs.list(rg, 'web')) vms.push(vm.instanceId)
out['instances'] = vms.length
const addresses = []
for await (const nic of network.networkInterfaces.listVirtualMachineScaleSetNetworkInterfaces(
  rg,
  'web',
))
  for (const ip of nic.ipConfigurations ?? [])
    addresses.push({ subnet: ip.subnet?.id, address: ip.privateIPAddress })
out['addresses'] = addresses

// 4. Delete the group: everything in it goes.
await resources.resourceGroups.beginDeleteAndWait(rg, poll)
out['groupAfter'] = (await resources.resourceGroups.checkExistence(rg)).body
out['after'] = await Promise.all([
  network.virtualNetworks.get(rg, 'vnet').then(() => 'still there', statusOf),
  network.loadBalancers.get(rg, 'lb').then(() => 'still there', statusOf),
  compute.virtualMachineScaleSets.get(rg, 'web').then(() => 'still there', statusOf),
])
console.log(JSON.stringify(out))
