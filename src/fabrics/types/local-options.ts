/**
 * The local fabric's operator options, as values and types with no I/O: `config/config.ts`
 * validates flags against them without loading the fabric itself.
 */

/** How a new OS disk is built from the image (`fabrics/local/os-disks.ts`). */
export type OsDiskMode = 'auto' | 'reflink' | 'link' | 'copy'
export const OS_DISK_MODES: readonly OsDiskMode[] = ['auto', 'reflink', 'link', 'copy']

/** Whether instances run in bubblewrap (`fabrics/local/sandbox.ts`). */
export type SandboxMode = 'auto' | 'bwrap' | 'none'
export const SANDBOX_MODES: readonly SandboxMode[] = ['auto', 'bwrap', 'none']

/** What a download may reach, set by the operator (config.ts). */
export type DownloadPolicy = Readonly<{
  /** Directories `file://` fileUris may read from; none: `file://` is refused. */
  fileRoots: readonly string[]
  /** Bytes a single download may hold. */
  maxBytes: number
  /** Whether loopback, link-local and unspecified addresses may be fetched. */
  allowLocal: boolean
}>
