/**
 * A task's record: an immutable snapshot of what the manager knows about one task. Snapshots are
 * replaced, never mutated, so a record a caller holds stays consistent with itself.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { ProcessInfo } from "./ProcessInfo.js"
import { Revocation } from "./Revocation.js"
import { TaskId } from "./TaskId.js"
import { TaskState } from "./TaskState.js"

/**
 * The key under which every snapshot of a task carries an effect that waits for its final record.
 * It lets `TaskManager.join` wait for a task it was handed even after retention dropped the record.
 *
 * @since 0.1.0
 * @category symbols
 */
export const Completion: unique symbol = Symbol.for("@effect-tasks/core/TrackedTask/Completion")

/**
 * A task as the manager tracks it. `state` comes only from an `Exit`: the body's own once the submitted
 * effect has completed, else the fiber's. `revocation` is set as soon as a revoke lands (the task stays
 * RUNNING until its fiber, finalizers included, ends), even when it lands too late to change the outcome.
 *
 * @since 0.1.0
 * @category models
 */
export interface TrackedTask<A = unknown, E = unknown> {
  readonly id: TaskId
  readonly name: string
  readonly mode: string
  readonly state: TaskState
  /** Epoch milliseconds (from the Effect `Clock`) of submit, start and finish. */
  readonly submittedAt: number
  readonly startedAt?: number
  readonly finishedAt?: number
  /** Set once the task is revoked, by a caller, its timeout or shutdown. */
  readonly revocation?: Revocation
  /** The exit that decided the state, once the task is terminal. */
  readonly exit?: Exit.Exit<A, E>
  /** The operating-system processes the task started (filled in by `@effect-tasks/node`). */
  readonly processes: ReadonlyArray<ProcessInfo>
  readonly [Completion]: Effect.Effect<TrackedTask<A, E>>
}

/**
 * How long the task ran (or has run so far, given `now`), in milliseconds; undefined if it never started.
 *
 * @since 0.1.0
 * @category getters
 */
export const durationMillis = (task: TrackedTask<unknown, unknown>, now?: number): number | undefined =>
  task.startedAt === undefined ? undefined : (task.finishedAt ?? now ?? task.startedAt) - task.startedAt

/**
 * The JSON form of a task, for UIs, logs and the wire: the record without the fiber machinery,
 * with a failure rendered as text (errors are rarely JSON-safe).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TrackedTaskJson = Schema.Struct({
  id: TaskId,
  name: Schema.String,
  mode: Schema.String,
  state: TaskState,
  submittedAt: Schema.Number,
  startedAt: Schema.optionalKey(Schema.Number),
  finishedAt: Schema.optionalKey(Schema.Number),
  durationMillis: Schema.optionalKey(Schema.Number),
  revocation: Schema.optionalKey(Revocation),
  error: Schema.optionalKey(Schema.String),
  processes: Schema.Array(ProcessInfo)
})

/**
 * The JSON form of a task.
 *
 * @since 0.1.0
 * @category models
 */
export type TrackedTaskJson = typeof TrackedTaskJson.Type

/** `Name: message`; an error without a message (a plain tagged error) shows its fields instead. */
const headline = (error: Error): string => {
  if (error.message.length > 0) return `${error.name}: ${error.message}`
  const fields = Object.entries(error).filter(([key]) => !["_tag", "name", "message", "stack", "cause"].includes(key))
  if (fields.length === 0) return error.name
  try {
    return `${error.name}: ${JSON.stringify(Object.fromEntries(fields))}`
  } catch {
    return error.name
  }
}

/** `Name: message`, then each nested cause the same way, one per line; never stack frames. */
const errorText = (error: Error): string => {
  const lines = [headline(error)]
  const seen = new Set<unknown>([error])
  for (let cause = error.cause; cause instanceof Error && !seen.has(cause); cause = cause.cause) {
    seen.add(cause)
    lines.push(`  caused by ${headline(cause)}`)
  }
  return lines.join("\n")
}

/**
 * Renders a failed exit as readable text: each error of the cause as `Name: message` (`CommandFailed: exit 3`,
 * `Error: disk full`), with its nested causes, one error per line and no stack frames (they would show the
 * server's file paths to whoever reads the record); an interruption alone reads `interrupted`. Undefined for
 * success.
 *
 * @since 0.1.0
 * @category utils
 */
export const renderError = (exit: Exit.Exit<unknown, unknown> | undefined): string | undefined => {
  if (exit === undefined || Exit.isSuccess(exit)) return undefined
  if (Cause.hasInterruptsOnly(exit.cause)) return "interrupted"
  return Cause.prettyErrors(exit.cause).map(errorText).join("\n")
}

/**
 * Converts a task to its JSON form.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toJson = (task: TrackedTask<unknown, unknown>): TrackedTaskJson => {
  const duration = durationMillis(task)
  const error = task.state === "FAILURE" ? renderError(task.exit) : undefined
  return {
    id: task.id,
    name: task.name,
    mode: task.mode,
    state: task.state,
    submittedAt: task.submittedAt,
    ...(task.startedAt === undefined ? {} : { startedAt: task.startedAt }),
    ...(task.finishedAt === undefined ? {} : { finishedAt: task.finishedAt }),
    ...(duration === undefined ? {} : { durationMillis: duration }),
    ...(task.revocation === undefined ? {} : { revocation: task.revocation }),
    ...(error === undefined ? {} : { error }),
    processes: task.processes
  }
}
