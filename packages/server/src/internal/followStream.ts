/**
 * The answer of `GET /api/tasks/:id/follow`: a task's output without loss, as Server-Sent Events (one JSON
 * `FollowMessage` per `data:` line), ending with the task's `TaskFinished`.
 *
 * A remote client never slows a task: the server reads the task's follower as fast as the task writes and keeps
 * what the client's socket has not taken yet, up to `maxBuffered` bytes. A client that falls further behind
 * is dropped: its stream ends without `TaskFinished` (lossless or dropped, never a silent gap). A client whose
 * socket stays blocked longer than the server's stall timeout is dropped by the stall watchdog, as on the event
 * stream. A comment goes out first (the headers reach the client at once) and every 15 seconds on a quiet task.
 */
import { OutputChunk, TaskEvent, type TaskId, type TaskManager, TrackedTask } from "@effect-tasks/core"
import type { Done } from "effect/Cause"
import * as Effect from "effect/Effect"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { heartbeat } from "./eventStream.js"

const encoder = new TextEncoder()

const message = (json: string) => `data: ${json}\n\n`

/** The task's last message, from its final record. */
const finishedOf = (task: TrackedTask.TrackedTask): TaskEvent.TaskEvent => {
  const error = task.state === "FAILURE" ? TrackedTask.renderError(task.exit) : undefined
  return {
    _tag: "TaskFinished",
    id: task.id,
    state: task.state === "SUCCESS" || task.state === "FAILURE" ? task.state : "REVOKED",
    at: task.finishedAt ?? 0,
    ...(task.revocation === undefined ? {} : { revocation: task.revocation }),
    ...(error === undefined ? {} : { error })
  }
}

/** The SSE answer following task `id`; it ends when the task has ended, the client is dropped, or `stop` completes. */
export const response = (
  tm: TaskManager.TaskManagerShape,
  id: TaskId.TaskId,
  options: { readonly maxBuffered: number; readonly stop: Effect.Effect<void> }
): HttpServerResponse.HttpServerResponse => {
  const messages = Stream.unwrap(Effect.gen(function*() {
    // Bounded by `buffered`, counted here: the queue itself must never make the follower wait.
    const queue = yield* Queue.unbounded<Uint8Array, Done>()
    let buffered = 0
    const push = (text: string): boolean => {
      const bytes = encoder.encode(text)
      buffered += bytes.length
      if (buffered > options.maxBuffered) {
        Queue.endUnsafe(queue)
        return false
      }
      Queue.offerUnsafe(queue, bytes)
      return true
    }
    const reader = tm.follow(id).pipe(
      Stream.runForEachArray((chunks) =>
        Effect.suspend(() => {
          let text = ""
          for (const chunk of chunks) text += message(OutputChunk.toJsonString(chunk))
          // Fell behind: the stream ends here, without TaskFinished, and the follower goes away.
          return push(text) ? Effect.void : Effect.interrupt
        })
      ),
      Effect.andThen(tm.get(id)),
      Effect.tap((task) => Effect.sync(() => push(message(TaskEvent.toJsonString(finishedOf(task)))))),
      // Retention dropped the task meanwhile: its output has ended all the same.
      Effect.ignore,
      Effect.ensuring(Effect.sync(() => Queue.endUnsafe(queue)))
    )
    yield* Effect.forkScoped(reader, { startImmediately: true })
    return Stream.fromQueue(queue).pipe(
      Stream.tap((bytes) =>
        Effect.sync(() => {
          buffered -= bytes.length
        })
      )
    )
  }))
  const comments = Stream.fromSchedule(Schedule.spaced(heartbeat)).pipe(
    Stream.map(() => encoder.encode(": keep-alive\n\n"))
  )
  const body = Stream.concat(
    Stream.succeed(encoder.encode(": connected\n\n")),
    Stream.merge(messages, comments, { haltStrategy: "left" })
  ).pipe(Stream.interruptWhen(options.stop))
  return HttpServerResponse.stream(body, {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
  })
}
