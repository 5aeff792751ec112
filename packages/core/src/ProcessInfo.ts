/**
 * The record of one operating-system process a task started. Core only stores and shows it;
 * `@effect-tasks/node` fills it in as processes start and end.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A process of a task's tree, other than the one the task started, that the library stopped when it killed the
 * tree: a background job left running (`sleep 500 & sleep 1`), a grandchild of a revoked shell, a daemon. With
 * its command line and the last signal it was sent, the one that ended it unless it exited on its own first.
 *
 * @since 0.1.0
 * @category schemas
 */
export const StoppedProcess = Schema.Struct({
  pid: Schema.Number,
  command: Schema.String,
  signal: Schema.String
})

/**
 * A process the library stopped in a task's tree (see the schema).
 *
 * @since 0.1.0
 * @category models
 */
export type StoppedProcess = typeof StoppedProcess.Type

/**
 * The schema of a process record: plain JSON, ready for a UI or the wire. Once the process's tree has been
 * killed, `stopped` lists the other processes of the tree that the kill stopped, and `escalated` says that
 * something in the tree outlived the grace period and got SIGKILL.
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
  signal: Schema.optionalKey(Schema.String),
  stopped: Schema.optionalKey(Schema.Array(StoppedProcess)),
  escalated: Schema.optionalKey(Schema.Boolean)
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
