/**
 * Time as a service at the edge (STYLE R4): the core takes `nowMs`; the runtime asks a `Clock`.
 * `SystemClock` is the wall clock; `ManualClock` (test-support) is driven by tests and the
 * simulator.
 */

export interface Clock {
  nowMs(): number
  /** Resolves at `atMs` (or at once if past); rejects with the signal's reason when aborted. */
  sleepUntil(atMs: number, signal?: AbortSignal): Promise<void>
}

export class SystemClock implements Clock {
  nowMs(): number {
    return Date.now()
  }

  sleepUntil(atMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason)
      const timer = setTimeout(done, Math.max(0, atMs - Date.now()))
      function done(): void {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      function onAbort(): void {
        clearTimeout(timer)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}
