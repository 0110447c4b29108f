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
  /** The request body is not the JSON the operation takes (shape, type, parse failure). */
  InvalidRequestContent: defineError('InvalidRequestContent', 400, { retryable: false }),
  InvalidRequestUri: defineError('InvalidRequestUri', 400, { retryable: false }),
  /** A path segment longer than the router accepts: ARM's InvalidRequestUri, status 414. */
  RequestUriTooLong: defineError('InvalidRequestUri', 414, { retryable: false }),
  MissingApiVersionParameter: defineError('MissingApiVersionParameter', 400, {
    retryable: false,
  }),
  RequestEntityTooLarge: defineError('RequestEntityTooLarge', 413, { retryable: false }),
  UnsupportedMediaType: defineError('UnsupportedMediaType', 415, { retryable: false }),
  AuthenticationFailed: defineError('AuthenticationFailed', 401, { retryable: false }),
  AuthorizationFailed: defineError('AuthorizationFailed', 403, { retryable: false }),
  LinkedAuthorizationFailed: defineError('LinkedAuthorizationFailed', 403, { retryable: false }),
  /** A rate limit or a per-token cap refused the request; retry after it clears. */
  TooManyRequests: defineError('TooManyRequests', 429, { retryable: true }),
  SubscriptionNotFound: defineError('SubscriptionNotFound', 404, { retryable: false }),
  /** A group route, or a resource in a group, names a group that does not exist. */
  ResourceGroupNotFound: defineError('ResourceGroupNotFound', 404, { retryable: false }),
  /** A PUT of an existing group with another location: a group's location never changes. */
  InvalidResourceGroupLocation: defineError('InvalidResourceGroupLocation', 409, {
    retryable: false,
  }),
  InvalidSubscriptionId: defineError('InvalidSubscriptionId', 400, { retryable: false }),
  LocationRequired: defineError('LocationRequired', 400, { retryable: false }),
  GalleryImageNotFound: defineError('GalleryImageNotFound', 404, { retryable: false }),
  PlatformImageNotFound: defineError('PlatformImageNotFound', 404, { retryable: false }),
  CannotRemoveProbeUsedByVMSS: defineError('CannotRemoveProbeUsedByVMSS', 400, {
    retryable: false,
  }),
  /** Deleting a load balancer, or removing a pool of it, that a scale set's NICs still join. */
  LoadBalancerInUseByVirtualMachineScaleSet: defineError(
    'LoadBalancerInUseByVirtualMachineScaleSet',
    400,
    { retryable: false },
  ),
  InvalidResourceReference: defineError('InvalidResourceReference', 400, { retryable: false }),
  InvalidAddressPrefixFormatted: defineError('InvalidAddressPrefixFormatted', 400, {
    retryable: false,
  }),
  InUseSubnetCannotBeDeleted: defineError('InUseSubnetCannotBeDeleted', 400, { retryable: false }),
  InUseSubnetCannotBeUpdated: defineError('InUseSubnetCannotBeUpdated', 400, { retryable: false }),
  SubnetIsFull: defineError('SubnetIsFull', 400, { retryable: false }),
  /** A hypervisor host's SSH host key is not the pinned (or expected) one (docs/api.md § Hosts). */
  HostKeyRefused: defineError('HostKeyRefused', 409, { retryable: false }),
  HostUnreachable: defineError('HostUnreachable', 400, { retryable: false }),
  HostAuthenticationFailed: defineError('HostAuthenticationFailed', 400, { retryable: false }),
  HostWithoutQemu: defineError('HostWithoutQemu', 400, { retryable: false }),
  InternalServerError: defineError('InternalServerError', 500, { retryable: false }),
  /** Another 4xx the HTTP layer (Fastify) raised, passed on with its own status. */
  BadRequest: (status: number, message: string): AppError =>
    new AppError('BadRequest', status, false, message),
} as const
