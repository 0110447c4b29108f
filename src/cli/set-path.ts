/**
 * `--set Path.To.Field=value`, as `az` does it: a dotted path (with `[n]` indexes) matched
 * case-insensitively against the existing document, a value parsed as JSON when it is JSON and
 * kept as a string otherwise.
 */
import { CliError } from './context.js'

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
    return [m[1] as string, ...[...(m[2] ?? '').matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]))]
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
    else
      node = (node[key] ??= typeof segments[i + 1] === 'number' ? [] : {}) as
        Record<string, unknown> | unknown[]
  }
  return copy
}
