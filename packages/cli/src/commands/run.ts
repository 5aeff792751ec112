/**
 * `tasks run -- "cmd1" "cmd2" ...`: a supervisor in the manner of `concurrently`. Each command runs
 * as a task (`sh -c`), its output prefixed with a coloured name; at most `--max` run at once. Ctrl-C,
 * SIGTERM or SIGHUP revoke everything gracefully (a second signal kills at once), and nothing any
 * command started survives, daemons included. The exit code is the first failure's, else 0.
 *
 * @since 0.1.0
 */
import { TaskManager, TrackedTask } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import { Argument, Command, Flag } from "effect/cli"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Flags from "../flags.js"
import * as Color from "../render/color.js"
import * as Tasks from "../render/tasks.js"
import * as ShellTask from "../shellTask.js"
import * as Signals from "../signals.js"
import * as Terminal from "../terminal.js"

/** The parsed arguments of `tasks run`. */
export interface RunConfig {
  readonly commands: ReadonlyArray<string>
  readonly grace: Duration.Duration
  readonly killOthersOnFail: boolean
  readonly names: ReadonlyArray<string>
  readonly max: Option.Option<number>
  readonly json: boolean
}

/** Splits `--names a,b,c` (blank entries fall back to the command's index). */
export const parseNames = (text: string): Array<string> => text.split(",").map((name) => name.trim())

/** The name of command `index`: its `--names` entry, else its index (as `concurrently` does). */
export const nameOf = (names: ReadonlyArray<string>, index: number): string => {
  const name = names[index]
  return name === undefined || name === "" ? String(index) : name
}

/** The JSON summary of a run. */
export const summaryJson = (
  tasks: ReadonlyArray<TrackedTask.TrackedTask>,
  commands: ReadonlyArray<string>,
  exitCode: number
) => ({
  exitCode,
  tasks: tasks.map((task, i) => ({
    ...TrackedTask.toJson(task),
    command: commands[i] ?? "",
    exitCode: Tasks.exitCode(task) ?? null
  }))
})

