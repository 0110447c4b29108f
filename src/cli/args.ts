/**
 * az's argument conventions, shared by every command: enum values are read without regard to
 * case and passed on in their canonical casing, and a resource argument takes a name or a full
 * resource id. A full id needs no companion argument (`-g`, `--lb`, …); when both are given they
 * must agree, and a mismatch is an error that names both.
 */
import { InvalidArgumentError, Option } from 'commander'
import { CliError } from './context.js'

/**
 * An option whose value is one of `allowed`, compared without case, e.g.
 * `--upgrade-policy-mode automatic` → `Automatic`.
 * @example enumOption('--protocol <protocol>', 'probe protocol', ['Http', 'Https', 'Tcp'])
 */
export function enumOption(
  flags: string,
  description: string,
  allowed: readonly string[],
  defaultValue?: string,
): Option {
  const option = new Option(flags, `${description}: ${allowed.join(', ')}`).argParser(
    (value: string) => {
      const found = allowed.find((a) => a.toLowerCase() === value.toLowerCase())
      if (found === undefined)
        throw new InvalidArgumentError(`'${value}' is not one of ${allowed.join(', ')}.`)
      return found
    },
  )
  return defaultValue === undefined ? option : option.default(defaultValue)
}

/**
 * az's three-state flag: alone it means true; `true`/`false` (any casing) say so explicitly.
 * @example flagOption('--enable-auto-os-upgrade [bool]', 'automatic OS image upgrades')
 */
export function flagOption(flags: string, description: string): Option {
  return new Option(flags, `${description}: true or false`).argParser((value: string) => {
    const v = value.toLowerCase()
    if (v === 'true') return true
    if (v === 'false') return false
    throw new InvalidArgumentError(`'${value}' is not one of true, false.`)
  })
}

/** A full resource id, taken apart: `names` are the names after each type, outermost first. */
export type ResourceId = Readonly<{
  subscription: string
  resourceGroup: string
  provider: string
  types: readonly string[]
  names: readonly string[]
}>

/** Whether a resource argument is a full id rather than a name. */
export function isResourceId(value: string): boolean {
  return value.startsWith('/')
}

/**
 * Takes apart a full resource id of one of the `expected` type chains (provider/type/child…,
 * compared without case), or explains what the argument must be.
 * @example
 * parseResourceId('/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb/probes/http',
 *   '--health-probe', ['Microsoft.Network/loadBalancers/probes'])
 *   → { subscription: 's', resourceGroup: 'rg', provider: 'Microsoft.Network', types:
 * ['loadBalancers', 'probes'], names: ['lb', 'http'] }
 */
export function parseResourceId(
  value: string,
  flag: string,
  expected: readonly string[],
): ResourceId {
  const parts = value.split('/').slice(1)
  const fail = (): never => {
    throw new CliError(
      `${flag} '${value}' is not a resource id of ${expected.map(shapeOf).join(' or ')}.`,
      'pass a name, or a full id as `az … show --query id` prints it',
    )
  }
  if (
    parts.length < 8 ||
    parts.length % 2 !== 0 ||
    parts[0]?.toLowerCase() !== 'subscriptions' ||
    parts[2]?.toLowerCase() !== 'resourcegroups' ||
    parts[4]?.toLowerCase() !== 'providers' ||
    parts.some((p) => p === '')
  )
    return fail()
  const provider = parts[5] as string
  const rest = parts.slice(6)
  const types = rest.filter((_, i) => i % 2 === 0)
  const names = rest.filter((_, i) => i % 2 === 1)
  const chain = [provider, ...types].join('/').toLowerCase()
  if (!expected.some((e) => e.toLowerCase() === chain)) return fail()
  return {
    subscription: parts[1] as string,
    resourceGroup: parts[3] as string,
    provider,
    types,
    names,
  }
}

function shapeOf(chain: string): string {
  const [provider, ...types] = chain.split('/')
  return `/subscriptions/{sub}/resourceGroups/{rg}/providers/${provider}/${types.map((t) => `${t}/{name}`).join('/')}`
}

/**
 * The value of a companion argument implied by an id: the id's, unless the argument was given
 * too and says something else (names compare without case, as ARM's do).
 */
export function agree(
  given: string | undefined,
  implied: string,
  what: Readonly<{ flag: string; idFlag: string }>,
): string {
  if (given !== undefined && given.toLowerCase() !== implied.toLowerCase())
    throw new CliError(
      `${what.flag} '${given}' does not match ${what.idFlag}, which names '${implied}'.`,
      `drop ${what.flag} (the id says it all), or make the two agree`,
    )
  return implied
}

/** Throws the error az users expect when a required argument is missing. */
export function required<T>(value: T | undefined, message: string): T {
  if (value === undefined || value === '') throw new CliError(message)
  return value
}
