/**
 * A shell command as the body of a task: `sh -c <script>` started through the task-aware spawner,
 * so the process and everything it starts belong to the task, its output lines handed to a callback,
 * and a non-zero exit (or death by a signal) turned into a typed failure.
 *
 * @since 0.1.0
 */
import { TaskContext } from "@effect-tasks/core"
import { ProcessExit } from "@effect-tasks/node"
import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as ChildProcess from "effect/process/ChildProcess"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

/** The command exited with a non-zero code, or was killed by a signal. */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", {
  exitCode: Schema.optionalKey(Schema.Number),
  signal: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    return this.signal === undefined ? `exit ${this.exitCode ?? "?"}` : `killed by ${this.signal}`
  }
}

/** Options of `run`. */
export interface RunOptions {
  /** Receives each output line (without its newline), as soon as it is complete. */
  readonly onLine?: ((line: string, stream: TaskContext.OutputStream) => void) | undefined
  /**
   * How long to keep reading after the shell exits. A daemon the command started may hold the pipes
   * open for ever; the task's end then kills it. Default 250 ms.
   */
  readonly drain?: Duration.Input | undefined
  /** The directory to run in (default: this process's). */
  readonly cwd?: string | undefined
  /** The whole environment of the command (default: this process's). */
  readonly env?: Readonly<Record<string, string>> | undefined
}

/**
 * Runs `sh -c script` in the current task and succeeds when it exits with 0. The child's stdin is
 * a pipe (it never reads the terminal), it runs in its own session, and it is killed with its whole
 * tree when the task ends or is revoked.
 */
export const run = Effect.fn("ShellTask.run")(function*(script: string, options: RunOptions = {}) {
  const handle = yield* ChildProcess.make("sh", ["-c", script], {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: { ...options.env }, extendEnv: false })
  })
  const forward = (source: typeof handle.stdout, stream: TaskContext.OutputStream) =>
    Stream.runForEach(
      source.pipe(Stream.decodeText(), Stream.splitLines),
      (line) => Effect.sync(() => options.onLine?.(line, stream))
    ).pipe(Effect.ignore, Effect.forkChild({ startImmediately: true }))
  const readers = [yield* forward(handle.stdout, "stdout"), yield* forward(handle.stderr, "stderr")]
  const exit = yield* Effect.exit(handle.exitCode)
  yield* Fiber.awaitAll(readers).pipe(Effect.timeoutOption(options.drain ?? "250 millis"))
  if (exit._tag === "Failure") {
    return yield* new CommandFailed({ signal: ProcessExit.signalOf(Cause.squash(exit.cause)) ?? "a signal" })
  }
  if (exit.value !== 0) return yield* new CommandFailed({ exitCode: exit.value })
})
