/**
 * `tasks cluster submit --db URL [--name N] [--retry N] [--key K] [--timeout D] -- "<shell command>"`: adds a
 * `command` task and prints its id on stdout. One argument runs with `sh -c`; several run as an argv.
 *
 * @since 0.1.0
 */
import { CommandJob } from "@effect-tasks/cluster"
import { Argument, Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Duration from "../../duration.js"
import { db, withClient } from "./shared.js"

/** The `cluster submit` command. */
export const command = Command.make(
  "submit",
  {
    db,
    name: Flag.String("name").pipe(Flag.optional, Flag.withMetavar("N"), Flag.withDescription("a name for the task")),
    retry: Flag.Int("retry").pipe(
      Flag.filter((n) => n >= 0, () => "a whole number of at least 0"),
      Flag.withDefault(0),
      Flag.withMetavar("N"),
      Flag.withDescription(
        "if its runner dies, run it again up to N more times on a survivor (default 0: at most once)"
      )
    ),
    key: Flag.String("key").pipe(
      Flag.optional,
      Flag.withMetavar("K"),
      Flag.withDescription("an idempotency key: a repeated submit with it prints the existing task's id")
    ),
    timeout: Flag.String("timeout").pipe(
      Flag.filterMap(Duration.parse, Duration.invalidMessage),
      Flag.optional,
      Flag.withMetavar("duration"),
      Flag.withDescription("revoke the task once an attempt has run this long")
    ),
    command: Argument.String("command").pipe(
      Argument.variadic({ min: 1 }),
      Argument.withDescription("a shell command (one argument, run with sh -c), or an argv (several)")
    )
  },
  (config) =>
    withClient(config.db, (tasks) =>
      Effect.gen(function*() {
        const payload = config.command.length === 1
          ? { shell: config.command[0]! }
          : { argv: config.command as unknown as readonly [string, ...Array<string>] }
        const task = yield* tasks.submit(CommandJob.Command, payload, {
          name: Option.getOrUndefined(config.name),
          retry: { maxAttempts: config.retry + 1 },
          idempotencyKey: Option.getOrUndefined(config.key),
          timeout: Option.getOrUndefined(config.timeout)
        })
        process.stdout.write(`${task.id}\n`)
      }))
).pipe(Command.withDescription("Add a shell command task to the cluster and print its id"))
