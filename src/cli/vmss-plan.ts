/**
 * `osroll vmss rolling-upgrade plan` (osroll only): the dry run of an OS rollout — its batches,
 * why, the budgets and the worst case — as JSON, or one table row per batch.
 */
import type { Command } from 'commander'
import { connect, run } from './context.js'
import { print } from './output.js'
import { enumOption } from './args.js'
import { named, resolveSet, setPath } from './vmss-set.js'
import type { GivenSet } from './vmss-set.js'

/**
 * Registers `plan` under `rolling-upgrade`.
 * @example osroll vmss rolling-upgrade plan -g rg -n web -o table
 */
export function registerPlan(ru: Command): void {
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
