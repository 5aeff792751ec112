/**
 * What following a task's output yields (`TaskManager.follow`): the chunks its processes wrote, in the
 * order they arrived, and, for a follower that started after some output was already forgotten, one
 * `OutputSkipped` saying how much came before what it gets. Plain JSON, like task events.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { TaskOutput } from "./TaskEvent.js"
import { TaskId } from "./TaskId.js"

/**
 * The first item of a follow that started late, when the kept tail no longer holds the task's whole output:
 * `stdout` and `stderr` characters were written before the kept tail and are not delivered. Never sent to a
 * follower that attached before the task wrote anything (`TaskManager.submitFollowed`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const OutputSkipped = Schema.TaggedStruct("OutputSkipped", {
  id: TaskId,
  stdout: Schema.Number,
  stderr: Schema.Number
})

/**
 * One item of a followed task's output: a chunk one of its processes wrote (`TaskOutput`, the same shape as
 * the event), or the `OutputSkipped` notice a late follower starts with.
 *
 * @since 0.1.0
 * @category schemas
 */
export const OutputChunk = Schema.Union([TaskOutput, OutputSkipped])

/**
 * One item of a followed task's output.
 *
 * @since 0.1.0
 * @category models
 */
export type OutputChunk = typeof OutputChunk.Type

/**
 * Encodes an item as one line of JSON (for a stream on the wire).
 *
 * @since 0.1.0
 * @category encoding
 */
export const toJsonString: (chunk: OutputChunk) => string = Schema.encodeSync(Schema.fromJsonString(OutputChunk))

/**
 * Decodes an item from a line of JSON, failing on anything else.
 *
 * @since 0.1.0
 * @category encoding
 */
export const fromJsonString: (json: string) => OutputChunk = Schema.decodeUnknownSync(
  Schema.fromJsonString(OutputChunk)
)
