/**
 * `tasks demo`: about ten seconds of real processes under a task manager, narrated. A quick success,
 * a failing command, a long job with grandchildren (one of them double-forked into its own session),
 * a process that ignores SIGTERM, one that hits its timeout, a batch held QUEUED by a per-mode
 * concurrency limit, and a server stopped by shutdown. It ends with the final table and a count of
 * the demo's processes still alive, read from `/proc`; that count must be 0 (else exit 1).
 *
 * @since 0.1.0
 */
import { TaskId, TaskManager, TrackedTask } from "@effect-tasks/core"
import { NodeTaskManager, ProcessIdentity } from "@effect-tasks/node"
import { Command } from "effect/cli"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Flags from "../flags.js"
import * as Color from "../render/color.js"
import * as EventLog from "../render/events.js"
import * as Live from "../render/live.js"
import * as Tasks from "../render/tasks.js"
import * as Serve from "../serve.js"
import * as ShellTask from "../shellTask.js"
import * as Survivors from "../survivors.js"
import * as Terminal from "../terminal.js"

/** One task of the demo: what it runs and how it is submitted. */
export interface DemoTask {
  readonly name: string
  readonly script: string
  readonly mode?: string | undefined
  readonly timeout?: Duration.Input | undefined
  readonly grace?: Duration.Input | undefined
}

/** The manager's settings: a 2 s grace, and at most two `batch` tasks at once. */
export const managerConfig = { grace: "2 seconds", concurrency: { batch: 2 }, guardian: true } as const

/** The demo's tasks, in submission order (ids 1, 2, ...). */
export const tasks: ReadonlyArray<DemoTask> = [
  { name: "quick", script: "echo \"hello from pid $$\"" },
  { name: "failing", script: "echo 'checking config...'; sleep 0.6; echo 'config.yml not found' >&2; exit 3" },
  {
    name: "build",
    script:
      "for i in 1 2 3; do sleep 60 & done; (setsid sleep 60 &); echo '4 workers started (1 escaped with setsid)'; wait"
  },
  { name: "stubborn", script: "trap '' TERM; echo 'ignoring SIGTERM'; sleep 60", grace: "1 second" },
  { name: "slow", script: "echo 'waiting for a server that never answers'; sleep 60", timeout: "2500 millis" },
  ...[1, 2, 3, 4, 5, 6].map((n) => ({ name: `batch-${n}`, mode: "batch", script: `sleep 2; echo 'batch ${n} done'` })),
  { name: "server", script: "while true; do echo tick; sleep 1; done" }
]

/** What the demo does, and when (milliseconds after the tasks are submitted). */
export const script: ReadonlyArray<{ readonly at: number; readonly revoke: string; readonly say: string }> = [
  { at: 1000, revoke: "batch-6", say: "revoke batch-6 while it is still QUEUED: it never starts" },
  {
    at: 3000,
    revoke: "stubborn",
    say: "revoke stubborn: it traps SIGTERM, so after its 1s grace it gets SIGKILL"
  },
  { at: 5000, revoke: "build", say: "revoke build: SIGTERM reaches its children and the setsid'd grandchild" }
]

/** When the demo shuts the manager down, stopping what still runs (the server). */
export const shutdownAt = 8000

/** The JSON summary of the demo. */
export const summaryJson = (
  records: ReadonlyArray<TrackedTask.TrackedTask>,
  survivors: ReadonlyArray<Survivors.Survivor>,
  durationMillis: number
) => ({
  durationMillis,
  tasks: records.map((task) => ({ ...Tasks.toJson(task), exitCode: Tasks.exitCode(task) ?? null })),
  survivors,
  alive: survivors.length
})

/**
 * Runs the demo against the `TaskManager.TaskManager` in context and returns the number of survivors (any makes
 * the exit code 1). Interrupted (Ctrl-C), it shuts down at once and still prints the final table.
 */
