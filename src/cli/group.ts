/**
 * `osroll group create|show|list|delete|exists`: resource groups, like `az group`
 * (docs/api.md § Resource groups). `-n` and `-g` both name the group, as in az; `delete` asks
 * for confirmation unless `--yes`, and waits for the group's `Location` unless `--no-wait`.
 */
import { createInterface } from 'node:readline/promises'
import type { Command } from 'commander'
import { ApiError } from '../client/client.js'
import { CliError, common, connect, run } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'

type Named = Common & { name?: string; resourceGroup?: string }
const COLUMNS = ['name', 'location', 'properties.provisioningState']

const named = (c: Command) =>
  common(c)
    .option('-n, --name <name>', 'resource group name')
    .option('-g, --resource-group <name>', 'resource group name (the same as -n)')

const path = (sub: string, o: Named) => `/subscriptions/${sub}/resourcegroups/${nameOf(o)}`

export function registerGroup(program: Command): void {
  const group = program.command('group').description('manage resource groups (like az group)')
  registerCreate(group)
  registerShow(group)
  registerList(group)
  registerDelete(group)
  registerExists(group)
}

/** Registers `group create`: a resource group, or its tags updated. */
function registerCreate(group: Command): void {
  named(group.command('create').description('create a resource group, or update its tags'))
    .requiredOption('-l, --location <region>', 'region (it cannot change later)')
    .option('--tags <tags...>', 'space-separated tags: key[=value]')
    .option('--managed-by <id>', 'the id of the resource that manages the group')
    .addHelpText('after', '\nExample:\n  osroll group create -g rg -l westus --tags team=web\n')
    .action((o: Named & { location: string; tags?: string[]; managedBy?: string }) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const body = {
          location: o.location,
          ...(o.tags ? { tags: tagsOf(o.tags) } : {}),
          ...(o.managedBy ? { managedBy: o.managedBy } : {}),
        }
        print((await client.request('PUT', path(sub, o), body)).body, o, COLUMNS)
      }),
    )
}

/** Registers `group show`. */
function registerShow(group: Command): void {
  named(group.command('show').description('show a resource group'))
    .addHelpText('after', '\nExample:\n  osroll group show -g rg --query location\n')
    .action((o: Named) =>
      run(async () => {
        const { client, sub } = await connect(o)
        print((await client.get(path(sub, o))).body, o, COLUMNS)
      }),
    )
}

/** Registers `group list`: the resource groups of the subscription. */
function registerList(group: Command): void {
  common(group.command('list').description('list the resource groups of the subscription'))
    .addHelpText('after', '\nExample:\n  osroll group list -o table\n')
    .action((o: Common) =>
      run(async () => {
        const { client, sub } = await connect(o)
        print(await client.list(`/subscriptions/${sub}/resourcegroups`), o, COLUMNS)
      }),
    )
}

/** Registers `group delete`: a group and everything in it. */
function registerDelete(group: Command): void {
  named(group.command('delete').description('delete a resource group and everything in it'))
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--no-wait', 'return at once')
    .addHelpText('after', '\nExample:\n  osroll group delete -g rg --yes\n')
    .action((o: Named & { yes?: boolean; wait?: boolean }) =>
      run(async () => {
        nameOf(o) // a missing or conflicting name is refused before the question
        if (!o.yes) await confirm()
        const { client, sub } = await connect(o)
        const res = await client.request('DELETE', path(sub, o))
        const location = res.headers.get('location')
        if (location && o.wait !== false) await client.follow(location)
      }),
    )
}

/** Registers `group exists`: true or false. */
function registerExists(group: Command): void {
  named(group.command('exists').description('whether a resource group exists: true or false'))
    .addHelpText('after', '\nExample:\n  osroll group exists -n rg\n')
    .action((o: Named) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const exists = await client.request('HEAD', path(sub, o)).then(
          () => true,
          (err: unknown) => {
            if (err instanceof ApiError && err.status === 404) return false
            throw err
          },
        )
        print(exists, o)
      }),
    )
}

/** The group that `-n` or `-g` names (both may be given when they agree, without case). */
function nameOf(o: Named): string {
  const { name, resourceGroup } = o
  if (
    name !== undefined &&
    resourceGroup !== undefined &&
    name.toLowerCase() !== resourceGroup.toLowerCase()
  )
    throw new CliError(
      `-n/--name '${name}' and -g/--resource-group '${resourceGroup}' name different groups.`,
      'give one of them',
    )
  const given = name ?? resourceGroup
  if (given === undefined || given === '')
    throw new CliError('the following arguments are required: -n/--name (or -g/--resource-group)')
  return given
}

/**
 * az's `--tags`: `key=value`, or `key` alone for an empty value.
 * @example tagsOf(['team=web', 'env']) → { team: 'web', env: '' }
 */
export function tagsOf(tags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const t of tags) {
    if (t === '') continue
    const at = t.indexOf('=')
    out[at < 0 ? t : t.slice(0, at)] = at < 0 ? '' : t.slice(at + 1)
  }
  return out
}

/** az's confirmation: a y/n question on a terminal; elsewhere `--yes` is needed. */
async function confirm(): Promise<void> {
  if (!process.stdin.isTTY)
    throw new CliError(
      'Unable to prompt for confirmation as no tty available. Use --yes.',
      'osroll group delete -g NAME --yes',
    )
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const answer = await rl.question('Are you sure you want to perform this operation? (y/n): ')
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('Operation cancelled.')
  } finally {
    rl.close()
  }
}
