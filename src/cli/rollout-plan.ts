/**
 * `osroll rollout-plan create|show|list|pause|resume|cancel|delete`: rollout plans, which order
 * the automatic OS rollouts of many scale sets into stages
 * (docs/rollouts.md § Waves across scale sets, docs/api.md § Rollout plans).
 * Talks to the server only through the client.
 */
import type { Command } from 'commander'
import { CliError, common, connect, run } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'

type Named = Common & { name?: string }
type CreateOpts = Named & { image?: string; stage?: string[] }

const LIST_COLUMNS = [
  'name',
  'properties.status.phase',
  'properties.status.version',
  'properties.status.currentStage',
]
const SHOW_COLUMNS = ['name', 'phase', 'startTime', 'bakeEndTime', 'endTime']

const named = (c: Command) => common(c).option('-n, --name <name>', 'rollout plan name')

const path = (sub: string, name?: string) =>
  `/subscriptions/${sub}/providers/Osroll.Upgrades/rolloutPlans${name ? `/${encodeURIComponent(name)}` : ''}`

export function registerRolloutPlan(program: Command): void {
  const plan = program
    .command('rollout-plan')
    .description('order the automatic OS rollouts of many scale sets into stages (osroll only)')
  registerCreate(plan)
  registerShow(plan)
  registerList(plan)
  registerActions(plan)
  registerDelete(plan)
}

/** Registers `rollout-plan create`: a plan, or its stages replaced. */
function registerCreate(plan: Command): void {
  named(plan.command('create').description('create a rollout plan, or replace its stages'))
    .option(
      '--image <image>',
      'the image line it follows: a gallery image definition id, or Publisher:Offer:Sku',
    )
    .option(
      '--stage <stage>',
      'a stage, in order, repeated: NAME[@BAKE]=SET[,SET...]; a SET is a scale set id or RG/NAME (in --subscription); BAKE is ISO 8601 (default PT0S)',
      (v: string, all: string[] = []) => [...all, v],
    )
    .addHelpText(
      'after',
      '\nExample:\n  osroll rollout-plan create -n web --image Canonical:UbuntuServer:18.04-LTS \\\n    --stage canary@PT30M=rg/web-canary --stage europe@PT1H=rg/web-eu,rg/web-uk --stage world=rg2/web-us\n',
    )
    .action((o: CreateOpts) =>
      run(async () => {
        const name = nameOf(o)
        if (!o.image) throw new CliError('the following arguments are required: --image')
        if (!o.stage || o.stage.length === 0)
          throw new CliError('the following arguments are required: --stage (one per stage)')
        const { client, sub } = await connect(o)
        const body = {
          properties: {
            imageReference: imageOf(o.image),
            stages: o.stage.map((s) => stageOf(s, sub)),
          },
        }
        print((await client.request('PUT', path(sub, name), body)).body, o)
      }),
    )
}

/** Registers `rollout-plan show`: a plan with its status per stage and per set. */
function registerShow(plan: Command): void {
  named(plan.command('show').description('a plan with its status per stage and per set'))
    .addHelpText('after', '\nExample:\n  osroll rollout-plan show -n web -o table\n')
    .action((o: Named) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const body = (await client.get(path(sub, nameOf(o)))).body as {
          properties: { status: { stages: unknown[] } }
        }
        // A table shows one row per stage; JSON shows the whole plan.
        const table = o.output === 'table' || o.output === 'tsv'
        print(table && !o.query ? body.properties.status.stages : body, o, SHOW_COLUMNS)
      }),
    )
}

/** Registers `rollout-plan list`. */
function registerList(plan: Command): void {
  common(plan.command('list').description('the rollout plans of the subscription'))
    .addHelpText('after', '\nExample:\n  osroll rollout-plan list -o table\n')
    .action((o: Common) =>
      run(async () => {
        const { client, sub } = await connect(o)
        print(await client.list(path(sub)), o, LIST_COLUMNS)
      }),
    )
}

/** Registers `rollout-plan pause`, `resume` and `cancel`. */
function registerActions(plan: Command): void {
  for (const [action, what] of [
    ['pause', 'hold the next stage and any new wave (the stage in flight finishes)'],
    ['resume', 'go on from where the plan was paused'],
    ['cancel', 'end the wave in flight: stages not reached never start'],
  ] as const)
    named(plan.command(action).description(what))
      .addHelpText('after', `\nExample:\n  osroll rollout-plan ${action} -n web\n`)
      .action((o: Named) =>
        run(async () => {
          const { client, sub } = await connect(o)
          print(
            (await client.request('POST', `${path(sub, nameOf(o))}/${action}`)).body,
            o,
            LIST_COLUMNS,
          )
        }),
      )
}

/** Registers `rollout-plan delete`: its sets roll on their own again. */
function registerDelete(plan: Command): void {
  named(plan.command('delete').description('delete a plan: its sets roll on their own again'))
    .addHelpText('after', '\nExample:\n  osroll rollout-plan delete -n web\n')
    .action((o: Named) =>
      run(async () => {
        const { client, sub } = await connect(o)
        await client.request('DELETE', path(sub, nameOf(o)))
      }),
    )
}

function nameOf(o: Named): string {
  if (!o.name) throw new CliError('the following arguments are required: -n/--name')
  return o.name
}

/** `Publisher:Offer:Sku` (version latest), or a gallery image definition id. */
function imageOf(image: string): Record<string, string> {
  if (image.startsWith('/')) return { id: image }
  const parts = image.split(':')
  if (parts.length < 3 || parts.length > 4 || parts.some((p) => p === ''))
    throw new CliError(
      `--image '${image}' is neither a gallery image definition id nor Publisher:Offer:Sku.`,
    )
  const [publisher, offer, sku] = parts as [string, string, string]
  return { publisher, offer, sku, version: 'latest' }
}

/**
 * `NAME[@BAKE]=SET[,SET...]` → a stage body; the server checks the rest.
 * @example stageOf('canary@PT30M=rg/web', 's') → { name: 'canary', bakeTime: 'PT30M',
 *   scaleSets: ['/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web'] }
 */
function stageOf(text: string, sub: string): Record<string, unknown> {
  const eq = text.indexOf('=')
  if (eq <= 0) throw new CliError(`--stage '${text}' is not NAME[@BAKE]=SET[,SET...].`)
  const [name, bake] = text.slice(0, eq).split('@') as [string, string | undefined]
  const sets = text
    .slice(eq + 1)
    .split(',')
    .filter((s) => s !== '')
    .map((s) => {
      if (s.startsWith('/')) return s
      const [rg, set, ...rest] = s.split('/')
      if (!rg || !set || rest.length > 0)
        throw new CliError(`--stage '${text}': '${s}' is neither a scale set id nor RG/NAME.`)
      return `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachineScaleSets/${set}`
    })
  return { name, scaleSets: sets, ...(bake !== undefined ? { bakeTime: bake } : {}) }
}
