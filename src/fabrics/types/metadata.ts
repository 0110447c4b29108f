/**
 * The metadata service a fabric serves its guests (docs/qemu.md § The metadata service): the
 * fabric binds each request to the instance it came from, by construction (one socket per VM),
 * and asks a `GuestMetadata` for the answer. The answering side (`services/instance-metadata.ts`)
 * never learns anything about the caller but that identity.
 */

/** Which instance a request came from: set by the fabric, never read from the request. */
export type GuestIdentity = Readonly<{ scaleSetKey: string; instanceId: string }>

/** One guest request, as the transport read it. */
export type MetadataRequest = Readonly<{
  method: string
  /** The request target: path and query, as sent. */
  url: string
  /** The `Metadata` header's value; null when absent. */
  metadataHeader: string | null
  /** Whether an `X-Forwarded-For` header was sent (the service refuses proxied requests). */
  forwardedFor: boolean
  body: string
}>

export type MetadataAnswer = Readonly<{
  status: number
  contentType:
    'application/json; charset=utf-8' | 'text/plain; charset=utf-8' | 'application/octet-stream'
  body: string
  /** A host file sent as the body instead of `body` (a fetched fileUri the guest agent copies). */
  file?: string
}>

export interface GuestMetadata {
  answer(guest: GuestIdentity, request: MetadataRequest): Promise<MetadataAnswer>
}
