/**
 * `osroll vmss …`: scale set commands shaped like `az vmss` (-g/--resource-group, -n/--name,
 * --no-wait). Long commands wait and show progress: a bar on a terminal, plain lines otherwise.
 */
import { registerReasons } from './vmss-reasons.js'
import type { Command } from 'commander'
import cliProgress from 'cli-progress'
import { ApiError } from '../client/client.js'
import type { OsrollClient } from '../client/client.js'
import { parseDurationMs } from '../core/duration.js'
import { common, connect, run } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'
import { registerUpgradeSettings } from './vmss-upgrade-settings.js'
import { registerHealthGates } from './vmss-health-gates.js'
import { registerHooks } from './vmss-hook.js'
import { registerMaintenanceWindow } from './vmss-maintenance-window.js'
import { registerQuarantine } from './vmss-quarantine.js'
import { applySet } from './set-path.js'
import { startRequest } from './vmss-start.js'
import type { StartOpts } from './vmss-start.js'
import { registerRolloutShow } from './vmss-timeline.js'
import { readFile } from 'node:fs/promises'
import { CliError } from './context.js'
import { agree, enumOption, flagOption, isResourceId, parseResourceId, required } from './args.js'

const SET_TYPE = 'Microsoft.Compute/virtualMachineScaleSets'

