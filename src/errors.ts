/**
 * The one catalogue of operating errors (STYLE R11): each has a stable ARM `code`, an HTTP
 * `status` and whether retrying can help. Bugs are not here: they are `InvariantError`s.
 */

export class AppError extends Error {
  override readonly name = 'AppError'
  constructor(
    readonly code: string,
    readonly status: number,
    readonly retryable: boolean,
    message: string,
    readonly target?: string,
    readonly details?: readonly { code: string; target?: string; message: string }[],
  ) {
    super(message)
  }
}

type ErrorFactory = (message: string, target?: string) => AppError

function defineError(code: string, status: number, o: { retryable: boolean }): ErrorFactory {
  return (message, target) => new AppError(code, status, o.retryable, message, target)
}

export const Errors = {
  NotFound: defineError('NotFound', 404, { retryable: false }),
  ResourceNotFound: defineError('ResourceNotFound', 404, { retryable: false }),
  Conflict: defineError('Conflict', 409, { retryable: false }),
  OperationNotAllowed: defineError('OperationNotAllowed', 409, { retryable: false }),
  InvalidParameter: defineError('InvalidParameter', 400, { retryable: false }),
  /** Another writer changed the record first (optimistic concurrency); re-read and retry. */
  RevisionConflict: defineError('RevisionConflict', 409, { retryable: true }),
  FabricUnavailable: defineError('FabricUnavailable', 503, { retryable: true }),
  FabricOperationFailed: defineError('FabricOperationFailed', 500, { retryable: false }),
  Timeout: defineError('OperationTimedOut', 504, { retryable: true }),
  NotSupported: defineError('NotSupported', 400, { retryable: false }),
  PreconditionFailed: defineError('PreconditionFailed', 412, { retryable: false }),
  /** A driver's write under a lease that has moved to another replica (lease-store.ts). */
  LeaseLost: defineError('LeaseLost', 409, { retryable: false }),
} as const
