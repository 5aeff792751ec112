/**
 * Task identifiers: positive integers handed out from 1 by one manager and never reused, so a
 * log line, a UI row or a `revoke` call that names an id can never reach a different task.
 *
 * `TaskId` is branded: a plain number (a pid, a row index) does not type-check where an id is
 * expected. Ids come from `TaskManager.submit`; an id read from text (a command line, an HTTP
 * path) goes through {@link make}, which checks it.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"

/**
 * The schema of a task id: a positive safe integer, branded so it cannot be confused with a pid.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskId = Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)), Schema.brand("TaskId"))

/**
 * A task id, as handed out by `TaskManager.submit`.
 *
 * @since 0.1.0
 * @category models
 */
export type TaskId = typeof TaskId.Type

/**
 * The schema of a task id written as text: decimal digits without sign, leading zero or spaces
 * (`"12"`, not `"012"`, `"+12"`, `"1e1"` or `" 12"`), decoded to a `TaskId`. Use it where a
 * decoder takes a schema (an HTTP path parameter, a command-line argument).
 *
 * @since 0.1.0
 * @category schemas
 */
export const FromString = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^[1-9][0-9]*$/, { expected: "a task id: a positive integer such as 12" })),
  Schema.decodeTo(TaskId, SchemaTransformation.numberFromString)
)

/**
 * The failure of {@link make}: the input is not a positive integer, so it names no task.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidTaskId extends Schema.TaggedError<InvalidTaskId>()("InvalidTaskId", {
  input: Schema.Union([Schema.String, Schema.Number])
}) {
  override get message(): string {
    return `${JSON.stringify(this.input)} is not a task id (a positive integer such as 12)`
  }
}

const decodeNumber = Schema.decodeUnknownOption(TaskId)
const decodeText = Schema.decodeUnknownOption(FromString)

/**
 * Checks a number or a text and gives it back as a `TaskId`, or fails with `InvalidTaskId` when it
 * is not a positive integer (text must be plain decimal digits). This is the one way to turn
 * outside input into an id; whether such a task exists is for `TaskManager.get` to say.
 *
 * ```ts
 * import { TaskId, TaskManager } from "@effect-tasks/core"
 * import { Effect } from "effect"
 *
 * // `tasks revoke 12`: the argument arrives as text.
 * const revokeFromText = (text: string) =>
 *   Effect.gen(function*() {
 *     const tm = yield* TaskManager.TaskManager
 *     const id = yield* TaskId.make(text) // InvalidTaskId for "abc", "0" or "-3"
 *     return yield* tm.revoke(id) // TaskNotFound if there is no such task
 *   })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (input: number | string): Effect.Effect<TaskId, InvalidTaskId> =>
  Effect.suspend(() => {
    const decoded = typeof input === "string" ? decodeText(input) : decodeNumber(input)
    return decoded._tag === "Some" ? Effect.succeed(decoded.value) : Effect.fail(new InvalidTaskId({ input }))
  })
