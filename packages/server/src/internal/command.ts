/**
 * The body of a task submitted over HTTP: one command, its output drained (the task-aware spawner keeps
 * the tail and publishes it), its stdin at end-of-file, and a non-zero exit or a killing signal turned
 * into a typed failure, so the record says FAILURE with the code.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as ChildProcess from "effect/process/ChildProcess"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { SubmitRequest } from "../TaskApi.js"

/** The command exited with a non-zero code, or was killed by a signal. */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", {
  exitCode: Schema.optionalKey(Schema.Number),
  signal: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    return this.signal === undefined ? `exit ${this.exitCode ?? "?"}` : `killed by ${this.signal}`
  }
}

/** The program and arguments a submit runs: `sh -c <command>` without `args`, the program itself with them. */
export const argv = (request: SubmitRequest): { readonly command: string; readonly args: ReadonlyArray<string> } =>
  request.args === undefined
    ? { command: "sh", args: ["-c", request.command] }
    : { command: request.command, args: request.args }

/** The default name of a submitted task: its command line. */
export const displayName = (request: SubmitRequest): string =>
  request.args === undefined ? request.command : [request.command, ...request.args].join(" ")

/** Effect's spawner reports a death by signal as an error whose text names the signal. */
const signalOf = (cause: Cause.Cause<unknown>): string | undefined => {
  const error = Cause.squash(cause) as { readonly message?: unknown; readonly cause?: unknown } | undefined
  for (const text of [String(error?.message ?? error), String((error?.cause as Error | undefined)?.message)]) {
    const found = /signal: '?(SIG[A-Z0-9]+)'?/.exec(text)?.[1]
    if (found !== undefined) return found
  }
  return undefined
}

/** Runs the command of a submit in the current task; succeeds when it exits with 0. */
export const run = (request: SubmitRequest) =>
  Effect.gen(function*() {
    const { args, command } = argv(request)
    const handle = yield* ChildProcess.make(command, args, { stdin: "ignore" })
    // Read both pipes, so a command never blocks on a full one whatever spawner runs it.
    yield* Effect.forkScoped(Stream.runDrain(handle.stdout), { startImmediately: true })
    yield* Effect.forkScoped(Stream.runDrain(handle.stderr), { startImmediately: true })
    const exit = yield* Effect.exit(handle.exitCode)
    if (exit._tag === "Failure") {
      const signal = signalOf(exit.cause)
      if (signal === undefined) return yield* Effect.failCause(exit.cause)
      return yield* new CommandFailed({ signal })
    }
    if (exit.value !== 0) return yield* new CommandFailed({ exitCode: exit.value })
  }).pipe(Effect.scoped)
