/**
 * The events of a cluster, in one order for every subscriber of every process: core's task events, with the
 * attempt and runner on `TaskStarted` and `TaskFinished`, and one more, `TaskRetrying`, for an attempt that
 * ended with its runner (the task runs again on a survivor). Per task they arrive in order: `TaskSubmitted`,
 * then per attempt `TaskStarted`, process and output events, and `TaskRetrying`, and exactly one
 * `TaskFinished`.
 *
 * @since 0.1.0
 */
import { TaskEvent, TaskId } from "@effect-tasks/core"
import * as Schema from "effect/Schema"

/**
 * A runner started an attempt of a task.
 *
 * @since 0.1.0
 * @category events
 */
export const TaskStarted = Schema.TaggedStruct("TaskStarted", {
  id: TaskId.TaskId,
  at: Schema.Number,
  attempt: Schema.Number,
  runner: Schema.String
})

/**
 * A task reached its terminal state; a failure is rendered as text.
 *
 * @since 0.1.0
 * @category events
 */
export const TaskFinished = Schema.TaggedStruct("TaskFinished", {
  ...TaskEvent.TaskFinished.fields,
  attempt: Schema.Number,
  runner: Schema.optionalKey(Schema.String)
})

/**
 * An attempt ended with its runner (lost, or drained past its drain time) and the task is QUEUED again for
 * its next attempt, on a survivor.
 *
 * @since 0.1.0
 * @category events
 */
export const TaskRetrying = Schema.TaggedStruct("TaskRetrying", {
  id: TaskId.TaskId,
  attempt: Schema.Number,
  runner: Schema.String,
  error: Schema.String,
  at: Schema.Number
})

/**
 * The schema of every cluster event (plain JSON when encoded).
 *
 * @since 0.1.0
 * @category events
 */
export const ClusterEvent = Schema.Union([
  TaskEvent.TaskSubmitted,
  TaskStarted,
  TaskEvent.TaskRevoking,
  TaskFinished,
  TaskRetrying,
  TaskEvent.ProcessStarted,
  TaskEvent.ProcessExited,
  TaskEvent.TaskOutput,
  TaskEvent.EventsDropped
])

/**
 * Any cluster event.
 *
 * @since 0.1.0
 * @category events
 */
export type ClusterEvent = typeof ClusterEvent.Type

/**
 * Encodes an event to one line of JSON.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toJsonString: (event: ClusterEvent) => string = Schema.encodeSync(Schema.fromJsonString(ClusterEvent))

/**
 * Decodes an event from JSON, failing on anything that is not a cluster event.
 *
 * @since 0.1.0
 * @category encoding
 */
export const fromJsonString: (json: string) => ClusterEvent = Schema.decodeUnknownSync(
  Schema.fromJsonString(ClusterEvent)
)
