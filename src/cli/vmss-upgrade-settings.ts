/**
 * `osroll vmss upgrade-settings show|set|delete` (osroll only): the set's per-set rollout timing
 * in `{set}/providers/Osroll.Upgrades/upgradeSettings/default`, as in
 * docs/rollouts.md § Per-set timing. Registered from vmss.ts, which says how to address a set.
 */
import type { Command } from 'commander'
import { connect, CliError, run } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'
import { flagOption } from './args.js'

/** How vmss.ts names a set (-g/-n or --ids) and finds its ARM path. */
export type SetAddressing = Readonly<{
  named: (c: Command) => Command
  resolve: (given: object) => Common & { path: (sub: string) => string }
}>

type SetFlags = {
  healthDeadline?: string
  minHealthyTime?: string
  batchSoakMin?: string
  batchSoakMax?: string
  progressDeadline?: string
  adaptiveRamp?: boolean
}

const settingsPath = (sub: string, o: { path: (sub: string) => string }) =>
  `${o.path(sub)}/providers/Osroll.Upgrades/upgradeSettings/default`

export function registerUpgradeSettings(vmss: Command, set: SetAddressing): void {
  const us = vmss
    .command('upgrade-settings')
    .description(
      "osroll's per-set rollout timing: healthDeadline, minHealthyTime, batchSoak, progressDeadline (osroll only)",
    )
  registerShow(us, set)
  registerSet(us, set)
  registerDelete(us, set)
}

/** Registers `upgrade-settings show`: the set's settings and the effective values. */
function registerShow(us: Command, set: SetAddressing): void {
  set
    .named(us.command('show').description("the set's upgrade settings and the effective values"))
    .action((given: object) =>
      run(async () => {
        const o = set.resolve(given)
        const { client, sub } = await connect(o)
        print((await client.get(settingsPath(sub, o))).body, o)
      }),
    )
}

/** Registers `upgrade-settings set`: the timings given, the others kept. */
function registerSet(us: Command, set: SetAddressing): void {
  set
    .named(
      us
        .command('set')
        .description(
          'change some settings (the others stay); they apply to rollouts that start later',
        )
        .option(
          '--health-deadline <duration>',
          'how long an upgraded instance has to become healthy, e.g. PT10M',
        )
        .option(
          '--min-healthy-time <duration>',
          'how long it must then stay healthy to count, e.g. PT30S',
        )
        .option(
          '--batch-soak-min <duration>',
          "after each batch, how long the set's health must stay unchanged before the next, e.g. PT30S",
        )
        .option(
          '--batch-soak-max <duration>',
          'how long a soak may take at most: past it, the rollout stops Faulted (SoakNotStable)',
        )
        .option(
          '--progress-deadline <duration>',
          'stop the rollout (Faulted, ProgressDeadlineExceeded) when no instance counts upgraded for this long',
        )
        .addOption(
          flagOption(
            '--adaptive-ramp <bool>',
            'batches from one instance, doubling after clean ones',
          ),
        ),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  osroll vmss upgrade-settings set -g rg -n web --health-deadline PT10M --min-healthy-time PT30S\n  osroll vmss upgrade-settings set -g rg -n web --batch-soak-min PT30S --batch-soak-max PT10M --progress-deadline PT30M\n',
    )
    .action((given: SetFlags) =>
      run(async () => {
        const o = set.resolve(given)
        const properties = propertiesOf(given)
        if (Object.keys(properties).length === 0)
          throw new CliError(
            'Nothing to set.',
            'pass --health-deadline, --min-healthy-time, --batch-soak-min/--batch-soak-max, --progress-deadline and/or --adaptive-ramp',
          )
        const { client, sub } = await connect(o)
        print((await client.request('PATCH', settingsPath(sub, o), { properties })).body, o)
      }),
    )
}

/** Registers `upgrade-settings delete`: the defaults apply again. */
function registerDelete(us: Command, set: SetAddressing): void {
  set
    .named(
      us.command('delete').description("remove the set's upgrade settings: the defaults apply"),
    )
    .action((given: object) =>
      run(async () => {
        const o = set.resolve(given)
        const { client, sub } = await connect(o)
        await client.request('DELETE', settingsPath(sub, o))
      }),
    )
}

/** The PATCH body's properties: only the flags given (the server validates and merges). */
function propertiesOf(f: SetFlags): Record<string, unknown> {
  const soak = {
    ...(f.batchSoakMin !== undefined ? { min: f.batchSoakMin } : {}),
    ...(f.batchSoakMax !== undefined ? { max: f.batchSoakMax } : {}),
  }
  return {
    ...(f.healthDeadline !== undefined ? { healthDeadline: f.healthDeadline } : {}),
    ...(f.minHealthyTime !== undefined ? { minHealthyTime: f.minHealthyTime } : {}),
    ...(Object.keys(soak).length > 0 ? { batchSoak: soak } : {}),
    ...(f.progressDeadline !== undefined ? { progressDeadline: f.progressDeadline } : {}),
    ...(f.adaptiveRamp !== undefined ? { adaptiveRamp: f.adaptiveRamp } : {}),
  }
}
