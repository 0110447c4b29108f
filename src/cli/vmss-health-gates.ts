/**
 * `osroll vmss health-gate show|add|remove|set|delete` (osroll only): the set's health gates in
 * `{set}/providers/Osroll.Upgrades/healthGates/default`, as in docs/controls.md § Health gates.
 * Registered from vmss.ts, which says how to address a set.
 */
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { ApiError } from '../client/client.js'
import type { OsrollClient } from '../client/client.js'
import { connect, CliError, run } from './context.js'
import { print } from './output.js'
import type { SetAddressing } from './vmss-upgrade-settings.js'

type AddFlags = {
  gate: string
  kind: string
  serverUrl?: string
  promql?: string
  comparison?: string
  threshold?: string
  tolerance?: string
  url?: string
  timeout?: string
  interval?: string
}

const gatesPath = (sub: string, o: { path: (sub: string) => string }) =>
  `${o.path(sub)}/providers/Osroll.Upgrades/healthGates/default`

export function registerHealthGates(vmss: Command, set: SetAddressing): void {
  const hg = vmss
    .command('health-gate')
    .description(
      "health gates judged beside the set's health source: prometheus, cohort, webhook (osroll only)",
    )
  registerShow(hg, set)
  registerAdd(hg, set)
  registerRemove(hg, set)
  registerSet(hg, set)
  registerDelete(hg, set)
}

/** Registers `health-gate show`. */
function registerShow(hg: Command, set: SetAddressing): void {
  set.named(hg.command('show').description("the set's health gates")).action((given: object) =>
    run(async () => {
      const o = set.resolve(given)
      const { client, sub } = await connect(o)
      print((await client.get(gatesPath(sub, o))).body, o)
    }),
  )
}

/** Registers `health-gate add`: one gate added, or replacing the gate of its name. */
function registerAdd(hg: Command, set: SetAddressing): void {
  set
    .named(
      hg
        .command('add')
        .description('add a gate, or replace the gate of that name (the others stay)')
        .requiredOption('--gate <name>', 'the gate name, unique in the set')
        .requiredOption('--kind <kind>', 'prometheus, cohort or webhook')
        .option(
          '--server-url <url>',
          'prometheus, cohort: the Prometheus server, e.g. http://prom:9090',
        )
        .option(
          '--promql <query>',
          'prometheus, cohort: the PromQL; {{instance}}, {{scaleSet}}, {{version}} are filled in',
        )
        .option('--comparison <op>', 'prometheus: < <= > >= == or !=, value against --threshold')
        .option('--threshold <number>', 'prometheus: the value to compare with')
        .option(
          '--tolerance <number>',
          'cohort: pass when upgraded ≤ baseline × (1 + tolerance); default 0',
        )
        .option('--url <url>', 'webhook: called with the instance and rollout as JSON; 2xx passes')
        .option('--timeout <duration>', 'how long the gate may take to pass, e.g. PT2M (default)')
        .option('--interval <duration>', 'how often an inconclusive gate is asked again (PT10S)'),
    )
    .addHelpText(
      'after',
      `\nExamples:\n  osroll vmss health-gate add -g rg -n web --gate errors --kind cohort --server-url http://127.0.0.1:9090 \\\n    --promql 'sum(rate(web_errors_total{version="{{version}}"}[1m])) / sum(rate(web_requests_total{version="{{version}}"}[1m]))' --tolerance 0.2\n  osroll vmss health-gate add -g rg -n web --gate ask --kind webhook --url https://ops.example/safe-to-upgrade\n`,
    )
    .action((given: AddFlags) =>
      run(async () => {
        const o = set.resolve(given)
        const { client, sub } = await connect(o)
        const path = gatesPath(sub, o)
        const gates = (await currentGates(client, path)).filter((g) => g['name'] !== given.gate)
        gates.push(gateOf(given))
        print((await client.request('PUT', path, { properties: { gates } })).body, o)
      }),
    )
}

/** Registers `health-gate remove`: one gate, by name. */
function registerRemove(hg: Command, set: SetAddressing): void {
  set
    .named(
      hg
        .command('remove')
        .description('remove one gate by name (the others stay)')
        .requiredOption('--gate <name>', 'the gate to remove'),
    )
    .action((given: { gate: string }) =>
      run(async () => {
        const o = set.resolve(given)
        const { client, sub } = await connect(o)
        const path = gatesPath(sub, o)
        const before = await currentGates(client, path)
        const gates = before.filter((g) => g['name'] !== given.gate)
        if (gates.length === before.length)
          throw new CliError(`The set has no gate named '${given.gate}'.`)
        print((await client.request('PUT', path, { properties: { gates } })).body, o)
      }),
    )
}

/** Registers `health-gate set`: all gates, from a JSON list. */
function registerSet(hg: Command, set: SetAddressing): void {
  set
    .named(
      hg
        .command('set')
        .description("replace all gates with a JSON list (the API body's properties.gates)")
        .requiredOption('--gates <json>', 'a JSON array of gates, or @file to read it from a file'),
    )
    .action((given: { gates: string }) =>
      run(async () => {
        const o = set.resolve(given)
        const text = given.gates.startsWith('@')
          ? readFileSync(given.gates.slice(1), 'utf8')
          : given.gates
        let gates: unknown
        try {
          gates = JSON.parse(text)
        } catch (err) {
          throw new CliError(`--gates is not JSON: ${(err as Error).message}`)
        }
        const { client, sub } = await connect(o)
        print((await client.request('PUT', gatesPath(sub, o), { properties: { gates } })).body, o)
      }),
    )
}

/** Registers `health-gate delete`: all the set's gates. */
function registerDelete(hg: Command, set: SetAddressing): void {
  set
    .named(
      hg
        .command('delete')
        .description("remove all the set's gates: its health source alone decides"),
    )
    .action((given: object) =>
      run(async () => {
        const o = set.resolve(given)
        const { client, sub } = await connect(o)
        await client.request('DELETE', gatesPath(sub, o))
      }),
    )
}

async function currentGates(
  client: OsrollClient,
  path: string,
): Promise<Record<string, unknown>[]> {
  try {
    const body = (await client.get(path)).body as { properties?: { gates?: unknown[] } }
    return (body.properties?.gates ?? []) as Record<string, unknown>[]
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return []
    throw err
  }
}

/** The gate the flags describe; numbers stay text if they are not numbers (the server says so). */
function gateOf(f: AddFlags): Record<string, unknown> {
  const num = (v: string) => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v)
  return {
    name: f.gate,
    kind: f.kind,
    ...(f.timeout !== undefined ? { timeout: f.timeout } : {}),
    ...(f.interval !== undefined ? { interval: f.interval } : {}),
    ...(f.serverUrl !== undefined ? { serverUrl: f.serverUrl } : {}),
    ...(f.promql !== undefined ? { query: f.promql } : {}),
    ...(f.comparison !== undefined ? { comparison: f.comparison } : {}),
    ...(f.threshold !== undefined ? { threshold: num(f.threshold) } : {}),
    ...(f.tolerance !== undefined ? { tolerance: num(f.tolerance) } : {}),
    ...(f.url !== undefined ? { url: f.url } : {}),
  }
}
