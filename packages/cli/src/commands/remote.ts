/**
 * The remote commands: `tasks ls | show ID | logs ID | follow ID | revoke ID [--force] | revoke-all`, against a
 * manager served by `@effect-tasks/server` (`--connect URL|SOCKET`, `--token`). They print with the same table
 * as the local commands, take `--json`, and exit with 0, or 1 and one line on stderr when something is wrong
 * (no such task, the server refused the token or cannot be reached). `follow` exits with the code the task
 * stands for: 0, the command's code, or 128 + the signal that stopped it.
 *
 * @since 0.1.0
 */
import { TaskId, TaskState, TrackedTask } from "@effect-tasks/core"
import { TaskClient } from "@effect-tasks/server"
import { Argument, Command, Flag } from "effect/cli"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Flags from "../flags.js"
import * as Connection from "../remote/connection.js"
import * as Records from "../remote/records.js"
import * as Color from "../render/color.js"
import * as Tasks from "../render/tasks.js"
import * as Terminal from "../terminal.js"

interface Common {
  readonly connect: Option.Option<string>
  readonly token: Option.Option<string>
  readonly json: boolean
}

const id = Argument.Int("id").pipe(
  Argument.filter((n) => n >= 1, () => "a task id (a positive integer)"),
  Argument.map((n) => TaskId.TaskId.make(n)),
  Argument.withDescription("the task's id, as `tasks ls` shows it")
)

const force = Flag.Boolean("force").pipe(
  Flag.withDefault(false),
  Flag.withDescription("kill at once (SIGKILL) instead of SIGTERM and the grace period")
)

const outputFor = (json: boolean) => json ? Terminal.stderr : Terminal.stdout

const paletteFor = (json: boolean) => {
  const out = outputFor(json)
  return Color.palette(Color.shouldColor(process.env, out.isTTY))
}

/** Renders records as the local commands' table. */
const table = (records: ReadonlyArray<TrackedTask.TrackedTaskJson>, json: boolean): string => {
  const out = outputFor(json)
  return Tasks.table(records.map(Records.fromJson), Tasks.defaultFields, {
    palette: paletteFor(json),
    now: Date.now(),
    maxWidth: out.isTTY ? out.columns() : undefined
  }).join("\n")
}

const printJson = (value: unknown) => Terminal.stdout.write(`${JSON.stringify(value)}\n`)

/**
 * Runs a remote command's body with a client, and turns any failure into one line on stderr and exit code 1.
 */
const remote = <E>(
  name: string,
  config: Common,
  body: (client: TaskClient.Client) => Effect.Effect<void, E, Scope.Scope>
) =>
  Connection.open(config).pipe(
    Effect.flatMap(body),
    Effect.scoped,
    Effect.catch((error) =>
      Effect.sync(() => {
        Terminal.stderr.write(`tasks ${name}: ${Connection.describe(error, config.connect)}\n`)
        process.exitCode = 1
      })
    )
  )

const common = { ...Connection.flags, json: Flags.json }

/** `tasks ls`. */
export const ls = Command.make("ls", common, (config) =>
  remote("ls", config, (client) =>
    Effect.gen(function*() {
      const records = yield* client.tasks.list()
      if (config.json) return printJson(records.map(Records.toJson))
      Terminal.stdout.write(records.length === 0 ? "no tasks yet\n" : `${table(records, false)}\n`)
    }))).pipe(Command.withDescription("List the tasks of a served manager (the table of `tasks shell`'s jobs)"))

const time = (millis: number | undefined) => millis === undefined ? "-" : new Date(millis).toISOString()

const detail = (record: TrackedTask.TrackedTaskJson, p: Color.Palette): Array<string> => {
  const lines: Array<string> = []
  lines.push(
    "",
    `${p.dim("submitted")} ${time(record.submittedAt)}  ${p.dim("started")} ${time(record.startedAt)}  ${
      p.dim("finished")
    } ${time(record.finishedAt)}`
  )
  for (const proc of record.processes) {
    lines.push(
      `${p.dim("process")} ${Tasks.processCell(proc)}  ${Color.sanitize([proc.command, ...proc.args].join(" "))}`
    )
  }
  // The error, without its stack frames; a command's failure is already said by its process's outcome.
  const error = (record.error ?? "").split("\n").filter((line) => !/^\s+at /.test(line) && line.trim() !== "")
  if (error.length > 0 && !error[0]!.startsWith("CommandFailed: ")) {
    lines.push(p.dim("error"), ...error.map((line) => `  ${p.red(Color.sanitize(line))}`))
  }
  return lines
}

