/**
 * What the API keeps besides the orchestrator's state: ARM resources (scale sets' ARM bodies,
 * load balancers, images, galleries, …), long-running operations and API tokens.
 */

export type StoredResource = Readonly<{
  /** Lower-cased ARM id: the key. */
  id: string
  type: string
  subscriptionId: string
  resourceGroup: string | null
  /** The name as created (lookups ignore case). */
  name: string
  body: Readonly<Record<string, unknown>>
  etag: string
  createdAtMs: number
  updatedAtMs: number
}>

export type OperationStatus = 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled'

export type OperationRecord = Readonly<{
  id: string
  name: string
  status: OperationStatus
  startTimeMs: number
  endTimeMs: number | null
  error: Readonly<{ code: string; message: string }> | null
  /**
   * What completes it: a rollout's outcome (`rollout`), a rollout's end whatever the outcome
   * (`rolloutEnd`, for cancel), a scale set reaching its capacity (`scaleSet`), or nothing more.
   */
  tracks: Readonly<
    | { kind: 'rollout'; rolloutId: string }
    | { kind: 'rolloutEnd'; rolloutId: string }
    | { kind: 'scaleSet'; scaleSetKey: string }
    | { kind: 'none' }
  >
  /** The resource a PUT/PATCH/DELETE operation returns at its Location, if any. */
  resourceId: string | null
  /** The subscription whose request started it; only that one reads it (absent on older records). */
  subscription?: string
}>

export type TokenRecord = Readonly<{
  hash: string
  role: 'Reader' | 'Contributor' | 'Owner' | 'Operator'
  /** Subscriptions the token may use; empty means all. */
  subscriptions: readonly string[]
  label: string
  createdAtMs: number
}>

export interface ControlStore {
  close(): Promise<void>
  getResource(id: string): Promise<StoredResource | undefined>
  /** Writes a resource; with `expectedEtag` only if the stored one still has it. */
  putResource(resource: StoredResource, expectedEtag?: string | null): Promise<void>
  deleteResource(id: string): Promise<boolean>
  /** `idPrefix` narrows by the start of the (lower-cased) id. */
  listResources(q: {
    type: string
    subscriptionId?: string
    resourceGroup?: string
    idPrefix?: string
  }): Promise<readonly StoredResource[]>

  getOperation(id: string): Promise<OperationRecord | undefined>
  /** Writes an operation; `nowMs` is when it was last written or checked. */
  putOperation(op: OperationRecord, nowMs: number): Promise<void>
  /** Up to `limit` in-progress operations last written before `beforeMs`, oldest first. */
  listStaleOperations(beforeMs: number, limit: number): Promise<readonly OperationRecord[]>
  /** Deletes up to `limit` operations that ended before `beforeMs`; returns how many went. */
  deleteEndedOperations(beforeMs: number, limit: number): Promise<number>

  getToken(hash: string): Promise<TokenRecord | undefined>
  /** Writes a token; one already stored under the hash gets this role, scope and label. */
  putToken(token: TokenRecord): Promise<void>
  listTokens(): Promise<readonly TokenRecord[]>
}
