/** Live updates: a debounced reload on every event of `/events` (filtered by `query`). */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { Api, StreamEvent } from './api.js'

export function useLive(
  api: Api,
  query: string,
  reload: () => Promise<void> | void,
  onEvent?: (e: StreamEvent) => void,
): boolean {
  const [live, setLive] = useState(false)
  const reloadRef = useRef(reload)
  reloadRef.current = reload
  const eventRef = useRef(onEvent)
  eventRef.current = onEvent
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null
    const schedule = () => {
      if (timer) return
      timer = setTimeout(() => {
        timer = null
        void reloadRef.current()
      }, 150)
    }
    const stop = api.events(
      query,
      (e) => {
        eventRef.current?.(e)
        schedule()
      },
      (on) => {
        setLive(on)
        if (on) schedule() // (re)connected: whatever happened meanwhile is in the next read
      },
    )
    // Instance health changes without rollout events: a slow poll covers them.
    const poll = setInterval(schedule, 5000)
    return () => {
      stop()
      clearInterval(poll)
      if (timer) clearTimeout(timer)
    }
  }, [api.token, query])
  return live
}

/**
 * Numeric, part by part (1.10.0 > 1.9.0). Not core's compareVersions: that one throws on
 * malformed input, and the dashboard compares whatever the API shows (`?` for an unknown one).
 */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}
