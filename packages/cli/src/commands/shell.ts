/**
 * `tasks shell`: an interactive shell whose every command line runs as a background task. Output
 * arrives above the prompt, prefixed with the task id; a status line counts what runs. Ctrl-C with
 * tasks running lists them to revoke one (a number) or all (Ctrl-C again); Esc closes the list.
 * Ctrl-C with nothing running, Ctrl-D or `exit` leave after a graceful shutdown.
 *
 * @since 0.1.0
 */
import { CurrentTask, type TaskEvent, TaskManager, TaskState, type TrackedTask } from "@effect-tasks/core"
import { NodeTaskManager } from "@effect-tasks/node"
import { Command } from "effect/cli"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as Flags from "../flags.js"
import * as Color from "../render/color.js"
import * as Live from "../render/live.js"
import * as Tasks from "../render/tasks.js"
import * as Editor from "../shell/editor.js"
import * as Keyboard from "../shell/keyboard.js"
import * as Parse from "../shell/parse.js"
import * as Screen from "../shell/screen.js"
import * as ShellTask from "../shellTask.js"
import * as Terminal from "../terminal.js"

/** What the shell's loop reacts to: input, task events, and the end of a `wait`. */
type Message =
  | Keyboard.Input
  | { readonly _tag: "Event"; readonly event: TaskEvent.TaskEvent }
  | { readonly _tag: "WaitDone"; readonly task: TrackedTask.TrackedTask }

/** Lines kept from a task's output tail by `log N`. */
const logLines = 200

