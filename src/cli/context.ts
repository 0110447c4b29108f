/**
 * What every client command needs: where osroll is (`--endpoint`, OSROLL_ENDPOINT, default
 * http://127.0.0.1:7280), the token (OSROLL_TOKEN, else `{data-dir}/token` of a local server),
 * the subscription (`--subscription`, else the first one the token sees), and how to print.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Option } from 'commander'
import type { Command } from 'commander'
import { ApiError, OsrollClient } from '../client/client.js'
import { DEFAULTS } from '../config/defaults.js'

export type Common = Readonly<{
  endpoint?: string
  subscription?: string
  output?: string
  query?: string
}>

export class CliError extends Error {
  override readonly name = 'CliError'
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message)
  }
}

/** Adds the common flags to a command. */
export function common(c: Command): Command {
  return c
    .option(
      '--endpoint <url>',
      'osroll to talk to (OSROLL_ENDPOINT, default http://127.0.0.1:7280)',
    )
    .option(
      '--subscription <id>',
      "subscription to use (default: the first the token sees, i.e. the server's default)",
    )
    .addOption(
      new Option('-o, --output <format>', 'output format (osroll has no YAML output)')
        .choices(['json', 'jsonc', 'table', 'tsv', 'none'])
        .default('json'),
    )
    .option('--query <jmespath>', 'JMESPath query applied to the result, e.g. "[].name"')
}

export async function connect(o: Common): Promise<{ client: OsrollClient; sub: string }> {
  const endpoint =
    o.endpoint ?? process.env['OSROLL_ENDPOINT'] ?? `http://${DEFAULTS.host}:${DEFAULTS.port}`
  const token = process.env['OSROLL_TOKEN'] ?? localToken()
  if (!token) {
    throw new CliError(
      'No token: set OSROLL_TOKEN, or run the command beside a server started with `osroll serve` (it reads ./.osroll/token).',
      'osroll token create --role Contributor',
    )
  }
  const client = new OsrollClient({ endpoint, token })
  if (o.subscription) return { client, sub: o.subscription }
  const subs = (await client.get('/subscriptions')).body as { value: { subscriptionId: string }[] }
  const first = subs.value[0]
  if (!first) throw new CliError('The token sees no subscription; pass --subscription.')
  return { client, sub: first.subscriptionId }
}

function localToken(): string | undefined {
  const file = join(resolve(process.env['OSROLL_DATA_DIR'] ?? DEFAULTS.dataDir), 'token')
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined
}

/** Runs a command body and turns failures into a message, a hint and exit code 1 — never a stack. */
export async function run(body: () => Promise<void>): Promise<void> {
  try {
    await body()
  } catch (err) {
    if (err instanceof ApiError) {
      console.error(`osroll: ${err.code}: ${err.message}${err.target ? ` (${err.target})` : ''}`)
      const hint = hintFor(err)
      if (hint) console.error(`hint: ${hint}`)
    } else if (err instanceof CliError) {
      console.error(`osroll: ${err.message}`)
      if (err.hint) console.error(`hint: ${err.hint}`)
    } else {
      console.error(`osroll: ${(err as Error).message ?? String(err)}`)
    }
    process.exitCode = 1
  }
}

function hintFor(e: ApiError): string | undefined {
  if (e.code === 'ConnectionFailed')
    return 'start it with `osroll serve`, or point --endpoint / OSROLL_ENDPOINT at it'
  if (e.status === 401) return 'the token was refused: check OSROLL_TOKEN (or the data dir token)'
  if (e.status === 403)
    return "the token's role does not allow this; `osroll token create --role Contributor` issues a stronger one"
  if (e.code === 'ResourceNotFound' || e.code === 'NotFound')
    return 'check -g/--resource-group and -n/--name (`osroll vmss list` shows what exists)'
  return undefined
}
