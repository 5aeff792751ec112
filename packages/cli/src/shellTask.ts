/**
 * A shell command as the body of a task: `sh -c <script>` run by `TaskCommand.run`, so the process and
 * everything it starts belong to the task, its output goes to the task (where `tasks run` and the shell
 * follow it), its stdin is at end-of-file, and a non-zero exit (or death by a signal) is a typed
 * `TaskCommand.CommandFailed`.
 *
 * @since 0.1.0
 */
import { TaskCommand } from "@effect-tasks/node"
import * as ChildProcess from "effect/process/ChildProcess"

/** Options of `run`. */
export interface RunOptions {
  /** The directory to run in (default: this process's). */
  readonly cwd?: string | undefined
  /** The whole environment of the command (default: this process's). */
  readonly env?: Readonly<Record<string, string>> | undefined
  /**
   * `"eof"` (the default): stdin is at end-of-file. `"pipe"`: an empty pipe, for a caller that watches who
   * reads it and closes it (`onStart` gets the handle).
   */
  readonly stdin?: "eof" | "pipe" | undefined
  /** Called with the command's handle once it has started (see `TaskCommand.RunOptions`). */
  readonly onStart?: TaskCommand.RunOptions["onStart"]
}

/**
 * Runs `sh -c script` in the current task and succeeds when it exits with 0. It runs in its own session, and
 * it is killed with its whole tree when the task ends or is revoked.
 */
export const run = (script: string, options: RunOptions = {}) =>
  TaskCommand.run(
    ChildProcess.make("sh", ["-c", script], {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: { ...options.env }, extendEnv: false }),
      ...(options.stdin === "pipe" ? { stdin: "pipe" as const } : {})
    }),
    { onStart: options.onStart }
  )
