/**
 * Problems, invariants and exhaustiveness: the two kinds of failure of the pure core.
 * A `Problem` is an expected, user-facing validation outcome; `invariant` guards against bugs
 * and throws `InvariantError`, which stops the pass loudly with the state that broke it.
 */

/** One validation finding, in ARM terms: `target` is the JSON path of the offending member. */
export type Problem = Readonly<{
  /** ARM error code, e.g. `InvalidParameter`. */
  code: string
  /** Dotted ARM path of the member at fault, e.g. `properties.upgradePolicy.mode`. */
  target: string
  message: string
  /** HTTP status the API answers with when this is the first problem (400 unless said). */
  status?: number
  /** Further findings that explain this one (ARM `details`). */
  details?: readonly Problem[]
}>

/** A broken invariant: a bug in osroll, never a user error. */
export class InvariantError extends Error {
  override readonly name = 'InvariantError'
}

/**
 * Throws `InvariantError` when `condition` is false.
 * @example invariant(batch.length <= batchSize, `batch of ${batch.length} > ${batchSize}`)
 */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message)
}

/**
 * Marks a switch as exhaustive: TypeScript fails to compile when a case is missing.
 * @example default: return assertNever(phase)
 */
export function assertNever(value: never): never {
  throw new InvariantError(`unexpected value ${JSON.stringify(value)}`)
}

/**
 * Builds a Problem; `code` defaults to `InvalidParameter`, ARM's code for most rule failures.
 * @example problem('properties.sku.capacity', 'Capacity must be between 0 and 1000.')
 */
export function problem(
  target: string,
  message: string,
  code = 'InvalidParameter',
  status = 400,
): Problem {
  return { code, target, message, status }
}
