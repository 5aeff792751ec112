/**
 * `tasks run -- "cmd1" "cmd2" ...`: a supervisor in the manner of `concurrently`. Each command runs
 * as a task (`sh -c`), its output prefixed with a coloured name; at most `--max` run at once. Ctrl-C,
 * SIGTERM or SIGHUP revoke everything gracefully (a second signal kills at once), and nothing any
 * command started survives, daemons included. `--kill-others` stops the rest when one command ends
 * (`--kill-others-on-fail`: when one fails), with the revocation reason `kill-others`; `--success` says
 * which commands decide the exit code, as in `concurrently`.
 *
 * @since 0.1.0
 */
import { TaskId, TaskManager, TrackedTask } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import { Argument, Command, Flag } from "effect/cli"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Flags from "../flags.js"
import * as Color from "../render/color.js"
import * as Output from "../render/output.js"
import * as Tasks from "../render/tasks.js"
import * as ShellTask from "../shellTask.js"
import * as Signals from "../signals.js"
import * as Success from "../success.js"
import * as Terminal from "../terminal.js"

/** The parsed arguments of `tasks run`. */
export interface RunConfig {
  readonly commands: ReadonlyArray<string>
  readonly grace: Duration.Duration
  readonly killOthers: boolean
  readonly killOthersOnFail: boolean
  readonly success: Success.Condition
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
    ...Tasks.toJson(task),
    command: commands[i] ?? "",
    exitCode: Tasks.exitCode(task) ?? null
  }))
})

/** The revocation reason of the commands `--kill-others` and `--kill-others-on-fail` stop. */
export const killOthersReason = "kill-others"

/** How a command ended, for `--success`: its code, and whether it failed on its own. */
export const outcome = (task: TrackedTask.TrackedTask, index: number): Success.Outcome => {
  const code = Tasks.exitCode(task)
  if (code !== undefined) return { index, name: task.name, code, failed: task.state === "FAILURE" }
  // Stopped by the run: the code its process ended with (128 + signal when killed), as a shell reports it.
  const main = task.processes[0]
  const stopped = main?.signal !== undefined ? Tasks.signalExitCode(main.signal) : main?.exitCode ?? 1
  return { index, name: task.name, code: stopped, failed: false }
}

