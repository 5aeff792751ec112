/**
 * A cluster task's record: what every process of the cluster reads with one SQL query. It keeps the fields
 * of core's record (`id`, `name`, `state`, times, `revocation`, `processes`) and adds what a cluster needs:
 * the `job` it runs, the current `attempt` and the `runner` running it, every attempt with its runner, and the
 * failure as text (`error`) and, for a job's typed error or a lost runner, as data (`failure`).
 *
 * @since 0.1.0
 */
import { ProcessInfo, Revocation, TaskId, TaskState } from "@effect-tasks/core"
import * as Schema from "effect/Schema"
import { RunnerLost } from "./ClusterError.js"

/**
 * How a terminal task ended, in JSON: the job's encoded success value, its encoded typed error, a defect
 * rendered as text, or a lost runner. `join` decodes it with the job's schemas.
 *
 * @since 0.1.0
 * @category models
 */
export const Outcome = Schema.Union([
  Schema.TaggedStruct("Success", { value: Schema.Json }),
  Schema.TaggedStruct("Failure", { error: Schema.Json }),
  Schema.TaggedStruct("Defect", { message: Schema.String }),
  Schema.TaggedStruct("Revoked", {}),
  Schema.TaggedStruct("RunnerLost", { runner: Schema.String, attempt: Schema.Number, reason: RunnerLost.fields.reason })
])

/**
 * How a terminal task ended.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = typeof Outcome.Type

/**
 * One run of a task on one runner.
 *
 * @since 0.1.0
 * @category models
 */
export const Attempt = Schema.Struct({
  attempt: Schema.Number,
  runner: Schema.String,
  startedAt: Schema.Number,
  finishedAt: Schema.optionalKey(Schema.Number),
  state: Schema.optionalKey(TaskState.TaskState),
  error: Schema.optionalKey(Schema.String)
})

/**
 * One run of a task on one runner.
 *
 * @since 0.1.0
 * @category models
 */
export type Attempt = typeof Attempt.Type

/**
 * The schema of a cluster task's record (plain JSON).
 *
 * @since 0.1.0
 * @category models
 */
export const ClusterTask = Schema.Struct({
  id: TaskId.TaskId,
  name: Schema.String,
  job: Schema.String,
  state: TaskState.TaskState,
  /** The current (or last) attempt; 0 until a runner first starts the task. */
  attempt: Schema.Number,
  maxAttempts: Schema.Number,
  /** The runner (`host:port`) of the current attempt, or of the last one once terminal; absent while QUEUED. */
  runner: Schema.optionalKey(Schema.String),
  /** A failure as readable text (FAILURE only). */
  error: Schema.optionalKey(Schema.String),
  outcome: Schema.optionalKey(Outcome),
  idempotencyKey: Schema.optionalKey(Schema.String),
  submittedAt: Schema.Number,
  startedAt: Schema.optionalKey(Schema.Number),
  finishedAt: Schema.optionalKey(Schema.Number),
  revocation: Schema.optionalKey(Revocation.Revocation),
  attempts: Schema.Array(Attempt),
  processes: Schema.Array(ProcessInfo.ProcessInfo)
})

/**
 * A cluster task's record. The type parameters are the job's success and error types, carried for `join`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClusterTask<out A = unknown, out E = unknown> extends ClusterTaskFields {
  /** Types only: the job's success and error, so `join` is typed. Never present at run time. */
  readonly [JobTypes]?: { readonly success: A; readonly error: E }
}

/**
 * The key of the type-only field of a record that carries its job's success and error types.
 *
 * @since 0.1.0
 * @category symbols
 */
export const JobTypes: unique symbol = Symbol.for("@effect-tasks/cluster/ClusterTask/JobTypes")

type ClusterTaskFields = typeof ClusterTask.Type

/**
 * The kept tail of a task's output, per stream.
 *
 * @since 0.1.0
 * @category models
 */
export const OutputTail = Schema.Struct({
  stdout: Schema.String,
  stderr: Schema.String,
  droppedStdout: Schema.Number,
  droppedStderr: Schema.Number
})
