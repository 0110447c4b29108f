/**
 * The dashboard's access to osroll's API: the token (from the URL fragment or a prompt, kept in
 * session storage, SPEC §8), ARM requests with it, and the live event stream (`/events`, read
 * with fetch so the token goes in a header; reconnects with backoff after the server restarts).
 */
export const API_VERSION = '2024-07-01'
const TOKEN_KEY = 'osroll.token'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** Takes `#token=…` off the URL (so it is not kept in history) into session storage. */
export function initialToken(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash)
  if (m?.[1]) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]))
    history.replaceState(null, '', location.pathname + location.search)
  }
  return sessionStorage.getItem(TOKEN_KEY)
}

export function saveToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token)
  else sessionStorage.removeItem(TOKEN_KEY)
}

export class Api {
  constructor(readonly token: string) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    // nextLinks carry their api-version already.
    const url =
      path.startsWith('/subscriptions') && !/[?&]api-version=/.test(path)
        ? `${path}${path.includes('?') ? '&' : '?'}api-version=${API_VERSION}`
        : path
    const res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    const text = await res.text()
    const parsed: unknown = text ? JSON.parse(text) : null
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string; message?: string } } | null)?.error
      throw new ApiError(res.status, e?.code ?? `HTTP${res.status}`, e?.message ?? text)
    }
    return parsed as T
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path)
  }

  /** Every item of a list, following nextLink. */
  async list<T>(path: string): Promise<T[]> {
    const out: T[] = []
    let next: string | undefined = path
    while (next) {
      const page: { value?: T[]; nextLink?: string } | T[] = await this.get(next)
      if (Array.isArray(page)) return page
      out.push(...(page.value ?? []))
      next = page.nextLink
        ? new URL(page.nextLink).pathname + new URL(page.nextLink).search
        : undefined
    }
    return out
  }

  /**
   * Streams `/events` (filtered by `query`), calling `onEvent` for each and `onState` when the
   * connection opens or drops. The first connection starts from now (a snapshot first); a
   * reconnection resumes after the last id seen (`Last-Event-ID`), so nothing is replayed twice
   * and nothing is missed. Returns a function that stops it.
   */
  events(
    query: string,
    onEvent: (e: StreamEvent) => void,
    onState: (live: boolean) => void,
  ): () => void {
    const stop = new AbortController()
    let lastId: string | null = null
    const loop = async (): Promise<void> => {
      for (let attempt = 0; !stop.signal.aborted; attempt++) {
        try {
          const res = await fetch(`/events${query}`, {
            headers: {
              authorization: `Bearer ${this.token}`,
              ...(lastId ? { 'last-event-id': lastId } : {}),
            },
            signal: stop.signal,
          })
          if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`)
          onState(true)
          attempt = 0
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
          let buffer = ''
          for (;;) {
            const { value, done } = await reader.read()
            if (done) break
            buffer += value
            let end: number
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const frame = buffer.slice(0, end)
              buffer = buffer.slice(end + 2)
              const e = parseFrame(frame)
              if (e) {
                lastId = e.id
                onEvent(e)
              }
            }
          }
        } catch {
          if (stop.signal.aborted) return
        }
        onState(false)
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)))
      }
    }
    void loop()
    return () => stop.abort()
  }
}

/**
 * A frame of `/events`: a rollout or instance change, or the `snapshot` a stream opened without
 * a position starts with (its id is where the stream starts; for one scale set it carries the
 * running rollout's instance states).
 */
export type StreamEvent =
  | {
      id: string
      kind: 'rollout' | 'instance'
      data: {
        scaleSetKey: string
        instanceId: string | null
        from: string
        to: string
        reason: string
        rolloutId: string
      }
    }
  | {
      id: string
      kind: 'snapshot'
      data: {
        position: number
        scaleSetKey: string | null
        rollout: { rolloutId: string; status: string; instances: Record<string, string> } | null
      }
    }

function parseFrame(frame: string): StreamEvent | null {
  let id = ''
  let kind = 'message'
  let data = ''
  for (const line of frame.split('\n')) {
    if (line.startsWith('id: ')) id = line.slice(4)
    else if (line.startsWith('event: ')) kind = line.slice(7)
    else if (line.startsWith('data: ')) data += line.slice(6)
  }
  if (!data || (kind !== 'rollout' && kind !== 'instance' && kind !== 'snapshot')) return null
  try {
    return { id, kind, data: JSON.parse(data) } as StreamEvent
  } catch {
    return null
  }
}
