/**
 * How a `vmss` command names its scale set: -g and -n, or --ids, and the set's ARM path. Shared
 * by vmss.ts and the command groups it registers, so that none of them imports another.
 */
import type { Command } from 'commander'
import { common, CliError } from './context.js'
import type { Common } from './context.js'
import { agree, parseResourceId, required } from './args.js'

const SET_TYPE = 'Microsoft.Compute/virtualMachineScaleSets'

export type SetOpts = Common & {
  resourceGroup: string
  name: string
  noWait?: boolean
  wait?: boolean
}
export type GivenSet = Omit<SetOpts, 'resourceGroup' | 'name'> & {
  resourceGroup?: string
  name?: string
  ids?: string[]
}

/** The columns of a scale set in `-o table`. */
export const SET_COLUMNS = [
  'name',
  'location',
  'sku.capacity',
  'properties.upgradePolicy.mode',
  'properties.provisioningState',
]

/** The columns of a set's instance in `-o table`. */
export const VM_COLUMNS = [
  'instanceId',
  'name',
  'properties.storageProfile.imageReference.exactVersion',
  'properties.latestModelApplied',
  'properties.provisioningState',
]

/** The ARM path of the scale set `o` names, in subscription `sub`. */
export function setPath(sub: string, o: SetOpts): string {
  return `/subscriptions/${sub}/resourceGroups/${o.resourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/${o.name}`
}

/** Adds the common flags and the ways to name a set (-g and -n, or --ids) to a command. */
export function named(c: Command): Command {
  return common(c)
    .option('-g, --resource-group <name>', 'resource group (or --ids)')
    .option('-n, --name <name>', 'scale set name (or --ids)')
    .option('--ids <id...>', "the scale set's full resource id, instead of -g and -n")
}

/**
 * The scale set a command addresses: -g and -n, or --ids (which also names the subscription).
 * Arguments given beside --ids must agree with it.
 */
export function resolveSet<T extends GivenSet>(o: T): T & SetOpts {
  if (o.ids === undefined)
    return {
      ...o,
      resourceGroup: required(
        o.resourceGroup,
        'the following arguments are required: -g/--resource-group, -n/--name (or --ids)',
      ),
      name: required(o.name, 'the following arguments are required: -n/--name (or --ids)'),
    }
  if (o.ids.length !== 1)
    throw new CliError(
      `--ids takes one scale set id here, not ${o.ids.length}; run the command once per scale set.`,
    )
  const id = parseResourceId(o.ids[0] as string, '--ids', [SET_TYPE])
  const idFlag = '--ids'
  return {
    ...o,
    subscription: agree(o.subscription, id.subscription, { flag: '--subscription', idFlag }),
    resourceGroup: agree(o.resourceGroup, id.resourceGroup, {
      flag: '-g/--resource-group',
      idFlag,
    }),
    name: agree(o.name, id.names[0] as string, { flag: '-n/--name', idFlag }),
  }
}
