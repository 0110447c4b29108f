/**
 * ARM paths and bodies that tests and benchmarks share: the resource group `rg` in westus, an
 * image version of Canonical:UbuntuServer:18.04-LTS in westus, a load balancer with one probe,
 * a virtual network with one subnet, and a scale set with automatic OS upgrades behind that probe.
 */

export type ProbeSpec = Readonly<{
  name: string
  protocol: 'Http' | 'Tcp'
  port: number
  requestPath?: string
  intervalInSeconds?: number
}>

/** Paths in subscription `sub`; the load balancer and sets are in resource group `rg`. */
export function armPaths(sub: string, rg = 'rg') {
  const lb = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/loadBalancers/lb`
  return {
    group: (name = rg) => `/subscriptions/${sub}/resourcegroups/${name}`,
    image: (version: string) =>
      `/subscriptions/${sub}/providers/Microsoft.Compute/locations/westus/publishers/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions/${version}`,
    lb,
    probe: (name: string) => `${lb}/probes/${name}`,
    vnet: `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet`,
    subnet: (name = 'default') =>
      `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/${name}`,
    set: (name = 'web') =>
      `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`,
  }
}

export function imageBody(uri: string): Record<string, unknown> {
  return { location: 'westus', properties: { source: { uri } } }
}

/** A VNet of 10.0.0.0/16 with one subnet, `default`, of 10.0.1.0/24 (in westus). */
export function virtualNetworkBody(): Record<string, unknown> {
  return {
    location: 'westus',
    properties: {
      addressSpace: { addressPrefixes: ['10.0.0.0/16'] },
      subnets: [{ name: 'default', properties: { addressPrefix: '10.0.1.0/24' } }],
    },
  }
}

export function loadBalancerBody(p: ProbeSpec): Record<string, unknown> {
  const { name, ...properties } = p
  return { location: 'westus', properties: { probes: [{ name, properties }] } }
}

/** The image every fixture set runs: the latest Canonical:UbuntuServer:18.04-LTS. */
export const UBUNTU_LATEST = {
  publisher: 'Canonical',
  offer: 'UbuntuServer',
  sku: '18.04-LTS',
  version: 'latest',
} as const

/**
 * A set of `capacity` instances of the latest 18.04-LTS image, upgraded automatically, whose
 * health probe is `probe` of the load balancer `lb` of group `group` (default `rg`).
 */
export function autoUpgradeSetBody(o: {
  sub: string
  capacity: number
  probe: string
  dataDisk?: boolean
  group?: string
}): Record<string, unknown> {
  return {
    location: 'westus',
    sku: { capacity: o.capacity },
    properties: {
      upgradePolicy: {
        mode: 'Automatic',
        automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: true },
      },
      virtualMachineProfile: {
        storageProfile: {
          imageReference: { ...UBUNTU_LATEST },
          ...(o.dataDisk ? { dataDisks: [{ lun: 0, diskSizeGB: 1, createOption: 'Empty' }] } : {}),
        },
        networkProfile: { healthProbe: { id: armPaths(o.sub, o.group).probe(o.probe) } },
      },
    },
  }
}

/**
 * A set of `capacity` instances of the latest 18.04-LTS image, upgraded manually, whose one
 * network interface configuration names `subnetId` (no network profile without one).
 */
export function subnetSetBody(o: { capacity: number; subnetId?: string }): Record<string, unknown> {
  const nic = (id: string) => ({
    name: 'nic',
    properties: {
      primary: true,
      ipConfigurations: [{ name: 'ip', properties: { subnet: { id } } }],
    },
  })
  return {
    location: 'westus',
    sku: { capacity: o.capacity },
    properties: {
      upgradePolicy: { mode: 'Manual' },
      virtualMachineProfile: {
        storageProfile: { imageReference: LATEST_UBUNTU },
        ...(o.subnetId
          ? { networkProfile: { networkInterfaceConfigurations: [nic(o.subnetId)] } }
          : {}),
      },
    },
  }
}

const LATEST_UBUNTU = {
  publisher: 'Canonical',
  offer: 'UbuntuServer',
  sku: '18.04-LTS',
  version: 'latest',
}

type Caller = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; body: any }>

/**
 * Creates (or keeps) resource group `name` in westus, as a client must before it puts a
 * resource in it (docs/api.md § Resource groups).
 */
export async function createResourceGroup(
  call: Caller,
  sub: string,
  name = 'rg',
  location = 'westus',
): Promise<void> {
  const r = await call('PUT', armPaths(sub).group(name), { location })
  if (r.status >= 300)
    throw new Error(`PUT resource group ${name}: ${r.status} ${JSON.stringify(r.body)}`)
}

/**
 * Creates the group `rg`, publishes 1.0.0 (`sim:?boot=0` unless told), a load balancer with a
 * TCP probe, and an automatically upgraded set of `capacity` instances behind it, through `call`.
 */
export async function createSimFleet(
  call: Caller,
  sub: string,
  o: { capacity: number; name?: string; source?: string },
): Promise<void> {
  const p = armPaths(sub)
  await createResourceGroup(call, sub)
  for (const [path, body] of [
    [p.image('1.0.0'), imageBody(o.source ?? 'sim:?boot=0')],
    [p.lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 })],
    [p.set(o.name), autoUpgradeSetBody({ sub, capacity: o.capacity, probe: 'tcp' })],
  ] as const) {
    const r = await call('PUT', path, body)
    if (r.status >= 300) throw new Error(`PUT ${path}: ${r.status} ${JSON.stringify(r.body)}`)
  }
}

/** The probe the sample images answer: HTTP `/health` on port 8080, every 5 s. */
export const HTTP_HEALTH_PROBE: ProbeSpec = {
  name: 'http',
  protocol: 'Http',
  port: 8080,
  requestPath: '/health',
  intervalInSeconds: 5,
}

/** Reads a resource's body: an API harness's or a server process's GET. */
type Get = (path: string) => Promise<any>

/** The set's `count` instances when every one reads healthy in its instance view, else false. */
export async function healthyInstances(
  get: Get,
  setPath: string,
  count: number,
): Promise<any[] | false> {
  const vms = ((await get(`${setPath}/virtualMachines?$expand=instanceView`)).value ?? []) as any[]
  return (
    vms.length === count &&
    vms.every((v) => v.properties.instanceView.vmHealth.status.code === 'HealthState/healthy') &&
    vms
  )
}

/** The private address of each of the set's instances, in the order the API lists them. */
export async function privateAddresses(get: Get, setPath: string): Promise<string[]> {
  return ((await get(`${setPath}/networkInterfaces`)).value as any[]).map(
    (n) => n.properties.ipConfigurations[0].properties.privateIPAddress as string,
  )
}
