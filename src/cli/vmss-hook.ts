/**
 * `osroll vmss hook show|set|delete` (osroll only): the set's lifecycle hooks in
 * `{set}/providers/Osroll.Upgrades/lifecycleHooks/default`, as in
 * docs/rollouts.md § Lifecycle hooks. Registered from vmss.ts, which says how to address a set.
 */
import type { Command } from 'commander'
import { connect, CliError, run } from './context.js'
import { print } from './output.js'
import type { SetAddressing } from './vmss-upgrade-settings.js'

type SetFlags = {
  hook: string
  url: string
  timeout?: string
  defaultAction: string
  maxDeferrals?: string
  maxDeferTime?: string
}

const HOOKS = ['pre-reimage', 'post-healthy']
const NAMES: Record<string, string> = { 'pre-reimage': 'preReimage', 'post-healthy': 'postHealthy' }

const hooksPath = (sub: string, o: { path: (sub: string) => string }) =>
  `${o.path(sub)}/providers/Osroll.Upgrades/lifecycleHooks/default`

export function registerHooks(vmss: Command, set: SetAddressing): void {
  const hook = vmss
    .command('hook')
    .description(
      'per-instance lifecycle hooks: a pre-reimage webhook (continue, defer, skip) and a post-healthy one (continue, fail) (osroll only)',
    )
  registerShow(hook, set)
  registerSet(hook, set)
  registerDelete(hook, set)
}

/** Registers `hook show`: the set's lifecycle hooks. */
function registerShow(hook: Command, set: SetAddressing): void {
  set.named(hook.command('show').description("the set's lifecycle hooks")).action((given: object) =>
    run(async () => {
      const o = set.resolve(given)
      const { client, sub } = await connect(o)
      print((await client.get(hooksPath(sub, o))).body, o)
    }),
  )
}

/** Registers `hook set`: one hook, the other kept. */
function registerSet(hook: Command, set: SetAddressing): void {
  set
    .named(
      hook
        .command('set')
        .description('set one hook (the other stays); it applies to OS rollouts that start later')
        .requiredOption('--hook <name>', `which hook: ${HOOKS.join(' or ')}`)
        .requiredOption('--url <url>', 'the webhook, http:// or https://; osroll POSTs JSON to it')
        .option('--timeout <duration>', 'how long a call may take, PT1S to PT1M', 'PT10S')
        .requiredOption(
          '--default-action <action>',
          'on timeout, no connection, a non-2xx status or an unreadable answer: continue or skip (pre-reimage), continue or fail (post-healthy)',
        )
        .option('--max-deferrals <n>', 'pre-reimage: defer answers allowed per instance (10)')
        .option('--max-defer-time <duration>', 'pre-reimage: their total time (PT1H)'),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  osroll vmss hook set -g rg -n web --hook pre-reimage --url https://drain.example/hook --default-action continue\n  osroll vmss hook set -g rg -n web --hook post-healthy --url http://127.0.0.1:9000/smoke --timeout PT30S --default-action fail\n',
    )
    .action((given: SetFlags) =>
      run(async () => {
        const o = set.resolve(given)
        const name = NAMES[given.hook]
        if (!name) throw new CliError(`Unknown hook '${given.hook}'.`, `use ${HOOKS.join(' or ')}`)
        const maxDeferrals =
          given.maxDeferrals === undefined ? undefined : Number(given.maxDeferrals)
        const properties = {
          [name]: {
            url: given.url,
            timeout: given.timeout ?? 'PT10S',
            defaultAction: given.defaultAction,
            ...(maxDeferrals !== undefined ? { maxDeferrals } : {}),
            ...(given.maxDeferTime !== undefined ? { maxDeferTime: given.maxDeferTime } : {}),
          },
        }
        const { client, sub } = await connect(o)
        print((await client.request('PATCH', hooksPath(sub, o), { properties })).body, o)
      }),
    )
}

/** Registers `hook delete`: one hook (--hook), or all of them. */
function registerDelete(hook: Command, set: SetAddressing): void {
  set
    .named(
      hook
        .command('delete')
        .description("remove one hook (--hook) or all of the set's hooks")
        .option('--hook <name>', `only this hook: ${HOOKS.join(' or ')}`),
    )
    .action((given: { hook?: string }) =>
      run(async () => {
        const o = set.resolve(given)
        const { client, sub } = await connect(o)
        if (given.hook === undefined) {
          await client.request('DELETE', hooksPath(sub, o))
          return
        }
        const name = NAMES[given.hook]
        if (!name) throw new CliError(`Unknown hook '${given.hook}'.`, `use ${HOOKS.join(' or ')}`)
        print(
          (await client.request('PATCH', hooksPath(sub, o), { properties: { [name]: null } })).body,
          o,
        )
      }),
    )
}
