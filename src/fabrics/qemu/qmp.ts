/**
 * A minimal client of QEMU's Machine Protocol over a VM's unix socket: the greeting, capability
 * negotiation, one command at a time, events ignored. Every call has a deadline, so a VM that
 * hangs never hangs osroll.
 */
import { connect, type Socket } from 'node:net'

export class QmpError extends Error {
  override readonly name = 'QmpError'
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void }

export class QmpClient {
  private buffer = ''
  private pending: Pending[] = []
  private closed = false

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => this.onData(chunk))
    socket.on('close', () => this.fail(new QmpError('the QMP socket closed')))
    socket.on('error', (e) => this.fail(new QmpError(`QMP socket error: ${e.message}`)))
  }

  /**
   * Connects, reads the greeting and negotiates capabilities.
   * @example const qmp = await QmpClient.connect('/var/lib/osroll/vm/0/qmp.sock', 2000)
   */
  static async connect(path: string, timeoutMs: number): Promise<QmpClient> {
    const socket = connect(path)
    const client = new QmpClient(socket)
    const greeting = client.next()
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve)
        socket.once('error', reject)
      }),
      timeoutMs,
      `connecting to ${path}`,
    ).catch((e: Error) => {
      socket.destroy()
      throw new QmpError(`cannot reach QMP at ${path}: ${e.message}`)
    })
    try {
      await withTimeout(greeting, timeoutMs, 'the QMP greeting')
      await client.execute('qmp_capabilities', undefined, timeoutMs)
    } catch (e) {
      client.close()
      throw e
    }
    return client
  }

  /** Runs one command and returns its `return` value; a QMP error becomes a QmpError. */
  async execute(command: string, args?: object, timeoutMs = 5000): Promise<unknown> {
    if (this.closed) throw new QmpError('the QMP connection is closed')
    const answer = this.next()
    this.socket.write(
      JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n',
    )
    return withTimeout(answer, timeoutMs, `QMP ${command}`)
  }

  close(): void {
    this.closed = true
    this.socket.destroy()
  }

  private next(): Promise<unknown> {
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }))
  }

  private onData(chunk: string): void {
    this.buffer += chunk
    let nl: number
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim()
      this.buffer = this.buffer.slice(nl + 1)
      if (!line) continue
      let msg: Record<string, unknown>
      try {
        msg = JSON.parse(line) as Record<string, unknown>
      } catch {
        this.fail(new QmpError(`QMP sent a line that is not JSON: ${line.slice(0, 200)}`))
        return
      }
      if ('event' in msg) continue
      const waiter = this.pending.shift()
      if (!waiter) continue
      if ('error' in msg) {
        const err = msg.error as { class?: string; desc?: string }
        waiter.reject(new QmpError(`${err.class ?? 'QMP error'}: ${err.desc ?? ''}`))
      } else waiter.resolve('QMP' in msg ? msg.QMP : msg.return)
    }
  }

  private fail(e: Error): void {
    this.closed = true
    for (const p of this.pending.splice(0)) p.reject(e)
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new QmpError(`${what} took longer than ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
