/**
 * `osroll vmss maintenance-window show|set|delete` (osroll only): the set's maintenance windows
 * in `{set}/providers/Osroll.Upgrades/maintenanceWindows/default`, as in
 * docs/rollouts.md § Maintenance windows. Registered from vmss.ts, which says how to address a set.
 */
import type { Command } from 'commander'
import { connect, CliError, run } from './context.js'
import { print } from './output.js'
import type { SetAddressing } from './vmss-upgrade-settings.js'

type SetFlags = { timeZone?: string; cron: string[]; duration: string[]; weekly: string[] }

const collect = (value: string, previous: string[]) => [...previous, value]

const windowsPath = (sub: string, o: { path: (sub: string) => string }) =>
  `${o.path(sub)}/providers/Osroll.Upgrades/maintenanceWindows/default`

export function registerMaintenanceWindow(vmss: Command, set: SetAddressing): void {
  const mw = vmss
    .command('maintenance-window')
    .description(
      "osroll's maintenance windows: batches start only inside them (cron + duration or weekly ranges, in a time zone; osroll only)",
    )
  registerShow(mw, set)
  registerSet(mw, set)
  registerDelete(mw, set)
}

/** Registers `maintenance-window show`: the windows, and whether one is open now. */
function registerShow(mw: Command, set: SetAddressing): void {
  set
    .named(mw.command('show').description("the set's windows, and whether one is open now"))
    .action((given: object) =>
      run(async () => {
        const o = set.resolve(given)
        const { client, sub } = await connect(o)
        print((await client.get(windowsPath(sub, o))).body, o)
      }),
    )
}

/** Registers `maintenance-window set`: the windows (replacing the ones before), or the zone. */
function registerSet(mw: Command, set: SetAddressing): void {
  set
    .named(
      mw
        .command('set')
        .description(
          'set the windows (they replace the ones before); --time-zone alone changes only the zone',
        )
        .option(
          '--time-zone <zone>',
          'an IANA time zone, e.g. Europe/Berlin, America/New_York, UTC',
        )
        .option(
          '--cron <pattern>',
          "a window opens at each run of this cron (five fields, or six with seconds first), e.g. '0 2 * * 6'; repeatable, each with its --duration",
          collect,
          [],
        )
        .option(
          '--duration <duration>',
          'how long the window of the --cron at the same place stays open, e.g. PT4H',
          collect,
          [],
        )
        .option(
          '--weekly <range>',
          "a weekly window in the zone's wall-clock time, e.g. 'Sat 02:00-Sun 06:00'; repeatable",
          collect,
          [],
        ),
    )
    .addHelpText(
      'after',
      "\nExamples:\n  osroll vmss maintenance-window set -g rg -n web --time-zone Europe/Berlin --weekly 'Sat 02:00-Sun 06:00'\n  osroll vmss maintenance-window set -g rg -n web --time-zone UTC --cron '0 2 * * *' --duration PT2H --cron '0 14 * * 6' --duration PT1H\n",
    )
    .action((given: SetFlags) =>
      run(async () => {
        const o = set.resolve(given)
        if (given.cron.length !== given.duration.length)
          throw new CliError(
            `Each --cron needs its --duration (${given.cron.length} cron, ${given.duration.length} duration).`,
            "e.g. --cron '0 2 * * *' --duration PT2H",
          )
        const windows = [
          ...given.cron.map((cron, i) => ({ cron, duration: given.duration[i] })),
          ...given.weekly.map((weekly) => ({ weekly })),
        ]
        if (windows.length === 0 && given.timeZone === undefined)
          throw new CliError('Nothing to set.', 'pass --time-zone, --cron/--duration or --weekly')
        const properties = {
          ...(given.timeZone !== undefined ? { timeZone: given.timeZone } : {}),
          ...(windows.length > 0 ? { windows } : {}),
        }
        const { client, sub } = await connect(o)
        print((await client.request('PATCH', windowsPath(sub, o), { properties })).body, o)
      }),
    )
}

/** Registers `maintenance-window delete`: batches start at any time again. */
function registerDelete(mw: Command, set: SetAddressing): void {
  set
    .named(
      mw.command('delete').description("remove the set's windows: batches start at any time again"),
    )
    .action((given: object) =>
      run(async () => {
        const o = set.resolve(given)
        const { client, sub } = await connect(o)
        await client.request('DELETE', windowsPath(sub, o))
      }),
    )
}
