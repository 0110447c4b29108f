/**
 * `osroll network lb create` and `osroll network lb probe create` (like az network lb); the
 * virtual networks are network-vnet.ts's.
 */
import type { Command } from 'commander'
import { common, connect, run } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'
import { registerVnet } from './network-vnet.js'
import { agree, enumOption, isResourceId, parseResourceId, required } from './args.js'

/** `--lb-name` with `-g`, or a load balancer's full id (which also names the subscription). */
function lbOf(o: Common & { resourceGroup?: string; lbName: string }): {
  subscription?: string
  resourceGroup: string
  name: string
} {
  if (!isResourceId(o.lbName))
    return {
      subscription: o.subscription,
      resourceGroup: required(
        o.resourceGroup,
        'the following arguments are required: -g/--resource-group (or a load balancer id in --lb-name)',
      ),
      name: o.lbName,
    }
  const id = parseResourceId(o.lbName, '--lb-name', ['Microsoft.Network/loadBalancers'])
  const idFlag = '--lb-name'
  return {
    subscription: agree(o.subscription, id.subscription, { flag: '--subscription', idFlag }),
    resourceGroup: agree(o.resourceGroup, id.resourceGroup, {
      flag: '-g/--resource-group',
      idFlag,
    }),
    name: id.names[0] as string,
  }
}

const lbPath = (sub: string, rg: string, name: string) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/loadBalancers/${name}`

export function registerNetwork(program: Command): void {
  const network = program
    .command('network')
    .description('load balancers, probes, virtual networks and subnets (like az network)')
  registerVnet(network)
  const lb = network.command('lb').description('load balancers')
  registerLbCreate(lb)
  registerProbeCreate(lb)
}

/** Registers `network lb create`. */
function registerLbCreate(lb: Command): void {
  common(lb.command('create').description('create a load balancer'))
    .requiredOption('-g, --resource-group <name>', 'resource group')
    .requiredOption('-n, --name <name>', 'load balancer name')
    .option('-l, --location <region>', 'region', 'westus')
    .addOption(enumOption('--sku <sku>', 'load balancer SKU', ['Basic', 'Standard'], 'Standard'))
    .addHelpText('after', '\nExample:\n  osroll network lb create -g rg -n lb\n')
    .action((o: Common & { resourceGroup: string; name: string; location: string; sku: string }) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const body = { location: o.location, sku: { name: o.sku }, properties: { probes: [] } }
        print((await client.request('PUT', lbPath(sub, o.resourceGroup, o.name), body)).body, o, [
          'name',
          'location',
          'sku.name',
        ])
      }),
    )
}

/** Registers `network lb probe create`: a probe added to the load balancer, or replacing the one of its name. */
function registerProbeCreate(lb: Command): void {
  common(
    lb
      .command('probe')
      .description('health probes')
      .command('create')
      .description('add (or replace) a probe'),
  )
    .option('-g, --resource-group <name>', 'resource group (not needed with a load balancer id)')
    .requiredOption('--lb-name <name-or-id>', 'load balancer: a name, or its full id')
    .requiredOption('-n, --name <name>', 'probe name')
    .addOption(
      enumOption('--protocol <protocol>', 'probe protocol', [
        'Http',
        'Https',
        'Tcp',
      ]).makeOptionMandatory(),
    )
    .requiredOption('--port <port>', 'port probed on each instance')
    .option('--path <path>', 'request path (Http, Https)')
    .option('--interval <seconds>', 'seconds between probes (at least 5)', '15')
    .option('--threshold <n>', 'consecutive results that change the state', '1')
    .addHelpText(
      'after',
      '\nExample:\n  osroll network lb probe create -g rg --lb-name lb -n http --protocol Http --port 8080 --path /health\n',
    )
    .action((o: ProbeOpts) => run(() => createProbe(o)))
}

type ProbeOpts = Common & {
  resourceGroup?: string
  lbName: string
  name: string
  protocol: string
  port: string
  path?: string
  interval: string
  threshold: string
}

/** Adds the probe to its load balancer (replacing one of the same name) and prints it. */
async function createProbe(o: ProbeOpts): Promise<void> {
  const lb = lbOf(o)
  const { client, sub } = await connect({ ...o, subscription: lb.subscription })
  const path = lbPath(sub, lb.resourceGroup, lb.name)
  const current = (await client.get(path)).body as {
    location: string
    sku?: unknown
    properties: { probes?: { name: string }[] }
  }
  const probe = {
    name: o.name,
    properties: {
      protocol: o.protocol,
      port: Number(o.port),
      ...(o.path ? { requestPath: o.path } : {}),
      intervalInSeconds: Number(o.interval),
      probeThreshold: Number(o.threshold),
    },
  }
  const probes = [
    ...(current.properties.probes ?? [])
      .filter((p) => p.name.toLowerCase() !== o.name.toLowerCase())
      .map(({ name, ...rest }) => ({
        name,
        properties: (rest as { properties: unknown }).properties,
      })),
    probe,
  ]
  const updated = (
    await client.request('PUT', path, {
      location: current.location,
      sku: current.sku,
      properties: { probes },
    })
  ).body as { properties: { probes: { name: string }[] } }
  print(
    updated.properties.probes.find((p) => p.name === o.name),
    o,
    ['name', 'properties.protocol', 'properties.port', 'properties.requestPath'],
  )
}
