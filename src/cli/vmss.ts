/**
 * `osroll vmss …`: scale set commands shaped like `az vmss` (-g/--resource-group, -n/--name,
 * --no-wait). Long commands wait and show progress: a bar on a terminal, plain lines otherwise.
 */
import type { Command } from 'commander'
import cliProgress from 'cli-progress'
import type { OsrollClient } from '../client/client.js'
import { common, connect, run } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'

type SetOpts = Common & { resourceGroup: string; name: string; noWait?: boolean; wait?: boolean }

const SET_COLUMNS = [
  'name',
  'location',
  'sku.capacity',
  'properties.upgradePolicy.mode',
  'properties.provisioningState',
]
const VM_COLUMNS = [
  'instanceId',
  'name',
  'properties.storageProfile.imageReference.exactVersion',
  'properties.latestModelApplied',
  'properties.provisioningState',
]
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
  const setPath = (sub: string, o: SetOpts) =>
    `/subscriptions/${sub}/resourceGroups/${o.resourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/${o.name}`
  const named = (c: Command) =>
    common(c)
      .requiredOption('-g, --resource-group <name>', 'resource group')
      .requiredOption('-n, --name <name>', 'scale set name')

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

  named(vmss.command('show').description('show a scale set'))
    .addHelpText(
      'after',
      '\nExample:\n  osroll vmss show -g rg -n web --query properties.provisioningState\n',
    )
    .action((o: SetOpts) =>
      run(async () => {
        const { client, sub } = await connect(o)
        print((await client.get(setPath(sub, o))).body, o, SET_COLUMNS)
      }),
    )

  named(vmss.command('list-instances').description('list the instances of a scale set'))
    .addHelpText('after', '\nExample:\n  osroll vmss list-instances -g rg -n web -o table\n')
    .action((o: SetOpts) =>
      run(async () => {
        const { client, sub } = await connect(o)
        print(await client.list(`${setPath(sub, o)}/virtualMachines`), o, VM_COLUMNS)
      }),
    )

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
    .action((o: SetOpts & { instanceId?: string }) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const path = o.instanceId
          ? `${setPath(sub, o)}/virtualMachines/${o.instanceId}/instanceView`
          : `${setPath(sub, o)}/instanceView`
        print((await client.get(path)).body, o)
      }),
    )

  named(vmss.command('get-os-upgrade-history').description('OS image rollouts, newest first'))
    .addHelpText(
      'after',
      '\nExample:\n  osroll vmss get-os-upgrade-history -g rg -n web -o table\n',
    )
    .action((o: SetOpts) =>
      run(async () => {
        const { client, sub } = await connect(o)
        print(await client.list(`${setPath(sub, o)}/osUpgradeHistory`), o, HISTORY_COLUMNS)
      }),
    )

  named(
    vmss
      .command('scale')
      .description('change the number of instances')
      .requiredOption('--new-capacity <n>', 'instances wanted')
      .option('--no-wait', 'return at once'),
  )
    .addHelpText('after', '\nExample:\n  osroll vmss scale -g rg -n web --new-capacity 12\n')
    .action((o: SetOpts & { newCapacity: string }) =>
      run(async () => {
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

  named(
    vmss
      .command('delete')
      .description('delete a scale set and its instances')
      .option('--no-wait', 'return at once'),
  )
    .addHelpText('after', '\nExample:\n  osroll vmss delete -g rg -n web\n')
    .action((o: SetOpts) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const res = await client.request('DELETE', setPath(sub, o))
        const op = res.headers.get('azure-asyncoperation')
        if (op && o.wait !== false) await client.wait(op)
      }),
    )

  const ru = vmss.command('rolling-upgrade').description('start, cancel and watch OS rollouts')
  named(
    ru
      .command('start')
      .description('start an OS rollout to the latest image now (no automatic rollback)')
      .option('--no-wait', 'return at once'),
  )
    .addHelpText('after', '\nExample:\n  osroll vmss rolling-upgrade start -g rg -n web\n')
    .action((o: SetOpts) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const res = await client.request('POST', `${setPath(sub, o)}/osRollingUpgrade`)
        const op = res.headers.get('azure-asyncoperation')
        if (op && o.wait !== false) await watch(client, setPath(sub, o), op)
        print((await client.get(`${setPath(sub, o)}/rollingUpgrades/latest`)).body, o)
      }),
    )
  named(
    ru
      .command('cancel')
      .description('cancel the running rollout after its current batch')
      .option('--no-wait', 'return at once'),
  )
    .addHelpText('after', '\nExample:\n  osroll vmss rolling-upgrade cancel -g rg -n web\n')
    .action((o: SetOpts) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const res = await client.request('POST', `${setPath(sub, o)}/rollingUpgrades/cancel`)
        const op = res.headers.get('azure-asyncoperation')
        if (op && o.wait !== false) await client.wait(op)
        print((await client.get(`${setPath(sub, o)}/rollingUpgrades/latest`)).body, o)
      }),
    )
  named(ru.command('get-latest').description('the latest rollout of any kind'))
    .addHelpText(
      'after',
      '\nExample:\n  osroll vmss rolling-upgrade get-latest -g rg -n web --query properties.progress\n',
    )
    .action((o: SetOpts) =>
      run(async () => {
        const { client, sub } = await connect(o)
        print((await client.get(`${setPath(sub, o)}/rollingUpgrades/latest`)).body, o)
      }),
    )
}

/** Waits for a rollout, showing its progress: a bar on a terminal, a line per change otherwise. */
async function watch(client: OsrollClient, setPath: string, operation: string): Promise<void> {
  const tty = process.stderr.isTTY
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          format: 'rollout [{bar}] {value}/{total} ok {ok} failed {failed} in progress {running}',
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      )
    : null
  let last = ''
  const tick = async (): Promise<void> => {
    const p = (
      (await client.get(`${setPath}/rollingUpgrades/latest`)).body as {
        properties: { progress: Record<string, number> }
      }
    ).properties.progress
    const ok = p['successfulInstanceCount'] ?? 0
    const failed = p['failedInstanceCount'] ?? 0
    const running = p['inProgressInstanceCount'] ?? 0
    const total = ok + failed + running + (p['pendingInstanceCount'] ?? 0)
    if (bar) {
      if (last === '') bar.start(total, 0, { ok, failed, running })
      bar.setTotal(total)
      bar.update(ok + failed, { ok, failed, running })
      last = 'started'
      return
    }
    const line = `rollout: ${ok} succeeded, ${failed} failed, ${running} in progress, ${total - ok - failed - running} pending`
    if (line !== last) console.error(line)
    last = line
  }
  try {
    await client.wait(operation, tick)
    await tick()
  } finally {
    bar?.stop()
  }
}
