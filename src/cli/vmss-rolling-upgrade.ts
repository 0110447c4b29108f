/**
 * `osroll vmss rolling-upgrade …`: start, cancel, wait for, plan, pause, resume and show OS
 * rollouts. `start` and `wait` exit 0 Completed, 1 Faulted, 2 Cancelled, 3 timed out.
 */
import type { Command } from 'commander'
import { connect, run } from './context.js'
import { print } from './output.js'
import { registerReasons } from './vmss-reasons.js'
import { registerPlan } from './vmss-plan.js'
import { startRequest } from './vmss-start.js'
import type { StartOpts } from './vmss-start.js'
import { registerRolloutShow } from './vmss-timeline.js'
import { exitOf, timeoutOf, watch } from './vmss-watch.js'
import type { WaitOpts } from './vmss-watch.js'
import { named, resolveSet, setPath } from './vmss-set.js'
import type { GivenSet } from './vmss-set.js'

/** Registers `vmss rolling-upgrade` and its commands, in the order `--help` lists them. */
export function registerRollingUpgrade(vmss: Command): void {
  const ru = vmss.command('rolling-upgrade').description('start, cancel and watch OS rollouts')
  registerStart(ru)
  registerCancel(ru)
  registerWait(ru)
  registerPlan(ru)
  registerReasons(ru)
  registerPauseResume(ru)
  registerRolloutShow(ru, { named, resolveSet, setPath })
  registerGetLatest(ru)
}

/** Registers `start`: starts a rollout now and, unless --no-wait, waits for its end. */
function registerStart(ru: Command): void {
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
}

/** Registers `cancel`: the running rollout stops after its current batch. */
function registerCancel(ru: Command): void {
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
}

/** Registers `wait`: waits for the latest rollout to end; its end is the exit code. */
function registerWait(ru: Command): void {
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
}

/** Registers `pause` and `resume` (osroll only). */
function registerPauseResume(ru: Command): void {
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
}

/** Registers `get-latest`: the latest rollout of any kind. */
function registerGetLatest(ru: Command): void {
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
