/**
 * A command as the work of a task, with the outcome a task's state should show: exit code 0 is SUCCESS, and a
 * non-zero exit or a death by a signal fails with a typed `CommandFailed` that carries the code or the signal and
 * the last lines the command wrote to stderr. (The spawner's own `string`, `lines` and `exitCode` give the code as
 * a value, so a task built on them succeeds whatever the command did.)
 *
 * The command's stdin is at end-of-file unless the command says otherwise (`stdin: "pipe"`, a stream, ...), so
 * a program that reads it (`cat`, `read x`, `input()`) ends at once instead of waiting for input nobody sends.
 * Inside a task its output goes where every task process's output goes (the task's tail, `TaskOutput` events,
 * `TaskManager.follow`); outside a task it is read and dropped, so the command never blocks on a full pipe.
 *
 * ```ts
 * import { TaskManager } from "@effect-tasks/core"
 * import { NodeTaskManager, TaskCommand } from "@effect-tasks/node"
 * import { Effect } from "effect"
 * import { ChildProcess } from "effect/process"
 *
 * const program = Effect.gen(function*() {
 *   const tm = yield* TaskManager.TaskManager
 *   const task = yield* tm.submit(TaskCommand.run(ChildProcess.make("sh", ["-c", "echo checking >&2; exit 3"])))
 *   const done = yield* tm.await(task.id)
 *   // done.state === "FAILURE"; the error: CommandFailed { exitCode: 3, stderr: "checking\n" }
 *   return done.state
 * })
 * Effect.runPromise(program.pipe(Effect.provide(NodeTaskManager.layer)))
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as PlatformError from "effect/PlatformError"
import * as ChildProcess from "effect/process/ChildProcess"
import { type ChildProcessHandle, ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import * as CommandLine from "effect/process/CommandLine"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ProcessExit from "./ProcessExit.js"

/**
 * The command exited with a non-zero code (`exitCode`) or was killed by a signal (`signal`). `stderr` holds the
 * last characters it wrote to stderr (`stderrTail` of them at most). The message is `exit 3` or
 * `killed by SIGKILL`, so the error reads `CommandFailed: exit 3`.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", {
  command: Schema.String,
  exitCode: Schema.optionalKey(Schema.Number),
  signal: Schema.optionalKey(Schema.String),
  stderr: Schema.String
}) {
  override get message(): string {
    return this.signal === undefined ? `exit ${this.exitCode ?? "?"}` : `killed by ${this.signal}`
  }
}

/**
 * Options of `run`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** Characters of stderr kept for `CommandFailed.stderr`. Default 4096. */
  readonly stderrTail?: number | undefined
  /**
   * How long to wait, after the command exits, for the last of its stderr: a process it left running may hold
   * the pipe open for ever (the task's end then kills it). Default 200 ms.
   */
  readonly stderrDrain?: number | undefined
  /**
   * Called once the command has started, with its handle, in the command's scope (a fiber forked there ends with
   * it): to watch it, or to feed a `stdin: "pipe"`.
   */
  readonly onStart?: ((handle: ChildProcessHandle) => Effect.Effect<void, never, Scope.Scope>) | undefined
}

/** The words of a command, for the error; a pipeline shows its first command. */
const displayOf = (command: ChildProcess.Command): string => {
  if (command._tag === "PipedCommand") return `${displayOf(command.left)} | ${displayOf(command.right)}`
  return CommandLine.display([command.command, ...command.args])
}

/** The command with its stdin at end-of-file, unless it chose one. */
// Rebuilt through the public constructors (a command is a plain description; copying it through its prototype
// would depend on Effect's internals).
const withStdinAtEof = (command: ChildProcess.Command): ChildProcess.Command => {
  if (command._tag === "PipedCommand") {
    const left = withStdinAtEof(command.left)
    return left === command.left ? command : ChildProcess.pipeTo(left, command.right, command.options)
  }
  if (command.options.stdin !== undefined) return command
  return ChildProcess.make(command.command, command.args, { ...command.options, stdin: "ignore" })
}

const tailOf = (
  source: Stream.Stream<Uint8Array, PlatformError.PlatformError>,
  limit: number,
  into: { text: string }
) =>
  source.pipe(
    Stream.decodeText(),
    Stream.runForEach((text) =>
      Effect.sync(() => {
        const joined = into.text + text
        into.text = joined.length > limit ? joined.slice(joined.length - limit) : joined
      })
    ),
    Effect.ignore
  )

/**
 * Runs `command` and waits for it: succeeds when it exits with 0, fails with `CommandFailed` on another code or a
 * killing signal, and with the spawner's `PlatformError` when it cannot start (a missing program). Interrupting
 * it (revoking its task) kills the command's whole tree, as any process of a task.
 *
 * @since 0.1.0
 * @category running
 */
export const run = Effect.fn("TaskCommand.run")(function*(
  command: ChildProcess.Command,
  options: RunOptions = {}
): Effect.fn.Return<void, CommandFailed | PlatformError.PlatformError, ChildProcessSpawner> {
  const spawner = yield* ChildProcessSpawner
  const limit = options.stderrTail ?? 4096
  return yield* Effect.scoped(Effect.gen(function*() {
    const handle = yield* spawner.spawn(withStdinAtEof(command))
    const stderr = { text: "" }
    const reader = yield* Effect.forkScoped(tailOf(handle.stderr, limit, stderr), { startImmediately: true })
    // A task's spawner drains stdout into the task whoever reads it; a plain spawner (outside a task, or a
    // manager without one) would let unread output block the command.
    yield* Effect.forkScoped(Stream.runDrain(handle.stdout).pipe(Effect.ignore), { startImmediately: true })
    if (options.onStart !== undefined) yield* options.onStart(handle)
    const exit = yield* Effect.exit(handle.exitCode)
    const failed = (outcome: { readonly exitCode: number } | { readonly signal: string }) =>
      Effect.gen(function*() {
        yield* Fiber.await(reader).pipe(Effect.timeoutOption(options.stderrDrain ?? 200))
        return yield* new CommandFailed({ command: displayOf(command), ...outcome, stderr: stderr.text })
      })
    if (exit._tag === "Failure") {
      const signal = ProcessExit.signalOf(exit.cause.reasons.find((reason) => reason._tag === "Fail")?.error)
      if (signal === undefined) return yield* Effect.failCause(exit.cause)
      return yield* failed({ signal })
    }
    if (exit.value !== 0) return yield* failed({ exitCode: exit.value })
  }))
})
