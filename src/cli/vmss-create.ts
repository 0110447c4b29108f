/**
 * `osroll vmss create`: a scale set from az-style flags (--image, --instance-count, --lb and
 * --health-probe, …); waits, telling how many instances are provisioned, unless --no-wait.
 */
import type { Command } from 'commander'
import { readFile } from 'node:fs/promises'
import { common, connect, run, CliError } from './context.js'
import { print } from './output.js'
import { enumOption, flagOption, isResourceId, parseResourceId } from './args.js'
import { SET_COLUMNS, setPath } from './vmss-set.js'
import type { SetOpts } from './vmss-set.js'

/**
 * Registers `vmss create` on the `vmss` command.
 * @example osroll vmss create -g rg -n web --image Canonical:UbuntuServer:18.04-LTS:latest
 */
export function registerCreate(vmss: Command): void {
  common(vmss.command('create').description('create a scale set'))
    .requiredOption('-g, --resource-group <name>', 'resource group')
    .requiredOption('-n, --name <name>', 'scale set name')
    .requiredOption(
      '--image <urn-or-id>',
      'Publisher:Offer:Sku:Version (version may be latest), or a gallery image id',
    )
    .option('--instance-count <n>', 'instances', '2')
    .option(
      '--vm-sku <size>',
      'VM size (GET …/locations/{loc}/vmSizes lists them)',
      'Standard_D2s_v3',
    )
    .option('-l, --location <region>', 'region', 'westus')
    .addOption(
      enumOption(
        '--upgrade-policy-mode <mode>',
        'upgrade policy mode',
        ['Automatic', 'Manual', 'Rolling'],
        'Manual',
      ),
    )
    .addOption(
      flagOption(
        '--enable-auto-os-upgrade [bool]',
        'automatic OS image upgrades (true when given alone; needs a health probe)',
      ),
    )
    .option(
      '--lb <name-or-id>',
      'load balancer of the health probe: a name (same resource group) or an id',
    )
    .option(
      '--health-probe <name-or-id>',
      'the health probe: a probe name of --lb, or a full probe id',
    )
    .option('--zones <zones...>', 'availability zones, e.g. 1 2 3')
    .option('--data-disk-sizes-gb <sizes...>', 'one empty data disk per size (luns 0, 1, …)')
    .option('--computer-name-prefix <prefix>', 'computer name prefix (default: the name)')
    .option('--custom-data <file>', 'custom data (a #! script runs once per new OS disk)')
    .option('--no-wait', 'return at once')
    .addHelpText(
      'after',
      '\nExample:\n  osroll vmss create -g rg -n web --image Canonical:UbuntuServer:18.04-LTS:latest --instance-count 10 \\\n    --lb lb --health-probe http --upgrade-policy-mode Automatic --enable-auto-os-upgrade\n',
    )
    .action((o: SetOpts & CreateOpts) => run(() => create(o)))
}

/** Creates the set; waits for it unless --no-wait, telling how many instances are provisioned. */
async function create(o: SetOpts & CreateOpts): Promise<void> {
  const { client, sub } = await connect(o)
  const body = await createBody(sub, o)
  const res = await client.request('PUT', setPath(sub, o), body)
  const op = res.headers.get('azure-asyncoperation')
  if (op && o.wait !== false) {
    let last = ''
    const report = async (): Promise<void> => {
      const vms = (await client.list(`${setPath(sub, o)}/virtualMachines`)) as {
        properties: { provisioningState: string }
      }[]
      const line = `instances: ${vms.filter((v) => v.properties.provisioningState === 'Succeeded').length}/${body.sku.capacity} provisioned`
      if (line !== last) console.error(line)
      last = line
    }
    await client.wait(op, report)
    await report()
  }

  print((await client.get(setPath(sub, o))).body, o, SET_COLUMNS)
}

type CreateOpts = {
  image: string
  instanceCount: string
  vmSku: string
  location: string
  upgradePolicyMode: string
  enableAutoOsUpgrade?: boolean
  lb?: string
  healthProbe?: string
  zones?: string[]
  dataDiskSizesGb?: string[]
  computerNamePrefix?: string
  customData?: string
}