/** Runs the commands under a task manager until all have finished (or a signal stops them). */
export const supervise = Effect.fn("Run.supervise")(function*(config: RunConfig) {
  const tm = yield* TaskManager.TaskManager
  const out = config.json ? Terminal.stderr : Terminal.stdout
  const p = Color.palette(Color.shouldColor(process.env, out.isTTY))
  const colors = Color.cycle(p)
  const names = config.commands.map((_, i) => nameOf(config.names, i))
  const width = Math.max(...names.map(Color.width))
  const prefixes = names.map((name, i) => colors[i % colors.length]!(`[${Color.pad(name, width)}]`))
  const printer = Output.make(out, Terminal.stderr, p)
  const note = (text: string) => printer.note(p.dim(text))
  const graceText = Tasks.formatGrace(config.grace)

  let stoppedBy: string | undefined
  const ids: Array<TaskId.TaskId> = []
  // Ids in the order the commands ended, for --success first/last.
  const endOrder: Array<TaskId.TaskId> = []
  const commandOf = (task: TrackedTask.TrackedTask) => config.commands[ids.indexOf(task.id)] ?? ""

  const reported = new Set<number>()
  const report = (task: TrackedTask.TrackedTask) => {
    if (reported.has(task.id)) return
    reported.add(task.id)
    const prefix = prefixes[ids.indexOf(task.id)]!
    const took = p.dim(`(${Tasks.durationText(task)})`)
    printer.note(`${prefix} ${Color.forState(p, task.state)(Tasks.finishedText(task))} ${took}`)
    const cleanup = Tasks.cleanupText(task)
    if (cleanup !== undefined) printer.note(`${prefix} ${p.dim(cleanup)}`)
  }

  const finished = (task: TrackedTask.TrackedTask) =>
    Effect.gen(function*() {
      report(task)
      endOrder.push(task.id)
      if (stoppedBy !== undefined) return
      const stop = config.killOthers || (config.killOthersOnFail && task.state === "FAILURE")
      if (!stop) return
      stoppedBy = `${task.name} ended`
      const others = (yield* tm.active).length
      if (others === 0) return
      note(
        `--> ${task.name} ${
          Tasks.finishedText(task)
        }: stopping ${others} other command(s) (${killOthersReason}, grace ${graceText})`
      )
      yield* tm.revokeAll({ reason: killOthersReason })
    })

  const summary = Effect.gen(function*() {
    const tasks = yield* Effect.forEach(ids, (id) => tm.get(id))
    const ended = endOrder.flatMap((id) => {
      const index = ids.indexOf(id)
      const task = tasks[index]!
      // A command that never started (QUEUED when the run stopped) does not count, as in concurrently.
      return task.startedAt === undefined ? [] : [outcome(task, index)]
    })
    const code = Success.exitCode(config.success, ended, signalled ? Signals.exitCode() : undefined)
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

  // Each command is followed from its first byte: every line is printed, in order, and its end is reported once
  // its output has ended (a follower ends when its task is terminal).
  const followers: Array<Fiber.Fiber<void>> = []
  for (const [i, command] of config.commands.entries()) {
    const prefix = prefixes[i]!
    const [task, output] = yield* tm.submitFollowed(ShellTask.run(command), { name: names[i]!, mode: "run" })
    ids.push(task.id)
    const follower = yield* output.pipe(
      Stream.runForEachArray((chunks) =>
        Effect.sync(() => {
          for (const chunk of chunks) printer.chunk(chunk, prefix)
        })
      ),
      Effect.andThen(Effect.sync(() => printer.end(task.id))),
      Effect.andThen(tm.get(task.id)),
      Effect.flatMap(finished),
      Effect.orDie,
      Effect.forkScoped({ startImmediately: true })
    )
    followers.push(follower)
  }
  if (out.isTTY) {
    yield* Effect.sync(() => printer.tick(Date.now())).pipe(
      Effect.delay(Duration.millis(Output.partialDelayMillis)),
      Effect.forever,
      Effect.forkScoped
    )
  }

  let signalled = false
  const stop = Effect.gen(function*() {
    const signal = Signals.first() ?? "interrupt"
    stoppedBy = signal
    signalled = Signals.first() !== undefined
    const active = (yield* tm.active).length
    note(
      `--> ${signal}: stopping ${active} command(s) gracefully (grace ${graceText}; send it again to kill at once)`
    )
    yield* tm.shutdown
    // Every follower ends once its task is terminal, after the last of its output and its end line.
    yield* Fiber.joinAll(followers)
  })

  yield* Signals.killOnSecond(
    note,
    tm.revokeAll({ graceful: false }),
    Fiber.joinAll(followers).pipe(Effect.onInterrupt(() => Effect.andThen(stop, summary)))
  )
  yield* summary
}, Effect.scoped)

/** Runs `config` with its own task manager (closed, and so every process killed, when it returns). */
export const runCommands = (config: RunConfig) =>
  Effect.suspend(() => {
    const problem = Success.check(config.success, config.commands.map((_, i) => nameOf(config.names, i)))
    if (problem !== undefined) {
      // A bad invocation, reported before anything runs, as effect/cli reports its own.
      Terminal.stderr.write(`tasks run: ${problem} (see 'tasks run --help')\n`)
      return Effect.sync(() => {
        process.exitCode = 1
      })
    }
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
  killOthers: Flag.Boolean("kill-others").pipe(
    Flag.withDefault(false),
    Flag.withDescription("when a command ends, revoke the others (gracefully; reason kill-others)")
  ),
  killOthersOnFail: Flag.Boolean("kill-others-on-fail").pipe(
    Flag.withDefault(false),
    Flag.withDescription("when a command fails, revoke the others (gracefully; reason kill-others)")
  ),
  success: Flag.String("success").pipe(
    Flag.withDefault("all"),
    Flag.filterMap(Success.parse, Success.invalidMessage),
    Flag.withMetavar("first|last|all|command-NAME"),
    Flag.withDescription(
      "which commands must exit with 0 for tasks to exit with 0: all (default), the first or last to end, command-NAME or command-INDEX, !command-NAME"
    )
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
