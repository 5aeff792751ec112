/**
 * The event stream as Server-Sent Events: one `data:` line of JSON per `TaskEvent`. A comment goes out
 * first, so the headers reach the client at once (a client that opens the stream and then reads the task
 * list knows it is subscribed), and another every 15 seconds, so a dead peer is noticed. After the manager
 * shuts down the stream stays open, idle, until the server closes: clients do not reconnect in a loop to a
 * manager that has nothing more to say.
 */
import { TaskEvent } from "@effect-tasks/core"
import * as Effect from "effect/Effect"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"

const encoder = new TextEncoder()

/** The interval of the keep-alive comment. */
export const heartbeat = "15 seconds"

/**
 * One event's message. The manager hands the same event object to every subscriber, so it is encoded once
 * however many clients are connected.
 */
const messages = new WeakMap<TaskEvent.TaskEvent, string>()
const message = (event: TaskEvent.TaskEvent): string => {
  let text = messages.get(event)
  if (text === undefined) {
    text = `data: ${TaskEvent.toJsonString(event)}\n\n`
    messages.set(event, text)
  }
  return text
}

/** Renders events as SSE messages, one chunk of events as one write. */
const render = (events: ReadonlyArray<TaskEvent.TaskEvent>): Uint8Array => {
  let text = ""
  for (const event of events) text += message(event)
  return encoder.encode(text)
}

/** The SSE answer for a subscription; it ends when `stop` completes (the server is closing). */
export const response = (
  events: Stream.Stream<TaskEvent.TaskEvent>,
  stop: Effect.Effect<void>
): HttpServerResponse.HttpServerResponse => {
  const messages = events.pipe(Stream.mapArray((chunk) => [render(chunk)] as const), Stream.concat(Stream.never))
  const comments = Stream.fromSchedule(Schedule.spaced(heartbeat)).pipe(
    Stream.map(() => encoder.encode(": keep-alive\n\n"))
  )
  const body = Stream.concat(Stream.succeed(encoder.encode(": connected\n\n")), Stream.merge(messages, comments)).pipe(
    Stream.interruptWhen(stop)
  )
  return HttpServerResponse.stream(body, {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
  })
}
