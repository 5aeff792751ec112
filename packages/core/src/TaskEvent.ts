/**
 * What happens to tasks, as a stream of plain, JSON-safe events. Per task the lifecycle events
 * arrive in order: `TaskSubmitted`, `TaskStarted` (unless revoked while QUEUED), process and
 * output events, then exactly one `TaskFinished`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { StoppedProcess } from "./ProcessInfo.js"
import { Revocation } from "./Revocation.js"
import { TaskId } from "./TaskId.js"
import { TaskState } from "./TaskState.js"

/**
 * A task was accepted; `state` is RUNNING or QUEUED (held back by a concurrency limit).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskSubmitted = Schema.TaggedStruct("TaskSubmitted", {
  id: TaskId,
  name: Schema.String,
  mode: Schema.String,
  state: TaskState,
  at: Schema.Number
})

/**
 * A task's fiber started.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskStarted = Schema.TaggedStruct("TaskStarted", {
  id: TaskId,
  at: Schema.Number
})

/**
 * A task reached its terminal state; a failure is rendered as text.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskFinished = Schema.TaggedStruct("TaskFinished", {
  id: TaskId,
  state: Schema.Literals(["SUCCESS", "FAILURE", "REVOKED"]),
  at: Schema.Number,
  revocation: Schema.optionalKey(Revocation),
  error: Schema.optionalKey(Schema.String)
})

/**
 * A revoke landed on a running task: it is stopping (its processes are being signalled).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskRevoking = Schema.TaggedStruct("TaskRevoking", {
  id: TaskId,
  revocation: Revocation,
  at: Schema.Number
})

/**
 * A task started an operating-system process.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ProcessStarted = Schema.TaggedStruct("ProcessStarted", {
  id: TaskId,
  pid: Schema.Number,
  command: Schema.String,
  args: Schema.Array(Schema.String),
  at: Schema.Number
})

/**
 * A process of a task ended, with its exit code or the signal that killed it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ProcessExited = Schema.TaggedStruct("ProcessExited", {
  id: TaskId,
  pid: Schema.Number,
  exitCode: Schema.optionalKey(Schema.Number),
  signal: Schema.optionalKey(Schema.String),
  at: Schema.Number
})

/**
 * The tree of process `pid` was killed and the kill stopped other processes in it (`stopped`: background jobs,
 * grandchildren, daemons, each with the last signal it was sent), or had to escalate to SIGKILL (`escalated`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ProcessesStopped = Schema.TaggedStruct("ProcessesStopped", {
  id: TaskId,
  pid: Schema.Number,
  stopped: Schema.Array(StoppedProcess),
  escalated: Schema.Boolean,
  at: Schema.Number
})

/**
 * A chunk of a process's output, decoded as UTF-8.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskOutput = Schema.TaggedStruct("TaskOutput", {
  id: TaskId,
  pid: Schema.Number,
  stream: Schema.Literals(["stdout", "stderr"]),
  text: Schema.String
})

/**
 * This subscriber fell behind and `count` events were dropped for it (never for the tasks, which
 * are never slowed by a subscriber). Re-read `TaskManager.list` to resynchronise.
 *
 * @since 0.1.0
 * @category schemas
 */
export const EventsDropped = Schema.TaggedStruct("EventsDropped", {
  count: Schema.Number
})

/**
 * The schema of every event, a tagged union; its encoded form is plain JSON.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskEvent = Schema.Union([
  TaskSubmitted,
  TaskStarted,
  TaskRevoking,
  TaskFinished,
  ProcessStarted,
  ProcessExited,
  ProcessesStopped,
  TaskOutput,
  EventsDropped
])

/**
 * Any task event.
 *
 * @since 0.1.0
 * @category models
 */
export type TaskEvent = typeof TaskEvent.Type

/**
 * Encodes an event to a JSON string (one line, for logs and pipes).
 *
 * @since 0.1.0
 * @category encoding
 */
export const toJsonString: (event: TaskEvent) => string = Schema.encodeSync(Schema.fromJsonString(TaskEvent))

/**
 * Decodes an event from a JSON string, failing on anything that is not a task event.
 *
 * @since 0.1.0
 * @category encoding
 */
export const fromJsonString: (json: string) => TaskEvent = Schema.decodeUnknownSync(Schema.fromJsonString(TaskEvent))
