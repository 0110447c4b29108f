/**
 * `osroll vmss rolling-upgrade show [--rollout ID] [--timeline]` and `rolling-upgrade list`
 * (docs/rollouts.md § Per-instance timeline): the running (else latest) rollout or one of the
 * history by id, with osroll's state beside Azure's, or its per-instance timeline — one table
 * row per instance step, or the JSON.
 */
import type { Command } from 'commander'
import { connect, run } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'

type ShowOpts = Common & { resourceGroup: string; name: string }
type GivenShow = Omit<ShowOpts, 'resourceGroup' | 'name'> & {
  resourceGroup?: string
  name?: string
  ids?: string[]
  rollout?: string
  timeline?: boolean
}

/** The parts of `vmss.ts` the command shares (passed in, so that neither imports the other). */
export type ShowWiring = Readonly<{
  named: (c: Command) => Command
  resolveSet: (o: GivenShow) => GivenShow & ShowOpts
  setPath: (sub: string, o: ShowOpts) => string
}>

/**
 * Registers `show` under `rolling-upgrade`.
 * @example osroll vmss rolling-upgrade show -g rg -n web --timeline -o table
 */
export function registerRolloutShow(ru: Command, w: ShowWiring): void {
  w.named(
    ru
      .command('show')
      .description(
        "the running (else latest) rollout with osroll's state beside Azure's: paused, conditions; --timeline: each instance's steps",
      )
      .option('--rollout <id>', 'a rollout of the history by id (`rollouts list` names them)')
      .option('--timeline', "each instance's steps with their times (table: one row per step)"),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  osroll vmss rolling-upgrade show -g rg -n web\n  osroll vmss rolling-upgrade show -g rg -n web --timeline -o table\n  osroll vmss rolling-upgrade show -g rg -n web --rollout 0b6f… --timeline\n',
    )
    .action((given: GivenShow) =>
      run(async () => {
        const o = w.resolveSet(given)
        const { client, sub } = await connect(o)
        const id = encodeURIComponent(o.rollout ?? 'current')
        const path = `${w.setPath(sub, o)}/providers/Osroll.Upgrades/rollouts/${id}`
        if (!o.timeline) return print((await client.get(path)).body, o)
        const body = (await client.get(`${path}/timeline`)).body as TimelineBody
        const tabular = (o.output === 'table' || o.output === 'tsv') && !o.query
        if (tabular) console.error(headline(body))
        print(tabular ? stepRows(body) : body, o)
      }),
    )
  w.named(ru.command('list').description("the set's rollouts with their ids, newest first"))
    .addHelpText('after', '\nExample:\n  osroll vmss rolling-upgrade list -g rg -n web -o table\n')
    .action((given: GivenShow) =>
      run(async () => {
        const o = w.resolveSet(given)
        const { client, sub } = await connect(o)
        const path = `${w.setPath(sub, o)}/providers/Osroll.Upgrades/rollouts`
        const body = (await client.get(path)).body as { value: RolloutEntry[] }
        const tabular = (o.output === 'table' || o.output === 'tsv') && !o.query
        print(tabular ? body.value.map(rolloutRow) : body.value, o)
      }),
    )
}

type RolloutEntry = {
  properties: {
    rolloutId: string
    kind: string
    targetImageVersion: string | null
    runningStatus: { code: string; startTime: string; endTime: string | null }
  }
}

type TimelineBody = {
  properties: RolloutEntry['properties'] & {
    batches: { batch: number; instanceIds: string[] }[]
    instances: {
      instanceId: string
      batch: number
      updateDomain: number | null
      outcome: string | null
      steps: { step: string; time: string; reason: string }[]
    }[]
  }
}

function headline(b: TimelineBody): string {
  const p = b.properties
  const ended = p.runningStatus.endTime ? `, ended ${p.runningStatus.endTime}` : ''
  return `rollout ${p.rolloutId}: ${p.kind} → ${p.targetImageVersion ?? 'model'}, ${p.runningStatus.code}; ${p.batches.length} batch(es), ${p.instances.length} instance(s); started ${p.runningStatus.startTime}${ended}`
}

/**
 * One row per instance step, in batch then time order, with the time since the rollout started.
 * @example { Instance: '5', Batch: 1, Step: 'booted', Time: '2026-…Z', Elapsed: '+3.2s', Reason: 'StartedOnNewDisk' }
 */
function stepRows(b: TimelineBody): Record<string, unknown>[] {
  const start = Date.parse(b.properties.runningStatus.startTime)
  return b.properties.instances.flatMap((i) =>
    i.steps.map((s) => ({
      Instance: i.instanceId,
      Batch: i.batch,
      UD: i.updateDomain ?? '',
      Step: s.step,
      Time: s.time,
      Elapsed: `+${((Date.parse(s.time) - start) / 1000).toFixed(1)}s`,
      Reason: s.reason,
      Outcome: i.outcome ?? 'InProgress',
    })),
  )
}

function rolloutRow(r: RolloutEntry): Record<string, unknown> {
  const p = r.properties
  return {
    RolloutId: p.rolloutId,
    Kind: p.kind,
    Target: p.targetImageVersion ?? '',
    Status: p.runningStatus.code,
    Started: p.runningStatus.startTime,
    Ended: p.runningStatus.endTime ?? '',
  }
}
