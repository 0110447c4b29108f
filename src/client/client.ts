/**
 * A typed HTTP client for osroll's API, used by the CLI (and later the dashboard): requests with
 * the token and api-version, ARM errors as `ApiError`, and long-running operations followed to
 * their end the way Azure pollers do.
 */

export const API_VERSION = '2024-07-01'

export class ApiError extends Error {
  override readonly name = 'ApiError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
  ) {
    super(message)
  }
}

export type Response = Readonly<{ status: number; body: unknown; headers: Headers }>

export class OsrollClient {
  constructor(readonly o: { endpoint: string; token: string }) {}

  /** `path` is an ARM path; absolute URLs (nextLink, operations) are used as they are. */
  async request(method: string, path: string, body?: unknown): Promise<Response> {
    const url = path.startsWith('http')
      ? path
      : `${this.o.endpoint.replace(/\/$/, '')}${path}${path.includes('?') ? '&' : '?'}api-version=${API_VERSION}`
    let res: globalThis.Response
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.o.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      })
    } catch (err) {
      throw new ApiError(
        0,
        'ConnectionFailed',
        `Cannot reach osroll at ${this.o.endpoint}: ${(err as Error).message}`,
      )
    }
    const text = await res.text()
    let parsed: unknown = text
    try {
      parsed = text === '' ? '' : JSON.parse(text)
    } catch {
      /* not JSON */
    }
    if (res.status >= 400) {
      const e = (parsed as { error?: { code?: string; message?: string; target?: string } }).error
      throw new ApiError(
        res.status,
        e?.code ?? `HTTP${res.status}`,
        e?.message ?? text.slice(0, 500),
        e?.target,
      )
    }
    return { status: res.status, body: parsed, headers: res.headers }
  }

  get(path: string): Promise<Response> {
    return this.request('GET', path)
  }

  /** Follows every `nextLink` of a list and returns all items. */
  async list(path: string): Promise<unknown[]> {
    const out: unknown[] = []
    let next: string | undefined = path
    for (let page = 0; next && page < 10_000; page++) {
      const body = (await this.get(next)).body as
        { value?: unknown[]; nextLink?: string } | unknown[]
      if (Array.isArray(body)) return body
      out.push(...(body.value ?? []))
      next = body.nextLink
    }
    return out
  }

  /**
   * Follows a `Location` URL (a resource group's DELETE) until it stops answering 202, at the
   * `Retry-After` it asks for (at most 10 s). Throws if the operation failed.
   */
  async follow(locationUrl: string, o: { timeoutMs?: number } = {}): Promise<void> {
    const end = Date.now() + (o.timeoutMs ?? 6 * 3_600_000)
    for (;;) {
      const res = await this.get(locationUrl)
      const e = (res.body as { error?: { code?: string; message?: string } } | null)?.error
      if (e)
        throw new ApiError(200, e.code ?? 'OperationFailed', e.message ?? 'The operation failed.')
      if (res.status !== 202) return
      if (Date.now() > end)
        throw new ApiError(0, 'Timeout', `The operation did not finish in time: ${locationUrl}`)
      const seconds = Math.min(10, Math.max(1, Number(res.headers.get('retry-after') ?? 1)))
      await new Promise((r) => setTimeout(r, seconds * 1000))
    }
  }

  /** Polls an operation until it ends; `onTick` runs between polls. Throws if it failed. */
  async wait(
    operationUrl: string,
    onTick?: () => Promise<void>,
    o: { intervalMs?: number; timeoutMs?: number } = {},
  ): Promise<string> {
    const end = Date.now() + (o.timeoutMs ?? 6 * 3_600_000)
    for (;;) {
      const op = (await this.get(operationUrl)).body as {
        status: string
        error?: { code: string; message: string }
      }
      if (op.status === 'Failed')
        throw new ApiError(
          200,
          op.error?.code ?? 'OperationFailed',
          op.error?.message ?? 'The operation failed.',
        )
      if (op.status !== 'InProgress') return op.status
      if (Date.now() > end)
        throw new ApiError(0, 'Timeout', `The operation did not finish in time: ${operationUrl}`)
      await onTick?.()
      await new Promise((r) => setTimeout(r, o.intervalMs ?? 1000))
    }
  }
}
