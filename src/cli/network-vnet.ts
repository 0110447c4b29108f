/**
 * `osroll network vnet create|show|list|delete` and `osroll network vnet subnet
 * create|show|list|delete`, like az network vnet (docs/api.md § Virtual networks and subnets).
 * Talks to the server only through the client.
 */
import type { Command } from 'commander'
import { common, connect, run } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'

type Group = Common & { resourceGroup: string }
type Vnet = Group & { name: string }
type SubnetOpts = Group & { vnetName: string; name: string }

const VNET_COLUMNS = ['name', 'location', 'properties.addressSpace.addressPrefixes']
const SUBNET_COLUMNS = ['name', 'properties.addressPrefix', 'properties.provisioningState']

const vnetsPath = (sub: string, rg: string) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/virtualNetworks`

const group = (c: Command) => c.requiredOption('-g, --resource-group <name>', 'resource group')

const named = (c: Command) => group(c).requiredOption('-n, --name <name>', 'virtual network name')

const ofVnet = (c: Command) => group(c).requiredOption('--vnet-name <name>', 'the virtual network')

const subnetNamed = (c: Command) => ofVnet(c).requiredOption('-n, --name <name>', 'subnet name')

const subnetsPath = (sub: string, o: Group & { vnetName: string }) =>
  `${vnetsPath(sub, o.resourceGroup)}/${o.vnetName}/subnets`

/** Registers `vnet` on the `network` command. */
export function registerVnet(network: Command): void {
  const vnet = network.command('vnet').description('virtual networks and their subnets')
  registerVnetCreate(vnet)
  registerVnetShow(vnet)
  registerVnetList(vnet)
  registerVnetDelete(vnet)
  const subnet = vnet.command('subnet').description("a virtual network's subnets")
  registerSubnetCreate(subnet)
  registerSubnetShow(subnet)
  registerSubnetList(subnet)
  registerSubnetDelete(subnet)
}

/** Registers `network vnet create`: a virtual network, with a first subnet if asked. */
function registerVnetCreate(vnet: Command): void {
  named(common(vnet.command('create').description('create or replace a virtual network')))
    .option('-l, --location <region>', 'region', 'westus')
    .option('--address-prefixes <prefix...>', 'its address space (CIDR)', ['10.0.0.0/16'])
    .option('--subnet-name <name>', 'a subnet to create with it')
    .option('--subnet-prefixes <prefix>', "the subnet's address prefix", '10.0.0.0/24')
    .addHelpText(
      'after',
      '\nExample:\n  osroll network vnet create -g rg -n vnet --address-prefixes 10.1.0.0/16 --subnet-name web --subnet-prefixes 10.1.0.0/24\n',
    )
    .action(
      (
        o: Vnet & {
          location: string
          addressPrefixes: string[]
          subnetName?: string
          subnetPrefixes: string
        },
      ) =>
        run(async () => {
          const { client, sub } = await connect(o)
          const body = {
            location: o.location,
            properties: {
              addressSpace: { addressPrefixes: o.addressPrefixes },
              subnets: o.subnetName
                ? [{ name: o.subnetName, properties: { addressPrefix: o.subnetPrefixes } }]
                : [],
            },
          }
          const path = `${vnetsPath(sub, o.resourceGroup)}/${o.name}`
          print((await client.request('PUT', path, body)).body, o, VNET_COLUMNS)
        }),
    )
}

/** Registers `network vnet show`. */
function registerVnetShow(vnet: Command): void {
  named(common(vnet.command('show').description('one virtual network')))
    .addHelpText('after', '\nExample:\n  osroll network vnet show -g rg -n vnet\n')
    .action((o: Vnet) =>
      run(async () => {
        const { client, sub } = await connect(o)
        print((await client.get(`${vnetsPath(sub, o.resourceGroup)}/${o.name}`)).body, o)
      }),
    )
}

/** Registers `network vnet list`: a group's virtual networks, or the subscription's. */
function registerVnetList(vnet: Command): void {
  common(vnet.command('list').description("the virtual networks of a group, or the subscription's"))
    .option('-g, --resource-group <name>', 'resource group (default: the whole subscription)')
    .addHelpText('after', '\nExample:\n  osroll network vnet list -g rg -o table\n')
    .action((o: Common & { resourceGroup?: string }) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const path = o.resourceGroup
          ? vnetsPath(sub, o.resourceGroup)
          : `/subscriptions/${sub}/providers/Microsoft.Network/virtualNetworks`
        print(await client.list(path), o, VNET_COLUMNS)
      }),
    )
}

/** Registers `network vnet delete`: a virtual network no set uses. */
function registerVnetDelete(vnet: Command): void {
  named(common(vnet.command('delete').description('delete a virtual network no set uses')))
    .addHelpText('after', '\nExample:\n  osroll network vnet delete -g rg -n vnet\n')
    .action((o: Vnet) =>
      run(async () => {
        const { client, sub } = await connect(o)
        await client.request('DELETE', `${vnetsPath(sub, o.resourceGroup)}/${o.name}`)
      }),
    )
}

/** Registers `network vnet subnet create`. */
function registerSubnetCreate(subnet: Command): void {
  subnetNamed(common(subnet.command('create').description('create or replace a subnet')))
    .requiredOption('--address-prefixes <prefix>', "the subnet's address prefix (CIDR)")
    .addHelpText(
      'after',
      '\nExample:\n  osroll network vnet subnet create -g rg --vnet-name vnet -n api --address-prefixes 10.0.2.0/24\n',
    )
    .action((o: SubnetOpts & { addressPrefixes: string }) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const body = { properties: { addressPrefix: o.addressPrefixes } }
        const path = `${subnetsPath(sub, o)}/${o.name}`
        print((await client.request('PUT', path, body)).body, o, SUBNET_COLUMNS)
      }),
    )
}

/** Registers `network vnet subnet show`. */
function registerSubnetShow(subnet: Command): void {
  subnetNamed(common(subnet.command('show').description('one subnet')))
    .addHelpText(
      'after',
      '\nExample:\n  osroll network vnet subnet show -g rg --vnet-name vnet -n web\n',
    )
    .action((o: SubnetOpts) =>
      run(async () => {
        const { client, sub } = await connect(o)
        print((await client.get(`${subnetsPath(sub, o)}/${o.name}`)).body, o)
      }),
    )
}

/** Registers `network vnet subnet list`: a virtual network's subnets. */
function registerSubnetList(subnet: Command): void {
  ofVnet(common(subnet.command('list').description("a virtual network's subnets")))
    .addHelpText(
      'after',
      '\nExample:\n  osroll network vnet subnet list -g rg --vnet-name vnet -o table\n',
    )
    .action((o: Group & { vnetName: string }) =>
      run(async () => {
        const { client, sub } = await connect(o)
        print(await client.list(subnetsPath(sub, o)), o, SUBNET_COLUMNS)
      }),
    )
}

/** Registers `network vnet subnet delete`: a subnet no instance uses. */
function registerSubnetDelete(subnet: Command): void {
  subnetNamed(common(subnet.command('delete').description('delete a subnet no instance uses')))
    .addHelpText(
      'after',
      '\nExample:\n  osroll network vnet subnet delete -g rg --vnet-name vnet -n api\n',
    )
    .action((o: SubnetOpts) =>
      run(async () => {
        const { client, sub } = await connect(o)
        await client.request('DELETE', `${subnetsPath(sub, o)}/${o.name}`)
      }),
    )
}
