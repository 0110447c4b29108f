/**
 * `--set Path.To.Field=value`, as `az` does it: a dotted path (with `[n]` indexes) matched
 * case-insensitively against the existing document, a value parsed as JSON when it is JSON and
 * kept as a string otherwise. Segments that reach an object's prototype (`__proto__`,
 * `constructor`, `prototype`) are refused, and only own members are followed (issue 15).
 */
import { CliError } from './context.js'

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])

/**
 * @example applySet({ properties: { upgradePolicy: { mode: 'Manual' } } }, 'Properties.UpgradePolicy.Mode=Rolling')
 *   → { properties: { upgradePolicy: { mode: 'Rolling' } } }
 */
export function applySet(
  doc: Record<string, unknown>,
  expression: string,
): Record<string, unknown> {
  const eq = expression.indexOf('=')
  if (eq <= 0) throw new CliError(`--set '${expression}' must be Path.To.Field=value`)
  const path = expression.slice(0, eq)
  const raw = expression.slice(eq + 1)
  let value: unknown = raw
  try {
    value = JSON.parse(raw)
  } catch {
    /* a plain string */
  }
  const segments = path.split('.').flatMap((part) => {
    const m = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part)
    if (!m) throw new CliError(`--set path '${path}' is not valid near '${part}'`)
    const name = m[1] as string
    if (FORBIDDEN.has(name.toLowerCase()))
      throw new CliError(
        `--set path '${path}': '${name}' is not allowed as a path segment (it would reach the object's prototype)`,
      )
    return [name, ...[...(m[2] ?? '').matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]))]
  })
  const copy = structuredClone(doc)
  let node: Record<string, unknown> | unknown[] = copy
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string | number
    const last = i === segments.length - 1
    if (typeof seg === 'number') {
      if (!Array.isArray(node))
        throw new CliError(`--set path '${path}': '${segments[i - 1]}' is not a list`)
      if (last) node[seg] = value
      else node = (node[seg] ??= {}) as Record<string, unknown>
      continue
    }
    if (Array.isArray(node))
      throw new CliError(`--set path '${path}': '${segments[i - 1]}' is a list; use [n]`)
    const key = Object.keys(node).find((k) => k.toLowerCase() === seg.toLowerCase()) ?? seg
    if (last) node[key] = value
    else {
      const own = Object.hasOwn(node, key) ? node[key] : undefined
      if (own !== undefined && own !== null && typeof own !== 'object')
        throw new CliError(
          typeof segments[i + 1] === 'number'
            ? `--set path '${path}': '${key}' is not a list`
            : `--set path '${path}': '${key}' is ${JSON.stringify(own)}, not an object`,
        )
      node = (own ?? (node[key] = typeof segments[i + 1] === 'number' ? [] : {})) as
        Record<string, unknown> | unknown[]
    }
  }
  return copy
}