/** Runs one interactive session against the `TaskManager` in context; returns when the user leaves. */
export const session = Effect.fn("Shell.session")(function*(config: { readonly grace: Duration.Duration }) {
  const tm = yield* TaskManager
  const out = Terminal.stdout
  const p = Color.palette(Color.shouldColor(process.env, out.isTTY))
  const region = Live.make(out)
  const interactive = Keyboard.isTerminal()
  const messages = yield* Queue.unbounded<Message>()
  const graceText = Tasks.formatGrace(config.grace)

  const running = new Map<number, string>()
  let finished = 0
  let mode: Screen.Mode = { _tag: "Prompt" }
  let editor = Editor.empty
  let waiter: Fiber.Fiber<unknown, unknown> | undefined

  const say = (text: string) => region.print(text)
  const label = (id: number) => p.bold(`[${id}]`)
  const draw = () => {
    if (!region.live) return
    const [lines, back] = Screen.render(
      { mode, editor, running: running.size, finished },
      p,
      Date.now(),
      out.columns()
    )
    region.update(lines, back)
  }

  const events = yield* tm.subscribe
  yield* Stream.runForEach(
    Stream.filter(events, (event) => event._tag !== "TaskOutput"),
    (event) => Queue.offer(messages, { _tag: "Event", event })
  ).pipe(Effect.forkScoped({ startImmediately: true }))
  yield* Keyboard.listen((input) => Queue.offerUnsafe(messages, input))

  const start = (command: string) =>
    tm.submit(
      Effect.flatMap(CurrentTask, (id) =>
        Effect.andThen(
          Effect.sync(() => say(`${label(id)} started: ${command}`)),
          ShellTask.run(command, {
            onLine: (line, stream) => {
              const text = Color.sanitize(line)
              say(`${label(id)} ${stream === "stderr" ? p.red(text) : text}`)
            }
          })
        )),
      { name: command, mode: "shell" }
    )

  const ended = (task: TrackedTask.TrackedTask) =>
    `${label(task.id)} ${Color.forState(p, task.state)(Tasks.finishedText(task))} ${
      p.dim(`(${Tasks.durationText(task)}) ${task.name}`)
    }`

  const revoke = (id: number, force: boolean) =>
    Effect.gen(function*() {
      say(
        force
          ? `${label(id)} killing (SIGKILL)`
          : `${label(id)} revoking (SIGTERM, then SIGKILL after ${graceText})`
      )
      yield* Effect.forkScoped(Effect.ignore(tm.revoke(id, { graceful: !force })), { startImmediately: true })
    })

  const withTask = <R>(
    name: string,
    id: number,
    f: (task: TrackedTask.TrackedTask) => Effect.Effect<void, never, R>
  ) =>
    tm.get(id).pipe(
      Effect.matchEffect({ onFailure: () => Effect.sync(() => say(`${name}: no task ${id}`)), onSuccess: f })
    )

  const openPicker = Effect.gen(function*() {
    const active = yield* tm.active
    if (active.length === 0) return
    mode = {
      _tag: "Picker",
      digits: "",
      entries: active.map((task) => ({ id: task.id, name: task.name, startedAt: task.startedAt }))
    }
  })

  const pick = (entries: ReadonlyArray<Screen.PickerEntry>, n: number) =>
    Effect.gen(function*() {
      mode = { _tag: "Prompt" }
      const entry = entries[n - 1]
      if (entry === undefined) return say(`no task number ${n} in the list`)
      yield* revoke(entry.id, false)
    })

  const revokeAll = (force: boolean) =>
    Effect.gen(function*() {
      const active = yield* tm.active
      if (active.length === 0) return say("nothing is running")
      say(
        `revoking all ${active.length} task(s) ${
          force ? "at once (SIGKILL)" : `gracefully (SIGTERM, then SIGKILL after ${graceText})`
        }`
      )
      yield* Effect.forkScoped(tm.revokeAll({ graceful: !force }), { startImmediately: true })
    })

  const runLine = (text: string) =>
    Effect.gen(function*() {
      const line = Parse.parse(text)
      switch (line._tag) {
        case "Empty":
          return
        case "Start":
          yield* Effect.catchTag(start(line.command), "TaskManagerClosed", () =>
            Effect.sync(() =>
              say("the task manager is shutting down")
            ))
          return
        case "Jobs": {
          const all = yield* tm.list
          if (all.length === 0) return say("no tasks yet")
          const fields: ReadonlyArray<Tasks.Field> = ["id", "command", "state", "duration", "result", "processes"]
          say(Tasks.table(all, fields, { palette: p, now: Date.now(), maxWidth: out.columns() }).join("\n"))
          return
        }
        case "Kill":
          return yield* withTask("kill", line.id, (task) =>
            TaskState.isTerminal(task.state)
              ? Effect.sync(() => say(`kill: ${label(task.id)} already finished (${task.state})`))
              : revoke(task.id, line.force))
        case "KillAll":
          return yield* revokeAll(line.force)
        case "Wait":
          return yield* withTask("wait", line.id, (task) =>
            Effect.gen(function*() {
              if (TaskState.isTerminal(task.state)) return say(ended(task))
              // Without a terminal there is no Ctrl-C to stop waiting: block, so later lines wait too.
              if (!interactive) return say(ended(yield* Effect.orDie(tm.await(task.id))))
              mode = { _tag: "Waiting", id: task.id, name: task.name }
              waiter = yield* tm.await(task.id).pipe(
                Effect.flatMap((done) => Queue.offer(messages, { _tag: "WaitDone", task: done })),
                Effect.forkScoped({ startImmediately: true })
              )
            }))
        case "Log":
          return yield* withTask("log", line.id, (task) =>
            Effect.gen(function*() {
              const tail = yield* Effect.orDie(tm.output(task.id))
              const lines = [
                ...tail.stdout.split("\n").filter((l, i, all) => l.length > 0 || i < all.length - 1)
                  .map(Color.sanitize),
                ...tail.stderr.split("\n").filter((l, i, all) => l.length > 0 || i < all.length - 1)
                  .map((l) => p.red(Color.sanitize(l)))
              ]
              if (lines.length === 0) return say(`${label(task.id)} has printed nothing`)
              const dropped = tail.droppedStdout + tail.droppedStderr
              const shown = lines.slice(-logLines)
              const note = dropped > 0 || shown.length < lines.length ? " (older output dropped)" : ""
              say(
                [
                  p.dim(`--- output of [${task.id}] ${task.name}${note} ---`),
                  ...shown.map((l) => `${label(task.id)} ${l}`)
                ]
                  .join("\n")
              )
            }))
        case "Help":
          return say(Parse.help.join("\n"))
        case "Exit":
          return "exit" as const
        case "Invalid":
          return say(line.message)
      }
    })

  const onKey = (key: Editor.Key) =>
    Effect.gen(function*() {
      const ctrl = key.ctrl === true
      if (mode._tag === "Waiting") {
        if (ctrl && key.name === "c") {
          say(`stopped waiting for ${label(mode.id)}`)
          mode = { _tag: "Prompt" }
          if (waiter !== undefined) yield* Fiber.interrupt(waiter)
        }
        return
      }
      if (mode._tag === "Picker") {
        const { entries, digits } = mode
        if (ctrl && key.name === "c") {
          mode = { _tag: "Prompt" }
          return yield* revokeAll(false)
        }
        if (key.name === "escape") {
          mode = { _tag: "Prompt" }
          return
        }
        const digit = key.sequence !== undefined && /^[0-9]$/.test(key.sequence) ? key.sequence : undefined
        if (digit !== undefined && entries.length <= 9) return yield* pick(entries, Number(digit))
        if (digit !== undefined) mode = { ...mode, digits: digits + digit }
        else if (key.name === "backspace") mode = { ...mode, digits: digits.slice(0, -1) }
        else if ((key.name === "return" || key.name === "enter") && digits.length > 0) {
          return yield* pick(entries, Number(digits))
        }
        return
      }
      if (ctrl && key.name === "c") {
        if (running.size === 0) return "exit" as const
        return yield* openPicker
      }
      if (ctrl && key.name === "d") {
        if (editor.text.length === 0) return "exit" as const
        editor = Editor.apply(editor, { name: "delete" })
        return
      }
      if (key.name === "return" || key.name === "enter") {
        const [line, next] = Editor.submit(editor)
        editor = next
        say(`${p.dim(Screen.prompt)}${line}`)
        return yield* runLine(line)
      }
      editor = Editor.apply(editor, key)
    })

  const onEvent = (event: TaskEvent.TaskEvent) =>
    Effect.gen(function*() {
      if (event._tag === "TaskSubmitted") running.set(event.id, event.name)
      if (event._tag !== "TaskFinished") return
      running.delete(event.id)
      finished++
      say(ended(yield* Effect.orDie(tm.get(event.id))))
      if (mode._tag === "Picker") {
        const entries = mode.entries.filter((entry) => entry.id !== event.id)
        mode = entries.length === 0 || entries.length <= 9 && mode.digits.length > 0
          ? { _tag: "Prompt" }
          : { ...mode, entries }
      }
    })

  const handle = (message: Message) => {
    switch (message._tag) {
      case "Key":
        return onKey(message.key)
      case "Line":
        return runLine(message.text)
      case "End":
        return Effect.succeed("exit" as const)
      case "Event":
        return onEvent(message.event)
      case "WaitDone":
        return Effect.sync(() => {
          if (mode._tag === "Waiting" && mode.id === message.task.id) mode = { _tag: "Prompt" }
        })
    }
  }

  const farewell = (why: string) =>
    Effect.gen(function*() {
      mode = { _tag: "Prompt" }
      const active = yield* tm.active
      if (active.length === 0) {
        region.clear()
        out.write(`${why}: nothing was running. bye\n`)
        return
      }
      say(
        `${why}: stopping ${active.length} task(s) gracefully (SIGTERM, then SIGKILL after ${graceText}): ${
          active.map((task) => `[${task.id}] ${task.name}`).join(", ")
        }`
      )
      yield* tm.shutdown
      for (const task of active) say(ended(yield* Effect.orDie(tm.get(task.id))))
      region.clear()
      out.write(`stopped ${active.length} task(s). bye\n`)
    })

  say(
    p.dim(
      "tasks shell: every line runs as a background task (sh -c); built-ins: jobs, kill [-9] N, killall, wait N, log N, help"
    )
  )
  if (!interactive) say(p.dim("(stdin is not a terminal: reading commands line by line)"))
  let why = "exit"
  const loop = Effect.gen(function*() {
    while (true) {
      draw()
      const message = yield* Queue.take(messages)
      if (message._tag === "Key" && message.key.ctrl === true) why = message.key.name === "d" ? "Ctrl-D" : "Ctrl-C"
      else if (message._tag === "End") why = "end of input"
      else why = "exit"
      if ((yield* handle(message)) === "exit") return
    }
  })
  // Report tasks that finished while the last input was handled, before saying goodbye.
  const drainEvents = Effect.flatMap(
    Queue.clear(messages),
    (pending) =>
      Effect.forEach(pending, (message) => message._tag === "Event" ? onEvent(message.event) : Effect.void, {
        discard: true
      })
  )
  yield* loop.pipe(Effect.onInterrupt(() => Effect.andThen(drainEvents, farewell("stopped by a signal"))))
  yield* drainEvents
  yield* farewell(why)
})

/** The `shell` command. */
export const command = Command.make(
  "shell",
  { grace: Flags.grace },
  (config) =>
    session(config).pipe(
      Effect.scoped,
      Effect.provide(NodeTaskManager.layerWith({ grace: config.grace, guardian: true }))
    )
).pipe(
  Command.withDescription(
    "An interactive shell: every line runs as a background task; jobs, kill N, kill -9 N, killall, wait N, log N"
  )
)
