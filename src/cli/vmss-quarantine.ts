/**
 * `osroll vmss quarantine list|show|release`: the image versions quarantined on a scale set
 * after a rollout faulted them, and their release
 * (docs/rollouts.md § Quarantine and roll forward). Talks to the server only through the client.
 */
import type { Command } from 'commander'
import { connect, run, CliError } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'

type SetOpts = Common & { resourceGroup: string; name: string }
type Given = Common & { resourceGroup?: string; name?: string; ids?: string[]; version?: string }

const COLUMNS = [
  'properties.version',
  'properties.quarantinedAt',
  'properties.rolloutId',
  'properties.reason.code',
]

/** Registers `vmss quarantine` on the `vmss` command, with vmss.ts's set options and paths. */
export function registerQuarantine(
  vmss: Command,
  named: (c: Command) => Command,
  resolveSet: (o: Given) => Given & SetOpts,
  setPath: (sub: string, o: SetOpts) => string,
): void {
  const base = (sub: string, o: SetOpts) =>
    `${setPath(sub, o)}/providers/Osroll.Upgrades/quarantinedVersions`
  const q = vmss
    .command('quarantine')
    .description(
      'image versions quarantined after a faulted rollout, and their release (osroll only)',
    )
  named(q.command('list').description('the quarantined versions, newest first'))
    .addHelpText('after', '\nExample:\n  osroll vmss quarantine list -g rg -n web -o table\n')
    .action((given: Given) =>
      run(async () => {
        const o = resolveSet(given)
        const { client, sub } = await connect(o)
        print(await client.list(base(sub, o)), o, COLUMNS)
      }),
    )
  for (const [action, what] of [
    ['show', 'one quarantined version: the rollout that faulted it, when, and its error'],
    ['release', 'release a version: it may be rolled out automatically and used again'],
  ] as const) {
    named(q.command(action).description(what))
      .option('--version <version>', 'the image version, e.g. 1.2.0')
      .addHelpText(
        'after',
        `\nExample:\n  osroll vmss quarantine ${action} -g rg -n web --version 1.2.0\n`,
      )
      .action((given: Given) =>
        run(async () => {
          const o = resolveSet(given)
          if (!o.version) throw new CliError('the following arguments are required: --version')
          const { client, sub } = await connect(o)
          const path = `${base(sub, o)}/${encodeURIComponent(o.version)}`
          const res =
            action === 'show'
              ? await client.get(path)
              : await client.request('POST', `${path}/release`)
          print(res.body, o, COLUMNS)
        }),
      )
  }
}
