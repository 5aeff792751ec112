/**
 * The built-in `command` job: a shell command (`sh -c`) or an argv, run as a subprocess task on the runner.
 * Exit code 0 is SUCCESS; anything else, or death by a signal, fails with `CommandFailed`. Every runner
 * registers it, so `tasks cluster submit -- "<shell command>"` works on any cluster.
 *
 * @since 0.1.0
 */
import { ProcessExit } from "@effect-tasks/node"
import * as Effect from "effect/Effect"
import * as ChildProcess from "effect/process/ChildProcess"
import { ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import * as Schema from "effect/Schema"
import * as Job from "./Job.js"

/**
 * A command exited with a non-zero code, was killed by a signal, or could not be started.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", {
  exitCode: Schema.optionalKey(Schema.Number),
  signal: Schema.optionalKey(Schema.String),
  reason: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    if (this.exitCode !== undefined) return `command exited with code ${this.exitCode}`
    if (this.signal !== undefined) return `command was killed by ${this.signal}`
    return `command could not run: ${this.reason ?? "unknown"}`
  }
}

const options = {
  cwd: Schema.optionalKey(Schema.String),
  env: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
}

/**
 * The payload: `{ shell }` runs `sh -c shell`; `{ argv }` runs `argv[0]` with the rest as arguments.
 *
 * @since 0.1.0
 * @category models
 */
export const CommandPayload = Schema.Union([
  Schema.Struct({ shell: Schema.String, ...options }),
  Schema.Struct({ argv: Schema.NonEmptyArray(Schema.String), ...options })
])

/**
 * The `command` job.
 *
 * @since 0.1.0
 * @category jobs
 */
export const Command = Job.make("command", {
  payload: CommandPayload,
  success: Schema.Struct({ exitCode: Schema.Number }),
  error: CommandFailed
})

/**
 * Runs a command payload (with the environment of the runner, plus `env`) and waits for it to exit.
 *
 * @since 0.1.0
 * @category handlers
 */
export const run = Effect.fn("CommandJob.run")(function*(payload: typeof CommandPayload.Type) {
  const spawner = yield* ChildProcessSpawner
  const [command, ...args] = "shell" in payload ? ["sh", "-c", payload.shell] : payload.argv
  const child = ChildProcess.make(command!, args, {
    ...(payload.cwd === undefined ? {} : { cwd: payload.cwd }),
    ...(payload.env === undefined ? {} : { env: payload.env, extendEnv: true })
  })
  const exitCode = yield* spawner.exitCode(child).pipe(
    Effect.mapError((error) => {
      const signal = ProcessExit.signalOf(error)
      return signal === undefined ? new CommandFailed({ reason: error.message }) : new CommandFailed({ signal })
    })
  )
  if (exitCode !== 0) return yield* new CommandFailed({ exitCode })
  return { exitCode }
})

/**
 * The handler every runner registers for `Command`.
 *
 * @since 0.1.0
 * @category handlers
 */
export const handler: Job.Handler<ChildProcessSpawner> = Job.handler(Command, run)