export const play = Effect.fn("Demo.play")(function*(options: { readonly json: boolean }) {
  const tm = yield* TaskManager.TaskManager
  const out = options.json ? Terminal.stderr : Terminal.stdout
  const p = Color.palette(Color.shouldColor(process.env, out.isTTY))
  const start = Date.now()
  const since = ProcessIdentity.startTimeNow()
  const log = EventLog.make({ palette: p, start, nameWidth: 9 })
  const region = Live.make(out)
  const say = (text: string) => region.print(log.note(text, Date.now()))
  const maxWidth = out.isTTY ? out.columns() : undefined
  const table = (records: ReadonlyArray<TrackedTask.TrackedTask>) =>
    Tasks.table(records, Tasks.defaultFields, { palette: p, now: Date.now(), maxWidth })

  const events = yield* tm.subscribe
  const printer = yield* Stream.runForEach(events, (event) =>
    Effect.sync(() => {
      for (const line of log.lines(event, Date.now())) region.print(line)
    })).pipe(Effect.forkScoped({ startImmediately: true }))

  say(`a task manager with grace 2s and at most 2 "batch" tasks at once; ${tasks.length} tasks, real processes`)
  const ids = new Map<string, TaskId.TaskId>()
  for (const task of tasks) {
    const submitted = yield* tm.submit(ShellTask.run(task.script), {
      name: task.name,
      ...(task.mode === undefined ? {} : { mode: task.mode }),
      ...(task.timeout === undefined ? {} : { timeout: task.timeout }),
      ...(task.grace === undefined ? {} : { grace: task.grace })
    })
    ids.set(task.name, submitted.id)
  }

  if (region.live) {
    out.write("\x1b[?25l")
    const redraw = Effect.flatMap(tm.list, (records) =>
      Effect.sync(() => {
        const elapsed = Date.now() - start
        region.update([
          "",
          ...table(records),
          p.dim(`elapsed ${(elapsed / 1000).toFixed(1)}s · redrawn in place; Ctrl-C stops everything gracefully`)
        ])
      }))
    yield* redraw.pipe(Effect.repeat(Schedule.spaced("100 millis")), Effect.forkScoped)
    yield* Effect.addFinalizer(() => Effect.sync(() => out.write("\x1b[?25h")))
  }

  const finish = (why: string) =>
    Effect.gen(function*() {
      say(why)
      yield* tm.shutdown
      yield* Fiber.join(printer)
      region.clear()
      const records = yield* tm.list
      const survivors = Survivors.find({ pids: records.flatMap((task) => task.processes.map((p) => p.pid)), since })
      const recorded = records.reduce((sum, task) => sum + task.processes.length, 0)
      const took = Date.now() - start
      if (options.json) {
        Terminal.stdout.write(`${JSON.stringify(summaryJson(records, survivors, took))}\n`)
      } else {
        out.write(`\n${table(records).join("\n")}\n\n`)
        for (const survivor of survivors) {
          out.write(p.red(`  still alive: pid ${survivor.pid} (${survivor.via}) ${survivor.command}\n`))
        }
        const verdict = survivors.length === 0 ? p.green : p.red
        out.write(
          `${verdict(`${survivors.length} of the demo's processes still alive`)} ${
            p.dim(`(${recorded} started by tasks, plus their children; checked in /proc)`)
          }\n`
        )
      }
      if (survivors.length > 0) process.exitCode = 1
      return survivors.length
    })

  const submittedAt = Date.now()
  const sleepUntil = (at: number) => Effect.suspend(() => Effect.sleep(Math.max(0, submittedAt + at - Date.now())))
  const scenario = Effect.gen(function*() {
    for (const step of script) {
      yield* sleepUntil(step.at)
      say(step.say)
      yield* Effect.forkScoped(tm.revoke(ids.get(step.revoke)!), { startImmediately: true })
    }
    yield* sleepUntil(shutdownAt)
  })
  yield* scenario.pipe(
    Effect.onInterrupt(() => finish("interrupted: shut the manager down, revoking every task gracefully"))
  )
  return yield* finish("shut the manager down: every task still running is revoked gracefully (reason: shutdown)")
})

/** After a served demo: the server stays up, with the final records, until interrupted. */
const keepServing = Effect.andThen(
  Effect.sync(() => Terminal.stderr.write("the demo is over; still serving its tasks (Ctrl-C to stop)\n")),
  Effect.never
)

/** The `demo` command. */
export const command = Command.make(
  "demo",
  { json: Flags.json, serve: Serve.flag },
  (config) =>
    play(config).pipe(
      // Served, the demo's tasks stay visible (dashboard, remote commands) until Ctrl-C.
      Effect.andThen(Option.isSome(config.serve) ? keepServing : Effect.void),
      Effect.scoped,
      Effect.provide(Serve.provide(config.serve, NodeTaskManager.layerWith(managerConfig)))
    )
).pipe(
  Command.withDescription(
    "Ten seconds of real processes: success, failure, timeout, a SIGTERM-ignoring process, queued tasks, revokes"
  )
)