type SetOpts = Common & { resourceGroup: string; name: string; noWait?: boolean; wait?: boolean }
type GivenSet = Omit<SetOpts, 'resourceGroup' | 'name'> & {
  resourceGroup?: string
  name?: string
  ids?: string[]
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
  const setPath = (sub: string, o: SetOpts) =>
    `/subscriptions/${sub}/resourceGroups/${o.resourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/${o.name}`
  const named = (c: Command) =>
    common(c)
      .option('-g, --resource-group <name>', 'resource group (or --ids)')
      .option('-n, --name <name>', 'scale set name (or --ids)')
      .option('--ids <id...>', "the scale set's full resource id, instead of -g and -n")

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
    .action((given: GivenSet) =>
      run(async () => {
        const o = resolveSet(given)
        const { client, sub } = await connect(o)
        print((await client.get(setPath(sub, o))).body, o, SET_COLUMNS)
      }),
    )

  named(vmss.command('list-instances').description('list the instances of a scale set'))
    .addHelpText('after', '\nExample:\n  osroll vmss list-instances -g rg -n web -o table\n')
    .action((given: GivenSet) =>
      run(async () => {
        const o = resolveSet(given)
        const { client, sub } = await connect(o)
        print(await client.list(`${setPath(sub, o)}/virtualMachines`), o, VM_COLUMNS)
      }),
    )

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
    .action((o: SetOpts & CreateOpts) =>
      run(async () => {
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
      }),
    )

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

  const ru = vmss.command('rolling-upgrade').description('start, cancel and watch OS rollouts')
  named(
    ru
      .command('start')
      .description(
        "start an OS rollout to the latest image now (Azure's: no automatic rollback); waits, exiting 0 Completed, 1 Faulted, 2 Cancelled, 3 timed out",
      )
      .option('--rollback', 'restore failed instances to their previous OS disk (osroll only)')
      .option(
        '--version <version>',
        'roll out this published version, not the latest (osroll only)',
      )
      .option('--wait', 'wait for the rollout to end (the default)')
      .option('--no-wait', 'return at once')
      .option('--timeout <duration>', 'stop waiting after this long (ISO 8601, e.g. PT30M)'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  osroll vmss rolling-upgrade start -g rg -n web --timeout PT30M\n  osroll vmss rolling-upgrade start -g rg -n web --rollback\n',
    )
    .action((given: GivenSet & WaitOpts & StartOpts) =>
      run(async () => {
        const o = resolveSet(given)
        const timeoutMs = timeoutOf(o)
        const { client, sub } = await connect(o)
        const start = startRequest(setPath(sub, o), o)
        const res = await client.request('POST', start.path, start.body)
        const op = res.headers.get('azure-asyncoperation')
        let timedOut = false
        if (op && o.wait !== false) timedOut = await watch(client, setPath(sub, o), op, timeoutMs)
        const latest = (await client.get(`${setPath(sub, o)}/rollingUpgrades/latest`)).body
        print(latest, o)
        if (o.wait !== false) process.exitCode = exitOf(latest, timedOut, o.timeout)
      }),
    )
  named(
    ru
      .command('cancel')
      .description('cancel the running rollout after its current batch')
      .option('--no-wait', 'return at once'),
  )
    .addHelpText('after', '\nExample:\n  osroll vmss rolling-upgrade cancel -g rg -n web\n')
    .action((given: GivenSet) =>
      run(async () => {
        const o = resolveSet(given)
        const { client, sub } = await connect(o)
        const res = await client.request('POST', `${setPath(sub, o)}/rollingUpgrades/cancel`)
        const op = res.headers.get('azure-asyncoperation')
        if (op && o.wait !== false) await client.wait(op)
        print((await client.get(`${setPath(sub, o)}/rollingUpgrades/latest`)).body, o)
      }),
    )
  named(
    ru
      .command('wait')
      .description(
        'wait for the latest rollout to end: exit 0 Completed, 1 Faulted, 2 Cancelled, 3 timed out',
      )
      .option('--timeout <duration>', 'stop waiting after this long (ISO 8601, e.g. PT30M)'),
  )
    .addHelpText(
      'after',
      '\nExit codes: 0 Completed, 1 Faulted (or an error, which is printed), 2 Cancelled, 3 timed out.\nExample:\n  osroll vmss rolling-upgrade wait -g rg -n web --timeout PT30M -o none\n',
    )
    .action((given: GivenSet & WaitOpts) =>
      run(async () => {
        const o = resolveSet(given)
        const timeoutMs = timeoutOf(o)
        const { client, sub } = await connect(o)
        const timedOut = await watch(client, setPath(sub, o), null, timeoutMs)
        const latest = (await client.get(`${setPath(sub, o)}/rollingUpgrades/latest`)).body
        print(latest, o)
        process.exitCode = exitOf(latest, timedOut, o.timeout)
      }),
    )
  named(
    ru
      .command('plan')
      .description(
        'dry run: the batches an OS rollout would run if it started now, why, the budgets and the worst case (osroll only)',
      )
      .option('--version <version>', 'plan a rollout to this version (default: the latest)')
      .addOption(
        enumOption(
          '--trigger <trigger>',
          'whose policy: Automatic (automatic OS upgrades) or Manual (rolling-upgrade start); default: Automatic when enabled',
          ['Automatic', 'Manual'],
        ),
      ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  osroll vmss rolling-upgrade plan -g rg -n web -o table\n  osroll vmss rolling-upgrade plan -g rg -n web --version 1.2.0 --query properties.worstCaseDuration\n',
    )
    .action((given: GivenSet & { version?: string; trigger?: string }) =>
      run(async () => {
        const o = resolveSet(given)
        const { client, sub } = await connect(o)
        const q = new URLSearchParams()
        if (o.version) q.set('version', o.version)
        if (o.trigger) q.set('trigger', o.trigger)
        const path = `${setPath(sub, o)}/providers/Osroll.Upgrades/plans/default`
        const plan = (await client.get(`${path}${q.size > 0 ? `?${q}` : ''}`)).body as PlanBody
        const p = plan.properties
        console.error(
          `plan: ${p.batches.length} batch(es) to ${p.targetImageVersion} (${p.trigger}); pre-check ${p.precheck.passes ? 'passes' : `fails: ${p.precheck.error?.message}`}; worst case ${p.worstCaseDuration}${p.awaitingApproval.length > 0 ? `; ${p.awaitingApproval.length} instance(s) await approval` : ''}${p.awaitingManualUpgrade.length > 0 ? `; ${p.awaitingManualUpgrade.length} instance(s) behind the model wait for manual-upgrade` : ''}`,
        )
        const tabular = o.output === 'table' || o.output === 'tsv'
        print(tabular && !o.query ? p.batches.map(batchRow) : plan, o)
      }),
    )
  registerReasons(ru)
  for (const [action, what] of [
    [
      'pause',
      'pause the running rollout: its current batch finishes, no new one starts (osroll only)',
    ],
    ['resume', 'resume a paused rollout where it stopped (osroll only)'],
  ] as const) {
    named(ru.command(action).description(what))
      .addHelpText('after', `\nExample:\n  osroll vmss rolling-upgrade ${action} -g rg -n web\n`)
      .action((given: GivenSet) =>
        run(async () => {
          const o = resolveSet(given)
          const { client, sub } = await connect(o)
          const path = `${setPath(sub, o)}/providers/Osroll.Upgrades/rollouts/current`
          print((await client.request('POST', `${path}/${action}`)).body, o)
        }),
      )
  }
  registerRolloutShow(ru, { named, resolveSet, setPath })
  named(ru.command('get-latest').description('the latest rollout of any kind'))
    .addHelpText(
      'after',
      '\nExample:\n  osroll vmss rolling-upgrade get-latest -g rg -n web --query properties.progress\n',
    )
    .action((given: GivenSet) =>
      run(async () => {
        const o = resolveSet(given)
        const { client, sub } = await connect(o)
        print((await client.get(`${setPath(sub, o)}/rollingUpgrades/latest`)).body, o)
      }),
    )
}

type PlanBody = {
  properties: {
    trigger: string
    targetImageVersion: string
    precheck: { passes: boolean; error: { message: string } | null }
    batches: {
      batch: number
      instances: {
        instanceId: string
        zone: string | null
        platformUpdateDomain: number
        method: string
      }[]
      unhealthyBudget: { moreAllowed: number }
      upgradedFailuresAllowed: number
      /** With maintenance windows only (docs/rollouts.md § Maintenance windows). */
      window?: { estimatedStart: string; opensAt: string; closesAt: string }
    }[]
    awaitingApproval: string[]
    awaitingManualUpgrade: string[]
    worstCaseDuration: string
  }
}

/** One row of `plan -o table`: a batch. */
function batchRow(b: PlanBody['properties']['batches'][number]): Record<string, unknown> {
  const distinct = (xs: unknown[]) => [...new Set(xs.map(String))].join(' ')
  return {
    batch: b.batch,
    instances: b.instances.map((i) => i.instanceId).join(' '),
    zones: distinct(b.instances.map((i) => i.zone ?? '-')),
    updateDomains: distinct(b.instances.map((i) => i.platformUpdateDomain)),
    method: distinct(b.instances.map((i) => i.method)),
    moreUnhealthyAllowed: b.unhealthyBudget.moreAllowed,
    upgradedFailuresAllowed: b.upgradedFailuresAllowed,
    // Maintenance windows: the batch's latest start and its window (a column only with them).
    ...(b.window
      ? { latestStart: b.window.estimatedStart, window: `${b.window.opensAt}–${b.window.closesAt}` }
      : {}),
  }
}

type WaitOpts = { wait?: boolean; timeout?: string }

/** What `wait` and `start` exit with: documented in the commands' help and README. */
const EXIT_CODES: Readonly<Record<string, number>> = { Completed: 0, Faulted: 1, Cancelled: 2 }
const EXIT_TIMED_OUT = 3
const ENDED = new Set(Object.keys(EXIT_CODES))

function timeoutOf(o: WaitOpts): number | undefined {
  if (o.timeout === undefined) return undefined
  const ms = parseDurationMs(o.timeout)
  if (ms === undefined || ms <= 0)
    throw new CliError(
      `--timeout '${o.timeout}' is not a positive ISO 8601 duration.`,
      'write it like PT30M, PT1H or PT90S',
    )
  return ms
}

function codeOf(latest: unknown): string | undefined {
  return (latest as { properties?: { runningStatus?: { code?: string } } }).properties
    ?.runningStatus?.code
}

function exitOf(latest: unknown, timedOut: boolean, timeout: string | undefined): number {
  if (timedOut) {
    console.error(
      `osroll: the rollout did not end within ${timeout}; it goes on (\`osroll vmss rolling-upgrade wait\` waits again)`,
    )
    return EXIT_TIMED_OUT
  }
  return EXIT_CODES[codeOf(latest) ?? ''] ?? 1
}

/**
 * Waits for a rollout to end, showing its progress (a bar on a terminal, a line per change
 * otherwise): the one `operation` tracks, or with null the set's latest. True when `timeoutMs`
 * ran out first. An operation that failed is not an error here: the rollout's status says how.
 */
async function watch(
  client: OsrollClient,
  setPath: string,
  operation: string | null,
  timeoutMs: number | undefined,
): Promise<boolean> {
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
  let ended = false
  const tick = async (): Promise<void> => {
    const latest = (await client.get(`${setPath}/rollingUpgrades/latest`)).body as {
      properties: { progress: Record<string, number>; runningStatus?: { code?: string } }
    }
    ended = ENDED.has(codeOf(latest) ?? '')
    const p = latest.properties.progress
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
  const end = Date.now() + (timeoutMs ?? Number.POSITIVE_INFINITY)
  try {
    if (operation) {
      const waited = await client
        .wait(operation, tick, timeoutMs !== undefined ? { timeoutMs } : {})
        .catch((err: unknown) => {
          if (err instanceof ApiError && err.code === 'Timeout') return 'TimedOut'
          if (err instanceof ApiError && err.status === 200) return 'Failed' // the operation's own failure
          throw err
        })
      await tick()
      return waited === 'TimedOut'
    }
    for (;;) {
      await tick()
      if (ended) return false
      if (Date.now() >= end) return true
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, end - Date.now()))))
    }
  } finally {
    bar?.stop()
  }
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
