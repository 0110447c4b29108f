/**
 * The host side of the guests' metadata service (docs/qemu.md § The metadata service): one HTTP
 * server per VM on a unix socket in the VM's own directory, and the relay QEMU runs for each
 * guest connection to 169.254.169.254:80 (`guestfwd=…-cmd:`), which joins that connection to the
 * VM's socket. A request's identity is the socket it arrived on: nothing the guest sends (a
 * header, a path, a source address) can make it another VM's.
 *
 * QEMU starts a relay per connection, so VMs that outlive osroll reach the service again as soon
 * as a restarted osroll listens on their sockets (`QemuFabric.adopt`); while it is down, a
 * guest's connection is closed at once.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { chmod, mkdir, open, rename, rm, writeFile } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { dirname } from 'node:path'
import type { GuestIdentity, GuestMetadata, MetadataRequest } from '../types/metadata.js'

export const METADATA_SOCKET = 'imds.sock'
export const METADATA_RELAY = 'imds-relay.mjs'

/** The largest request body a guest may send (a StartRequests document is a few hundred bytes). */
export const MAX_BODY_BYTES = 64 * 1024

/**
 * The relay: stdin/stdout are the guest's TCP connection (QEMU's guestfwd), argv[2] the VM's
 * socket. It ends when either side closes, or after 30 s without traffic.
 */
export const RELAY_SOURCE = `// osroll: the metadata relay QEMU runs per guest connection (src/fabrics/qemu/metadata-sockets.ts).
import { connect } from 'node:net'
const socket = connect(process.argv[2])
const quit = () => process.exit(0)
socket.on('error', quit)
socket.on('close', () => process.stdout.end(quit))
socket.setTimeout(30000, quit)
process.stdin.on('error', quit)
process.stdin.pipe(socket)
socket.pipe(process.stdout)
`

/**
 * Writes the relay script at `path` (read-only), once per start of the fabric: through a
 * temporary file and a rename, since running VMs may start a relay at any moment.
 */
export async function writeRelay(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.tmp`
  await rm(tmp, { force: true })
  await writeFile(tmp, RELAY_SOURCE, { mode: 0o444 })
  await rename(tmp, path)
}

/** The listening sockets, one per VM, each bound to that VM's identity. */
export class MetadataSockets {
  private readonly servers = new Map<string, Server>()

  constructor(private readonly endpoint: GuestMetadata) {}

  /**
   * Listens on `path` for `guest` (idempotent). A socket left by an earlier osroll is replaced;
   * the socket is 0600 in the VM's 0700 directory, so no other local user reaches it either.
   * @example await sockets.open('/var/lib/osroll/vms/ab12…/0/imds.sock', { scaleSetKey, instanceId: '0' })
   */
  async open(path: string, guest: GuestIdentity): Promise<void> {
    if (this.servers.has(path)) return
    const server = createServer((req, res) => void this.serve(guest, req, res))
    server.headersTimeout = 10_000
    server.requestTimeout = 10_000
    this.servers.set(path, server)
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    await rm(path, { force: true })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => {
        server.off('error', reject)
        resolve()
      })
    }).catch((err: unknown) => {
      this.servers.delete(path)
      throw err
    })
    await chmod(path, 0o600)
  }

  async close(path: string): Promise<void> {
    const server = this.servers.get(path)
    if (!server) return
    this.servers.delete(path)
    await closeServer(server)
    await rm(path, { force: true })
  }

  /** Stops listening on every socket (osroll stops; the VMs keep running). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.servers.keys()].map((p) => this.close(p)))
  }

  private async serve(guest: GuestIdentity, req: IncomingMessage, res: ServerResponse) {
    res.setHeader('Connection', 'close')
    const body = await readBody(req)
    if (body === null) {
      res.writeHead(413, { 'Content-Type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify({ error: 'Request body too large' }))
      return
    }
    const request: MetadataRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      metadataHeader: headerOf(req, 'metadata'),
      forwardedFor: req.headers['x-forwarded-for'] !== undefined,
      body,
    }
    try {
      const a = await this.endpoint.answer(guest, request)
      if (a.file !== undefined) return await sendFile(res, a.status, a.contentType, a.file)
      res.writeHead(a.status, { 'Content-Type': a.contentType })
      res.end(a.body)
    } catch {
      // The answering side failed (a store error): IMDS's own "retry" answer, nothing leaked.
      res.writeHead(500, { 'Content-Type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify({ error: 'Internal server error' }))
    }
  }
}

/** Streams a host file as the answer, with its length (the guest's wget checks it). */
async function sendFile(res: ServerResponse, status: number, type: string, path: string) {
  const fh = await open(path, 'r')
  const { size } = await fh.stat()
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': size })
  await pipeline(fh.createReadStream(), res).catch(() => res.destroy())
}

function headerOf(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name]
  return v === undefined ? null : Array.isArray(v) ? v.join(',') : v
}

/** The request body as text, or null when it exceeds `MAX_BODY_BYTES`. */
async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) return null
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