/** `tasks show ID`. */
export const show = Command.make(
  "show",
  { ...common, id },
  (config) =>
    remote("show", config, (client) =>
      Effect.gen(function*() {
        const record = yield* client.tasks.get({ params: { id: config.id } })
        if (config.json) return printJson(Records.toJson(record))
        Terminal.stdout.write(`${[table([record], false), ...detail(record, paletteFor(false))].join("\n")}\n`)
      }))
).pipe(Command.withDescription("Show one task of a served manager: its row, times, processes and error"))

/** `tasks logs ID`. */
export const logs = Command.make(
  "logs",
  { ...common, id },
  (config) =>
    remote("logs", config, (client) =>
      Effect.gen(function*() {
        const tail = yield* client.tasks.output({ params: { id: config.id } })
        if (config.json) return printJson(tail)
        process.stdout.write(tail.stdout)
        process.stderr.write(tail.stderr)
        const dropped = [
          tail.droppedStdout > 0 ? `${tail.droppedStdout} characters of stdout` : "",
          tail.droppedStderr > 0 ? `${tail.droppedStderr} characters of stderr` : ""
        ].filter((part) => part !== "")
        if (dropped.length > 0) {
          Terminal.stderr.write(`tasks logs: only the tail is kept; ${dropped.join(" and ")} came before it\n`)
        }
      }))
).pipe(
  Command.withDescription("Print the kept tail of a task's output: its stdout on stdout, its stderr on stderr")
)

/** `tasks follow ID`. */
export const follow = Command.make(
  "follow",
  { ...common, id },
  (config) =>
    remote("follow", config, (client) =>
      Effect.gen(function*() {
        const dropped = yield* TaskClient.follow(client, config.id).pipe(
          Stream.runForEach((event) =>
            Effect.sync(() => {
              if (config.json) return printJson(event)
              if (event._tag === "TaskOutput") {
                ;(event.stream === "stderr" ? process.stderr : process.stdout).write(event.text)
              } else if (event._tag === "OutputSkipped") {
                Terminal.stderr.write(
                  `tasks follow: only the kept tail follows; ${event.stdout} characters of stdout and ${event.stderr} of stderr came before it\n`
                )
              }
            })
          ),
          Effect.as(false),
          Effect.catchTag("FollowDropped", (error) =>
            Effect.sync(() => {
              Terminal.stderr.write(`tasks follow: ${error.message}; the output above is complete up to there\n`)
              return true
            }))
        )
        const record = yield* client.tasks.get({ params: { id: config.id } })
        if (!config.json && !dropped) {
          const p = paletteFor(true)
          const task = Records.fromJson(record)
          Terminal.stderr.write(
            `${p.dim(`[${record.id}]`)} ${Color.forState(p, task.state)(Tasks.finishedText(task))}\n`
          )
        }
        const code = !dropped && TaskState.isTerminal(record.state)
          ? Records.exitCode(Records.fromJson(record))
          : 1
        process.exitCode = code ?? 0
      }))
).pipe(
  Command.withDescription(
    "Print a task's output as it comes, without loss, until it ends; exits with the task's code (0, the command's, 128 + signal)"
  )
)

/** `tasks revoke ID [--force]`. */
export const revoke = Command.make(
  "revoke",
  { ...common, id, force },
  (config) =>
    remote("revoke", config, (client) =>
      Effect.gen(function*() {
        const before = yield* client.tasks.get({ params: { id: config.id } })
        const note = Terminal.stderr
        if (TaskState.isTerminal(before.state)) {
          note.write(`tasks revoke: [${before.id}] already finished (${before.state})\n`)
        } else {
          note.write(
            config.force
              ? `[${before.id}] killing ${before.name} (SIGKILL)\n`
              : `[${before.id}] revoking ${before.name} (SIGTERM, then SIGKILL after its grace period)\n`
          )
        }
        const done = yield* client.tasks.revoke({ params: { id: config.id }, payload: { graceful: !config.force } })
        if (config.json) return printJson(Records.toJson(done))
        Terminal.stdout.write(`${table([done], false)}\n`)
      }))
).pipe(
  Command.withDescription("Revoke a task of a served manager and wait until it has stopped; --force kills at once")
)

/** `tasks revoke-all [--force]`. */
export const revokeAll = Command.make(
  "revoke-all",
  { ...common, force },
  (config) =>
    remote("revoke-all", config, (client) =>
      Effect.gen(function*() {
        const done = yield* client.tasks.revokeAll({ payload: { graceful: !config.force } })
        if (config.json) return printJson(done.map(Records.toJson))
        Terminal.stdout.write(done.length === 0 ? "nothing was running\n" : `${table(done, false)}\n`)
      }))
).pipe(
  Command.withDescription("Revoke every active task of a served manager and wait until all have stopped")
)

/** The remote commands, in the order `tasks --help` lists them. */
export const commands = [ls, show, logs, follow, revoke, revokeAll] as const
