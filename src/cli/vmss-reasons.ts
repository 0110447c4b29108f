/**
 * `osroll vmss rolling-upgrade reasons`: the one catalogue of reason codes rollouts record
 * (docs/rollouts.md § Reason catalogue), printed from the CLI's own copy: no server needed.
 */
import type { Command } from 'commander'
import { REASONS } from '../core/rollout/reasons.js'
import { CliError, common, run } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'

/** Registers `reasons` on `vmss rolling-upgrade`. */
export function registerReasons(ru: Command): void {
  common(
    ru
      .command('reasons')
      .description(
        'the reason codes rollouts record in events, conditions, errors and metrics (osroll only)',
      ),
  )
    .option(
      '--kind <kind>',
      'only this kind: start, step, wait, rollback, skip, abort, stop, done, control',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  osroll vmss rolling-upgrade reasons -o table\n  osroll vmss rolling-upgrade reasons --kind abort --query "[].code"\n',
    )
    .action((o: Common & { kind?: string }) =>
      run(async () => {
        const rows = Object.entries(REASONS)
          .map(([code, e]) => ({ code, kind: e.kind, signal: e.signal, summary: e.summary }))
          .filter((r) => o.kind === undefined || r.kind === o.kind)
        if (rows.length === 0 && o.kind !== undefined)
          throw new CliError(
            `--kind '${o.kind}' is not one of start, step, wait, rollback, skip, abort, stop, done, control.`,
          )
        print(rows, o)
      }),
    )
}
