/**
 * `osroll vmss …`: scale set commands shaped like `az vmss` (-g/--resource-group, -n/--name,
 * --no-wait). Long commands wait and show progress: a bar on a terminal, plain lines otherwise.
 * One function registers each command (or group), called in the order `--help` lists them.
 */
import type { Command } from 'commander'
import { common, connect, run } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'
import { registerUpgradeSettings } from './vmss-upgrade-settings.js'
import { registerHealthGates } from './vmss-health-gates.js'
import { registerHooks } from './vmss-hook.js'
import { registerMaintenanceWindow } from './vmss-maintenance-window.js'
import { registerQuarantine } from './vmss-quarantine.js'
import { applySet } from './set-path.js'
import { registerCreate } from './vmss-create.js'
import { registerRollingUpgrade } from './vmss-rolling-upgrade.js'
import { named, resolveSet, setPath, SET_COLUMNS, VM_COLUMNS } from './vmss-set.js'
import type { GivenSet } from './vmss-set.js'

const NIC_COLUMNS = ['name', 'properties.ipConfigurations.0.properties.privateIPAddress']
const HISTORY_COLUMNS = [
  'properties.runningStatus.code',
  'properties.runningStatus.startTime',
  'properties.runningStatus.endTime',
  'properties.startedBy',
  'properties.targetImageReference.version',
  'properties.progress.successfulInstanceCount',
  'properties.progress.failedInstanceCount',
]

export function registerVmss(program: Command): void {
  const vmss = program.command('vmss').description('manage scale sets (like az vmss)')
  registerList(vmss)
  registerShow(vmss)
  registerListInstances(vmss)
  registerNicList(vmss)
  registerGetInstanceView(vmss)
  registerHistory(vmss)
  registerScale(vmss)
  registerDelete(vmss)
  registerCreate(vmss)
  registerUpdate(vmss)
  registerManualUpgrade(vmss)
  const addressing = {
    named,
    resolve: (given: object) => {
      const o = resolveSet(given as GivenSet)
      return { ...o, path: (sub: string) => setPath(sub, o) }
    },
  }
  registerUpgradeSettings(vmss, addressing)
  registerHooks(vmss, addressing)
  registerMaintenanceWindow(vmss, addressing)

  registerHealthGates(vmss, {
    named,
    resolve: (given) => {
      const o = resolveSet(given as GivenSet)
      return { ...o, path: (sub: string) => setPath(sub, o) }
    },
  })

  registerQuarantine(vmss, named, resolveSet, setPath)
  registerRollingUpgrade(vmss)
}

/** Registers `list`: the scale sets of a subscription, or of one group. */
function registerList(vmss: Command): void {
  common(
    vmss
      .command('list')
      .description('list scale sets')
      .option('-g, --resource-group <name>', 'only this resource group'),
  )
    .addHelpText('after', '\nExample:\n  osroll vmss list -g rg -o table\n')
    .action((o: Common & { resourceGroup?: string }) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const path = o.resourceGroup
          ? `/subscriptions/${sub}/resourceGroups/${o.resourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets`
          : `/subscriptions/${sub}/providers/Microsoft.Compute/virtualMachineScaleSets`
        print(await client.list(path), o, SET_COLUMNS)
      }),
    )
}

/** Registers `show`. */
function registerShow(vmss: Command): void {
  named(vmss.command('show').description('show a scale set'))
    .addHelpText(
      'after',
      '\nExample:\n  osroll vmss show -g rg -n web --query properties.provisioningState\n',
    )
    .action((given: GivenSet) =>
      run(async () => {
        const o = resolveSet(given)
        const { client, sub } = await connect(o)
        print((await client.get(setPath(sub, o))).body, o, SET_COLUMNS)
      }),
    )
}

/** Registers `list-instances`. */
function registerListInstances(vmss: Command): void {
  named(vmss.command('list-instances').description('list the instances of a scale set'))
    .addHelpText('after', '\nExample:\n  osroll vmss list-instances -g rg -n web -o table\n')
    .action((given: GivenSet) =>
      run(async () => {
        const o = resolveSet(given)
        const { client, sub } = await connect(o)
        print(await client.list(`${setPath(sub, o)}/virtualMachines`), o, VM_COLUMNS)
      }),
    )
}

/** Registers `nic list`: the network interfaces, with private addresses. */
function registerNicList(vmss: Command): void {
  const nic = vmss.command('nic').description('network interfaces of scale set instances')
  common(
    nic
      .command('list')
      .description('list the network interfaces of a scale set, with private IP addresses')
      .requiredOption('-g, --resource-group <name>', 'resource group')
      .requiredOption('--vmss-name <name>', 'scale set name'),
  )
    .addHelpText(
      'after',
      "\nExample:\n  osroll vmss nic list -g rg --vmss-name web --query '[].properties.ipConfigurations[0].properties.privateIPAddress' -o tsv\n",
    )
    .action((o: Common & { resourceGroup: string; vmssName: string }) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const path = setPath(sub, { ...o, name: o.vmssName })
        print(await client.list(`${path}/networkInterfaces`), o, NIC_COLUMNS)
      }),
    )
}

