/**
 * The record of one operating-system process a task started. Core only stores and shows it;
 * `@effect-tasks/node` fills it in as processes start and end.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The schema of a process record: plain JSON, ready for a UI or the wire.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ProcessInfo = Schema.Struct({
  pid: Schema.Number,
  command: Schema.String,
  args: Schema.Array(Schema.String),
  startedAt: Schema.Number,
  endedAt: Schema.optionalKey(Schema.Number),
  exitCode: Schema.optionalKey(Schema.Number),
  signal: Schema.optionalKey(Schema.String)
})

/**
 * One process a task started: its pid and command, and once it ends, its exit code or killing signal.
 *
 * @since 0.1.0
 * @category models
 */
export type ProcessInfo = typeof ProcessInfo.Type

/**
 * True until the process has been seen to end.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRunning = (process: ProcessInfo): boolean => process.endedAt === undefined

/**
 * `make -j4` style one-line rendering of the command, for tables and logs.
 *
 * @since 0.1.0
 * @category utils
 */
export const commandLine = (process: Pick<ProcessInfo, "command" | "args">): string =>
  [process.command, ...process.args].join(" ")
