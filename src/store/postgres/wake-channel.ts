/**
 * Wakes the replica that drives a scale set when another replica changed it (issue 5): an API
 * write on any replica sends the set's key with PostgreSQL's NOTIFY; every replica LISTENs on a
 * connection of its own and enqueues the key (a replica that does not hold the set's lease drops
 * it). Lost notifications only delay work: the driver also polls and resyncs.
 */
import pg from 'pg'
import { sql } from 'kysely'
import type { Kysely } from 'kysely'
import type { Database } from '../sql/schema.js'

/** Where the channel tells of a lost connection: the runtime's logger fits (main.ts passes it). */
export type WakeChannelLog = Readonly<{ warn(obj: object, msg?: string): void }>

export class WakeChannel {
  private client: pg.Client | null = null
  private closed = false
  private retryTimer: NodeJS.Timeout | null = null

  /** `schema` separates the channels of osroll installations sharing one database. */
  constructor(
    private readonly o: Readonly<{
      url: string
      schema: string
      /** The store's database, for sending. */
      db: Kysely<Database>
      log: WakeChannelLog
      onKey: (key: string) => void
    }>,
  ) {}

  get channel(): string {
    return `osroll_wake_${this.o.schema}`.slice(0, 63)
  }

  /** Connects and listens; reconnects by itself after the connection is lost. */
  async start(): Promise<void> {
    await this.connect()
  }

  /** Sends `key` to every replica (this one included). */
  async notify(key: string): Promise<void> {
    await sql`select pg_notify(${this.channel}, ${key})`.execute(this.o.db)
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    await this.client?.end().catch(() => undefined)
    this.client = null
  }

  private async connect(): Promise<void> {
    if (this.closed) return
    const client = new pg.Client({ connectionString: this.o.url, application_name: 'osroll-wake' })
    client.on('notification', (n) => {
      if (n.channel === this.channel && n.payload) this.o.onKey(n.payload)
    })
    client.on('error', (err) => {
      this.o.log.warn({ err }, 'Wake channel lost its connection; reconnecting')
      this.reconnectSoon(client)
    })
    client.on('end', () => this.reconnectSoon(client))
    try {
      await client.connect()
      await client.query(`listen "${this.channel}"`)
      this.client = client
    } catch (err) {
      this.o.log.warn({ err }, 'Wake channel could not connect; retrying')
      this.reconnectSoon(client)
    }
  }

  private reconnectSoon(client: pg.Client): void {
    if (this.closed || this.retryTimer) return
    if (this.client === client) this.client = null
    client.end().catch(() => undefined)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      void this.connect()
    }, 1_000)
    this.retryTimer.unref()
  }
}