/** Registers `get-instance-view`: the set's, or one instance's. */
function registerGetInstanceView(vmss: Command): void {
  named(
    vmss
      .command('get-instance-view')
      .description("the set's instance view, or one instance's")
      .option('--instance-id <id>', 'one instance'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  osroll vmss get-instance-view -g rg -n web --instance-id 3\n',
    )
    .action((given: GivenSet & { instanceId?: string }) =>
      run(async () => {
        const o = resolveSet(given)
        const { client, sub } = await connect(o)
        const path = o.instanceId
          ? `${setPath(sub, o)}/virtualMachines/${o.instanceId}/instanceView`
          : `${setPath(sub, o)}/instanceView`
        print((await client.get(path)).body, o)
      }),
    )
}

/** Registers `get-os-upgrade-history`: OS image rollouts, newest first. */
function registerHistory(vmss: Command): void {
  named(vmss.command('get-os-upgrade-history').description('OS image rollouts, newest first'))
    .addHelpText(
      'after',
      '\nExample:\n  osroll vmss get-os-upgrade-history -g rg -n web -o table\n',
    )
    .action((given: GivenSet) =>
      run(async () => {
        const o = resolveSet(given)
        const { client, sub } = await connect(o)
        print(await client.list(`${setPath(sub, o)}/osUpgradeHistory`), o, HISTORY_COLUMNS)
      }),
    )
}

/** Registers `scale`: a new capacity; waits unless --no-wait. */
function registerScale(vmss: Command): void {
  named(
    vmss
      .command('scale')
      .description('change the number of instances')
      .requiredOption('--new-capacity <n>', 'instances wanted')
      .option('--no-wait', 'return at once'),
  )
    .addHelpText('after', '\nExample:\n  osroll vmss scale -g rg -n web --new-capacity 12\n')
    .action((given: GivenSet & { newCapacity: string }) =>
      run(async () => {
        const o = resolveSet(given)
        const capacity = Number(o.newCapacity)
        if (!Number.isInteger(capacity) || capacity < 0)
          throw new Error(`--new-capacity must be a whole number, not '${o.newCapacity}'`)
        const { client, sub } = await connect(o)
        const res = await client.request('PATCH', setPath(sub, o), { sku: { capacity } })
        const op = res.headers.get('azure-asyncoperation')
        if (op && o.wait !== false) await client.wait(op)
        print((await client.get(setPath(sub, o))).body, o, SET_COLUMNS)
      }),
    )
}

/** Registers `delete`: the set and its instances; waits unless --no-wait. */
function registerDelete(vmss: Command): void {
  named(
    vmss
      .command('delete')
      .description('delete a scale set and its instances')
      .option('--no-wait', 'return at once'),
  )
    .addHelpText('after', '\nExample:\n  osroll vmss delete -g rg -n web\n')
    .action((given: GivenSet) =>
      run(async () => {
        const o = resolveSet(given)
        const { client, sub } = await connect(o)
        const res = await client.request('DELETE', setPath(sub, o))
        const op = res.headers.get('azure-asyncoperation')
        if (op && o.wait !== false) await client.wait(op)
      }),
    )
}

/** Registers `update`: az-style --set Path=value on the set. */
function registerUpdate(vmss: Command): void {
  named(
    vmss.command('update').description('change a scale set, az-style: --set Path.To.Field=value'),
  )
    .requiredOption(
      '--set <expression...>',
      'Path=value (case-insensitive path, JSON value), repeatable',
    )
    .option('--no-wait', 'return at once')
    .addHelpText(
      'after',
      '\nExample:\n  osroll vmss update -g rg -n web --set upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercent=50\n  (paths start inside properties, as with az; use properties.… or sku.… to be explicit)\n',
    )
    .action((given: GivenSet & { set: string[] }) =>
      run(async () => {
        const o = resolveSet(given)
        const { client, sub } = await connect(o)
        let doc = (await client.get(setPath(sub, o))).body as Record<string, unknown>
        for (const expression of o.set) {
          const top = expression.split(/[.=[]/)[0]?.toLowerCase() ?? ''
          const rooted = [
            'properties',
            'sku',
            'tags',
            'zones',
            'location',
            'identity',
            'plan',
          ].includes(top)
            ? expression
            : `properties.${expression}`
          doc = applySet(doc, rooted)
        }
        const res = await client.request('PUT', setPath(sub, o), doc)
        const op = res.headers.get('azure-asyncoperation')
        if (op && o.wait !== false) await client.wait(op)
        print((await client.get(setPath(sub, o))).body, o, SET_COLUMNS)
      }),
    )
}

/** Registers `manual-upgrade`: the latest model on the instances given. */
function registerManualUpgrade(vmss: Command): void {
  named(
    vmss
      .command('manual-upgrade')
      .description('apply the latest model to these instances (upgrade mode Manual)'),
  )
    .requiredOption('--instance-ids <ids...>', 'instance ids')
    .option('--no-wait', 'return at once')
    .addHelpText(
      'after',
      '\nExample:\n  osroll vmss manual-upgrade -g rg -n web --instance-ids 0 1 2\n',
    )
    .action((given: GivenSet & { instanceIds: string[] }) =>
      run(async () => {
        const o = resolveSet(given)
        const { client, sub } = await connect(o)
        const res = await client.request('POST', `${setPath(sub, o)}/manualupgrade`, {
          instanceIds: o.instanceIds,
        })
        const op = res.headers.get('azure-asyncoperation')
        if (op && o.wait !== false) await client.wait(op)
        print(await client.list(`${setPath(sub, o)}/virtualMachines`), o, VM_COLUMNS)
      }),
    )
}