/** Runs the commands under a task manager until all have finished (or a signal stops them). */
export const supervise = Effect.fn("Run.supervise")(function*(config: RunConfig) {
  const tm = yield* TaskManager
  const out = config.json ? Terminal.stderr : Terminal.stdout
  const p = Color.palette(Color.shouldColor(process.env, out.isTTY))
  const colors = Color.cycle(p)
  const names = config.commands.map((_, i) => nameOf(config.names, i))
  const width = Math.max(...names.map((name) => name.length))
  const prefixes = names.map((name, i) => colors[i % colors.length]!(`[${name.padEnd(width)}]`))
  const note = (text: string) => out.write(`${p.dim(text)}\n`)
  const graceText = Tasks.formatGrace(config.grace)

  let firstFailure: TrackedTask.TrackedTask | undefined
  let stoppedBy: string | undefined
  const ids: Array<number> = []
  const commandOf = (task: TrackedTask.TrackedTask) => config.commands[ids.indexOf(task.id)] ?? ""

  for (const [i, command] of config.commands.entries()) {
    const prefix = prefixes[i]!
    const task = yield* tm.submit(
      ShellTask.run(command, {
        onLine: (line, stream) => (stream === "stderr" ? Terminal.stderr : out).write(`${prefix} ${line}\n`)
      }),
      { name: names[i]!, mode: "run" }
    )
    ids.push(task.id)
  }

  const reported = new Set<number>()
  const report = (task: TrackedTask.TrackedTask) => {
    if (reported.has(task.id)) return
    reported.add(task.id)
    const prefix = prefixes[ids.indexOf(task.id)]!
    const took = p.dim(`(${Tasks.durationText(task)})`)
    out.write(`${prefix} ${Color.forState(p, task.state)(Tasks.finishedText(task))} ${took}\n`)
  }

  const finished = (task: TrackedTask.TrackedTask) =>
    Effect.gen(function*() {
      report(task)
      if (task.state !== "FAILURE" || firstFailure !== undefined) return
      firstFailure = task
      if (!config.killOthersOnFail || stoppedBy !== undefined) return
      stoppedBy = `${task.name} failed`
      const others = (yield* tm.active).length
      if (others > 0) note(`--> ${task.name} failed: stopping ${others} other command(s) (grace ${graceText})`)
      yield* tm.revokeAll()
    })

  const summary = Effect.gen(function*() {
    const tasks = yield* Effect.forEach(ids, (id) => tm.get(id))
    const code = firstFailure !== undefined
      ? Tasks.exitCode(firstFailure) ?? 1
      : stoppedBy !== undefined && Signals.first() !== undefined
      ? Signals.exitCode()
      : 0
    if (config.json) {
      Terminal.stdout.write(`${JSON.stringify(summaryJson(tasks, config.commands, code))}\n`)
    } else {
      const lines = Tasks.table(tasks, ["name", "command", "state", "duration", "result", "processes"], {
        palette: p,
        now: Date.now(),
        maxWidth: out.isTTY ? out.columns() : undefined,
        command: commandOf
      })
      out.write(`\n${lines.join("\n")}\n`)
    }
    process.exitCode = code
  })

  const stop = Effect.gen(function*() {
    const signal = Signals.first() ?? "interrupt"
    stoppedBy = signal
    const active = (yield* tm.active).length
    note(
      `--> ${signal}: stopping ${active} command(s) gracefully (grace ${graceText}; send it again to kill at once)`
    )
    const stopped = yield* tm.shutdown.pipe(Effect.andThen(Effect.forEach(ids, (id) => tm.get(id))))
    stopped.forEach(report)
  })

  const escalate = yield* Effect.context<never>().pipe(
    Effect.map((context) => {
      const runFork = Effect.runForkWith(context)
      return () => {
        if (Signals.count() < 2) return
        note("--> second signal: killing everything at once")
        runFork(tm.revokeAll({ graceful: false }))
      }
    })
  )

  yield* Signals.onEach(
    escalate,
    Effect.forEach(ids, (id) => Effect.flatMap(tm.await(id), finished), { concurrency: "unbounded", discard: true })
      .pipe(Effect.onInterrupt(() => Effect.andThen(stop, summary)))
  )
  yield* summary
})

/** Runs `config` with its own task manager (closed, and so every process killed, when it returns). */
export const runCommands = (config: RunConfig) =>
  Effect.suspend(() => {
    const layer = NodeTaskManager.layerWith({
      grace: config.grace,
      // If `tasks` itself is killed (SIGKILL, a crash), its guardian still stops every command.
      guardian: true,
      ...(Option.isSome(config.max) ? { concurrency: config.max.value } : {})
    })
    return supervise(config).pipe(Effect.provide(layer))
  })

/** The flags and arguments of `tasks run`, parsed into a `RunConfig`. */
export const config = {
  grace: Flags.grace,
  killOthersOnFail: Flag.Boolean("kill-others-on-fail").pipe(
    Flag.withDefault(false),
    Flag.withDescription("when a command fails, revoke the others (gracefully)")
  ),
  names: Flag.String("names").pipe(
    Flag.map(parseNames),
    Flag.withDefault([] as ReadonlyArray<string>),
    Flag.withMetavar("a,b,..."),
    Flag.withDescription("comma-separated names for the output prefixes (default: 0, 1, 2, ...)")
  ),
  max: Flag.Int("max").pipe(
    Flag.filter((n) => n >= 1, () => "a whole number of at least 1"),
    Flag.optional,
    Flag.withMetavar("N"),
    Flag.withDescription("run at most N commands at once; the rest wait QUEUED (default: all at once)")
  ),
  json: Flags.json,
  commands: Argument.String("command").pipe(
    Argument.variadic({ min: 1 }),
    Argument.withDescription("shell commands, each run with sh -c (quote each one)")
  )
}

/** The `run` command. */
export const command = Command.make("run", config, runCommands).pipe(
  Command.withDescription(
    "Run commands in parallel like concurrently: prefixed output, graceful stop on Ctrl-C/SIGTERM/SIGHUP, no orphans"
  )
)
