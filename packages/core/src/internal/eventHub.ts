/**
 * Fan-out of task events to subscribers that never slow the tasks down. Each subscriber has its
 * own buffer, bounded in events and in output characters (so a subscriber that never reads cannot
 * hold an output flood); when it is full, new events are dropped for that subscriber only and counted,
 * and the subscriber receives one `EventsDropped` with the count at the place of the gap: before the
 * next event it is delivered, or, if nothing more is published, as soon as it has read everything
 * buffered (so a stream that ends after a gap still reports it).
 *
 * @internal
 */
import type { NonEmptyReadonlyArray } from "effect/Array"
import type { Done } from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { TaskEvent } from "../TaskEvent.js"

interface Subscriber {
  readonly queue: Queue.Queue<TaskEvent, Done>
  dropped: number
  /** Output characters buffered and not yet taken. */
  bytes: number
}

/** A set of subscribers and the publish side, owned by one manager. */
export interface EventHub {
  readonly capacity: number
  readonly maxBytes: number
  readonly subscribers: Set<Subscriber>
  closed: boolean
}

/**
 * Creates a hub whose subscribers each buffer at most `capacity` events and `maxBytes` characters of output
 * (one output event larger than that still fits in an empty buffer).
 */
export const make = (capacity: number, maxBytes = Number.POSITIVE_INFINITY): EventHub => ({
  capacity: Math.max(2, capacity),
  maxBytes: Math.max(0, maxBytes),
  subscribers: new Set(),
  closed: false
})

/** What an event weighs against the byte bound: output counts its text, the rest is small and counted by number. */
const weight = (event: TaskEvent): number => event._tag === "TaskOutput" ? event.text.length : 0

/** Delivers an event to every subscriber without waiting; full subscribers drop it and count. */
export const publishUnsafe = (hub: EventHub, event: TaskEvent): void => {
  if (hub.subscribers.size === 0) return
  const size = weight(event)
  for (const subscriber of hub.subscribers) {
    // After a gap, the marker goes before the next delivered event: leave room for both.
    const room = hub.capacity - (subscriber.dropped > 0 ? 1 : 0)
    const fits = Queue.sizeUnsafe(subscriber.queue) < room &&
      (size === 0 || subscriber.bytes === 0 || subscriber.bytes + size <= hub.maxBytes)
    if (!fits) {
      subscriber.dropped++
      continue
    }
    if (subscriber.dropped > 0) {
      Queue.offerUnsafe(subscriber.queue, { _tag: "EventsDropped", count: subscriber.dropped })
      subscriber.dropped = 0
    }
    Queue.offerUnsafe(subscriber.queue, event)
    subscriber.bytes += size
  }
}

/**
 * Subscribes now (not when the stream is first pulled), so no event published after this effect
 * returns is missed. The subscription ends with the scope; the stream ends when the hub closes.
 */
export const subscribe = (hub: EventHub): Effect.Effect<Stream.Stream<TaskEvent>, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.map(Queue.dropping<TaskEvent, Done>(hub.capacity), (queue) => {
      const subscriber: Subscriber = { queue, dropped: 0, bytes: 0 }
      if (hub.closed) Queue.endUnsafe(queue)
      else hub.subscribers.add(subscriber)
      return subscriber
    }),
    (subscriber) =>
      Effect.sync(() => {
        hub.subscribers.delete(subscriber)
        Queue.shutdownUnsafe(subscriber.queue)
      })
  ).pipe(Effect.map((subscriber) => Stream.fromPull(Effect.succeed(pullFrom(subscriber)))))

/**
 * Takes what a subscriber has buffered. Once the buffer is empty, every event still counted as
 * dropped came after everything delivered so far, so the gap is reported right there instead of
 * waiting for a next event that may never be published.
 */
const pullFrom = (subscriber: Subscriber) =>
  Effect.suspend(() => {
    if (subscriber.dropped > 0 && Queue.sizeUnsafe(subscriber.queue) === 0) {
      const count = subscriber.dropped
      subscriber.dropped = 0
      return Effect.succeed<NonEmptyReadonlyArray<TaskEvent>>([{ _tag: "EventsDropped", count }])
    }
    return Effect.map(Queue.takeAll(subscriber.queue), (events) => {
      for (const event of events) subscriber.bytes -= weight(event)
      return events
    })
  })

/** Ends every subscriber's stream once it has drained what it buffered; later subscribers get an empty stream. */
export const closeUnsafe = (hub: EventHub): void => {
  hub.closed = true
  for (const subscriber of hub.subscribers) Queue.endUnsafe(subscriber.queue)
}
