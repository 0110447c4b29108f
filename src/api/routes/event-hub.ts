/**
 * One poller of the store's event log per process, fanned out in memory to every `/events`
 * stream (issue 16): the cost of the log's reads does not grow with the number of streams. A
 * stream that starts behind the hub (`Last-Event-ID`, `?since=`) catches up from the store on
 * its own, then joins; the hub's position moves only with its fan-out, in one synchronous step,
 * so a stream that joins once it has caught up to that position misses nothing.
 */
import type { RolloutEvent } from '../../core/rollout/types.js'
import { isPlanEvent } from '../../core/rollout/types.js'
import type { Store } from '../../store/store.js'
import type { Logger } from '../../runtime/logger.js'

/** One event as streams write it: serialized once for every stream. */
export type HubEvent = Readonly<{
  seq: number
  /** Lower-cased subscription id and scale set key, for the streams' filters. */
  sub: string
  key: string
  frame: string
}>

export type HubSubscriber = Readonly<{
  deliver: (events: readonly HubEvent[]) => void
  beat: () => void
}>

const PAGE = 500

export class EventHub {
  private readonly subscribers = new Set<HubSubscriber>()
  private started: Promise<void> | null = null
  private timer: NodeJS.Timeout | null = null
  private wakeUp: (() => void) | null = null
  private closed = false
  /** Every event up to here has been delivered to the subscribers. */
  position = 0
  /** Reads of the log made by the poller (tests and metrics). */
  polls = 0

  constructor(
    private readonly store: Pick<Store, 'listEventsAfter' | 'lastEventSeq'>,
    private readonly o: Readonly<{ pollMs: number; heartbeatMs: number; log: Logger }>,
  ) {}

  /** Starts the poller from the log's head, once: afterwards `position` is where "now" is. */
  ready(): Promise<void> {
    this.started ??= this.store.lastEventSeq().then((head) => {
      this.position = head
      void this.run()
    })
    return this.started
  }

  /** Adds a subscriber; events after `position` reach it. Returns its removal. */
  subscribe(s: HubSubscriber): () => void {
    this.subscribers.add(s)
    return () => this.subscribers.delete(s)
  }

  get size(): number {
    return this.subscribers.size
  }

  close(): void {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.wakeUp?.()
  }

  private async run(): Promise<void> {
    let beatAt = Date.now()
    while (!this.closed) {
      const full = await this.pollOnce()
      if (Date.now() - beatAt >= this.o.heartbeatMs) {
        for (const s of this.subscribers) s.beat()
        beatAt = Date.now()
      }
      if (!full) await this.sleep(this.o.pollMs)
    }
  }

  /** One page of the log to every subscriber; whether it was a full page (more may follow). */
  private async pollOnce(): Promise<boolean> {
    this.polls++
    let page: readonly { seq: number; event: RolloutEvent }[]
    try {
      page = await this.store.listEventsAfter(this.position, PAGE)
    } catch (err) {
      this.o.log.warn({ err }, 'Reading the event log failed; retrying')
      return false
    }
    if (page.length === 0) return false
    const events = page.map(hubEvent)
    // Synchronously with the delivery (see the header).
    this.position = (events.at(-1) as HubEvent).seq
    for (const s of this.subscribers) s.deliver(events)
    return page.length === PAGE
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve
      this.timer = setTimeout(resolve, ms)
      this.timer.unref()
    })
  }
}

/** A stored event as a stream frame (`id`, `event: rollout|instance`, JSON `data`). */
export function hubEvent(e: { seq: number; event: RolloutEvent }): HubEvent {
  const { seq, event } = e
  // A rollout plan's events (docs/rollouts.md § Waves across scale sets) are keyed by the plan.
  const kind = event.instanceId !== null ? 'instance' : isPlanEvent(event) ? 'wave' : 'rollout'
  const data = JSON.stringify({ ...event, at: new Date(event.atMs).toISOString() })
  return {
    seq,
    sub: subscriptionOf(event.scaleSetKey),
    key: event.scaleSetKey,
    frame: `id: ${seq}\nevent: ${kind}\ndata: ${data}\n\n`,
  }
}

export function subscriptionOf(scaleSetKey: string): string {
  return /^\/subscriptions\/([^/]+)/.exec(scaleSetKey)?.[1] ?? ''
}
