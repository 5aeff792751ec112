/**
 * One task's output as lines, from now until the task ends: what `fg N` prints. This is the one place the
 * shell reads a task's output for following, so it can move to the library's lossless follow API when
 * that lands; today it reads the manager's `TaskOutput` events, which a subscriber that falls behind loses
 * (a `Dropped` item says how many events went).
 *
 * @since 0.1.0
 */
import { TaskContext, TaskId, TaskManager, TaskState } from "@effect-tasks/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Lines from "../lines.js"

/** An item of a followed task's output. */
export type Followed =
  | { readonly _tag: "Line"; readonly stream: TaskContext.OutputStream; readonly text: string }
  | { readonly _tag: "Dropped"; readonly count: number }

/**
 * Subscribes now and returns task `id`'s output lines until it finishes (empty if it already has). Lines
 * are cut per process and stream; an unfinished last line is given when its process exits.
 */
export const lines = (
  tm: TaskManager.TaskManagerShape,
  id: TaskId.TaskId
): Effect.Effect<Stream.Stream<Followed>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const events = yield* tm.subscribe
    // Checked after subscribing, so a task that ends in between is still seen ending.
    const task = yield* Effect.option(tm.get(id))
    if (task._tag === "None" || TaskState.isTerminal(task.value.state)) return Stream.empty
    const buffers = new Map<string, { readonly stream: TaskContext.OutputStream; readonly buffer: Lines.LineBuffer }>()
    const flush = (prefix: string): Array<Followed> => {
      const out: Array<Followed> = []
      for (const [key, { buffer, stream }] of buffers) {
        if (!key.startsWith(prefix)) continue
        for (const text of Lines.flush(buffer)) out.push({ _tag: "Line", stream, text })
        buffers.delete(key)
      }
      return out
    }
    return events.pipe(
      Stream.takeUntil((event) => event._tag === "TaskFinished" && event.id === id),
      Stream.map((event): Array<Followed> => {
        switch (event._tag) {
          case "TaskOutput": {
            if (event.id !== id) return []
            const key = `${event.pid}/${event.stream}`
            let entry = buffers.get(key)
            if (entry === undefined) {
              entry = { stream: event.stream, buffer: Lines.make() }
              buffers.set(key, entry)
            }
            const { stream } = entry
            return Lines.push(entry.buffer, event.text).map((text) => ({ _tag: "Line", stream, text }))
          }
          case "ProcessExited":
            return event.id === id ? flush(`${event.pid}/`) : []
          case "TaskFinished":
            return event.id === id ? flush("") : []
          case "EventsDropped":
            return [{ _tag: "Dropped", count: event.count }]
          default:
            return []
        }
      }),
      Stream.flattenIterable
    )
  })