/** The ARM body of `vmss create` from its flags. */
async function createBody(
  sub: string,
  o: SetOpts & CreateOpts,
): Promise<{ sku: { name: string; capacity: number } } & Record<string, unknown>> {
  const capacity = Number(o.instanceCount)
  if (!Number.isInteger(capacity) || capacity < 0)
    throw new CliError(`--instance-count must be a whole number, not '${o.instanceCount}'`)
  const imageReference = imageOf(o.image)
  const probeId = probeOf(sub, o)
  const customData = o.customData ? (await readFile(o.customData)).toString('base64') : undefined
  return {
    location: o.location,
    sku: { name: o.vmSku, capacity },
    ...(o.zones ? { zones: o.zones } : {}),
    properties: {
      upgradePolicy: {
        mode: o.upgradePolicyMode,
        ...(o.enableAutoOsUpgrade !== undefined
          ? { automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: o.enableAutoOsUpgrade } }
          : {}),
      },
      virtualMachineProfile: {
        osProfile: {
          computerNamePrefix: o.computerNamePrefix ?? o.name.slice(0, 9),
          adminUsername: 'osroll',
          ...(customData ? { customData } : {}),
        },
        storageProfile: {
          imageReference,
          ...(o.dataDiskSizesGb
            ? {
                dataDisks: o.dataDiskSizesGb.map((size, lun) => ({
                  lun,
                  diskSizeGB: Number(size),
                  createOption: 'Empty',
                })),
              }
            : {}),
        },
        ...(probeId ? { networkProfile: { healthProbe: { id: probeId } } } : {}),
      },
    },
  }
}

const GALLERY_IMAGE = 'Microsoft.Compute/galleries/images'
const IMAGE_TYPES = [GALLERY_IMAGE, `${GALLERY_IMAGE}/versions`, 'Microsoft.Compute/images']

/** `--image`: Publisher:Offer:Sku:Version, or the id of a gallery image, image version or image. */
function imageOf(image: string): Record<string, string> {
  if (isResourceId(image)) {
    parseResourceId(image, '--image', IMAGE_TYPES)
    return { id: image }
  }
  const urn = image.split(':')
  if (urn.length === 4 && urn.every((part) => part !== ''))
    return { publisher: urn[0], offer: urn[1], sku: urn[2], version: urn[3] } as Record<
      string,
      string
    >
  throw new CliError(
    `--image '${image}' must be Publisher:Offer:Sku:Version (version may be latest) or a gallery image id; osroll has no image aliases such as Ubuntu2204.`,
    '`osroll vm image list` shows the URNs osroll has',
  )
}

const LB = 'Microsoft.Network/loadBalancers'

/** `--lb` as a full id: as given when it is one (checked), else the name's in `-g`. */
function lbIdOf(sub: string, resourceGroup: string, lb: string): string {
  if (!isResourceId(lb))
    return `/subscriptions/${sub}/resourceGroups/${resourceGroup}/providers/${LB}/${lb}`
  parseResourceId(lb, '--lb', [LB])
  return lb
}

/**
 * The health probe's id from `--lb` and `--health-probe`, each a name or a full id. A probe id
 * needs no --lb; given both, the load balancer they name must be the same.
 */
function probeOf(sub: string, o: SetOpts & CreateOpts): string | undefined {
  if (o.healthProbe === undefined) {
    if (o.lb !== undefined)
      throw new CliError(
        '--lb needs --health-probe: osroll uses the load balancer only for its health probe.',
      )
    return undefined
  }
  const lbId = o.lb === undefined ? undefined : lbIdOf(sub, o.resourceGroup, o.lb)
  if (!isResourceId(o.healthProbe)) {
    if (lbId === undefined)
      throw new CliError(
        `--health-probe '${o.healthProbe}' is a probe name: add --lb, or pass the probe's full id.`,
      )
    return `${lbId}/probes/${o.healthProbe}`
  }
  const probe = parseResourceId(o.healthProbe, '--health-probe', [`${LB}/probes`])
  const probeLb = o.healthProbe.slice(0, o.healthProbe.toLowerCase().lastIndexOf('/probes/'))
  if (lbId !== undefined && lbId.toLowerCase() !== probeLb.toLowerCase())
    throw new CliError(
      `--lb '${o.lb}' does not match --health-probe, whose load balancer is '${probeLb}'.`,
      'drop --lb (the probe id says it all), or make the two agree',
    )
  return `${probeLb}/probes/${probe.names[1] as string}`
}
