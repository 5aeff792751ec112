/**
 * The errors of a cluster, beyond core's `TaskNotFound`, `TaskManagerClosed` and `TaskRevoked`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The failure of a task whose runner went away: SIGKILLed, crashed, cut off from the database longer than the
 * runner timeout (`"lost"`), or stopped with tasks still running when its drain time ran out (`"drained"`).
 * Under the default delivery policy (at most once) the task ends FAILURE with this error; with
 * `retry: { maxAttempts }` it is recorded on the attempt and the task runs again on a survivor.
 *
 * @since 0.1.0
 * @category errors
 */
export class RunnerLost extends Schema.TaggedError<RunnerLost>()("RunnerLost", {
  runner: Schema.String,
  attempt: Schema.Number,
  reason: Schema.Literals(["lost", "drained"])
}) {
  override get message(): string {
    return this.reason === "drained"
      ? `runner ${this.runner} stopped before attempt ${this.attempt} finished (drain time ran out)`
      : `runner ${this.runner} was lost during attempt ${this.attempt}`
  }
}

/**
 * The cluster's database failed or could not be reached (the operation may be retried).
 *
 * @since 0.1.0
 * @category errors
 */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  operation: Schema.String,
  cause: Schema.Defect()
}) {
  override get message(): string {
    const cause = this.cause as { message?: unknown } | undefined
    return `cluster storage failed during ${this.operation}: ${String(cause?.message ?? this.cause)}`
  }
}

/**
 * A submit named a job no runner has registered in this process's list, or a payload its schema rejects.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidSubmit extends Schema.TaggedError<InvalidSubmit>()("InvalidSubmit", {
  job: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot submit job ${this.job}: ${this.reason}`
  }
}

/**
 * A submit reused an idempotency key for a different job or payload than the task it names.
 *
 * @since 0.1.0
 * @category errors
 */
export class IdempotencyConflict extends Schema.TaggedError<IdempotencyConflict>()("IdempotencyConflict", {
  key: Schema.String,
  id: Schema.Number
}) {
  override get message(): string {
    return `idempotency key ${JSON.stringify(this.key)} already names task ${this.id}, with another job or payload`
  }
}

/**
 * A database URL that is neither `sqlite:<path>` nor `postgres://...`.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidDatabaseUrl extends Schema.TaggedError<InvalidDatabaseUrl>()("InvalidDatabaseUrl", {
  url: Schema.String
}) {
  override get message(): string {
    return `invalid database URL ${JSON.stringify(this.url)}: expected sqlite:<path> or postgres://...`
  }
}
