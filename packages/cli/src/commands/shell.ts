/**
 * `tasks shell`: an interactive shell whose every command line runs as a background task. Output
 * arrives above the prompt, prefixed with the task id; a status line lists what runs. It behaves like
 * the shells its users know: Ctrl-C clears the line (on an empty line with tasks running it opens the
 * revoke list), `cd` and `export` change what later commands get, `fg N` follows one task, history
 * persists across sessions with Up/Down and Ctrl-R, Tab completes. Leaving (`exit`, Ctrl-D) stops every
 * task gracefully and shows it happen; a second Ctrl-C kills what is left.
 *
 * @since 0.1.0
 */
import { CurrentTask, OutputChunk, TaskEvent, TaskId, TaskManager, TaskState, TrackedTask } from "@effect-tasks/core"
import { Journal, NodeTaskManager } from "@effect-tasks/node"
import { Command } from "effect/cli"
import * as Deferred from "effect/Deferred"
import * as EffectDuration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Flags from "../flags.js"
import * as Lines from "../lines.js"
import * as Color from "../render/color.js"
import * as Live from "../render/live.js"
import * as Tasks from "../render/tasks.js"
import * as Serve from "../serve.js"
import * as Complete from "../shell/complete.js"
import * as Decoder from "../shell/decoder.js"
import * as Editor from "../shell/editor.js"
import * as Environment from "../shell/environment.js"
import * as Flood from "../shell/flood.js"
import * as History from "../shell/history.js"
import * as Keyboard from "../shell/keyboard.js"
import * as Parse from "../shell/parse.js"
import * as Screen from "../shell/screen.js"
import * as Search from "../shell/search.js"
import * as Stdin from "../shell/stdin.js"
import * as ShellTask from "../shellTask.js"
import * as Signals from "../signals.js"
import * as Terminal from "../terminal.js"

/** What the shell's loop reacts to. */
type Message =
  | Keyboard.Input
  | { readonly _tag: "Event"; readonly event: TaskEvent.TaskEvent }
  | { readonly _tag: "WaitDone" }
  | { readonly _tag: "OutputDone"; readonly id: number }
  | { readonly _tag: "Tick" }
  | { readonly _tag: "Resize" }
  | { readonly _tag: "ShutdownDone" }

/** What the shell keeps of one task's output while it is followed: its unfinished lines, and its flood. */
interface Printed {
  readonly sources: Map<
    string,
    { readonly stream: "stdout" | "stderr"; readonly buffer: Lines.LineBuffer; since: number }
  >
  readonly flood: Flood.Flood
  /** Completes once the task's output has ended and its end has been reported. */
  readonly done: Deferred.Deferred<void>
}

/** What handling one message gives: `"exit"` to leave. */
type Handled = Effect.Effect<"exit" | void, never, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner>

/** Enter (`\r`) or Ctrl-J (`\n`). */
const isEnter = (key: Editor.Key) => key.name === "return" || key.name === "enter"

/** The Alt keys the line editor knows (any other Alt key is Esc, then the key). */
const editorMeta = new Set(["b", "f", "d", "backspace", "left", "right"])

/** Lines kept from a task's output tail by `log N`. */
const logLines = 200

/** How long an unfinished line (a prompt) waits before the shell shows it. */
const partialMillis = 150

/** How often the status line's times and the shutdown countdown are redrawn. */
const tickMillis = 200

/** Options of a session. */
export interface SessionConfig {
  readonly grace: EffectDuration.Duration
  /** Where the history is kept (default: `shell-history` in the state directory). */
  readonly historyFile?: string | undefined
}

/** Runs one interactive session against the `TaskManager.TaskManager` in context; returns when the user leaves. */
export const session = Effect.fn("Shell.session")(function*(config: SessionConfig) {
  const tm = yield* TaskManager.TaskManager
  const out = Terminal.stdout
  const p = Color.palette(Color.shouldColor(process.env, out.isTTY))
  const region = Live.make(out)
  const interactive = Keyboard.isTerminal()
  const messages = yield* Queue.unbounded<Message>()
  const graceText = Tasks.formatGrace(config.grace)
  const graceMillis = EffectDuration.toMillis(config.grace)
  const historyFile = config.historyFile ?? History.fileIn(Journal.defaultStateDirectory())

  const running = new Map<TaskId.TaskId, Screen.Running>()
  const reported = new Set<number>()
  let finished = 0
  let mode: Screen.Mode = { _tag: "Prompt" }
  let environment = Environment.current()
  let waiter: Fiber.Fiber<unknown, unknown> | undefined
  // Lines of other tasks not shown while following one, per task.
  const hidden = new Map<number, number>()
  // Every task's output is followed from its first byte, losslessly; what it printed is shown from here.
  const printed = new Map<number, Printed>()
  // Whether the shell has said that tasks get end-of-file on stdin: later tasks get it at once.
  let stdinNoticed = false
  let historyProblem: string | undefined

  const say = (text: string) => region.print(text)
  const label = (id: number) => p.bold(`[${id}]`)

  const loaded = History.load(historyFile, Editor.historySize)
  let editor = Editor.withHistory(loaded._tag === "Loaded" ? loaded.entries : [])

  const draw = () => {
    if (!region.live) return
    const screen: Screen.Screen = { mode, editor, running: [...running.values()], finished, partials: partials() }
    const [lines, back] = Screen.render(screen, p, Date.now(), out.columns())
    region.update(lines, back)
  }

  const events = yield* tm.subscribe
  yield* Stream.runForEach(
    Stream.filter(events, (event) => event._tag !== "TaskOutput"),
    (event) => Queue.offer(messages, { _tag: "Event", event })
  ).pipe(Effect.forkScoped({ startImmediately: true }))
  yield* Keyboard.listen((input) => Queue.offerUnsafe(messages, input))
  if (interactive) {
    yield* Queue.offer(messages, { _tag: "Tick" }).pipe(
      Effect.delay(EffectDuration.millis(tickMillis)),
      Effect.forever,
      Effect.forkScoped
    )
    const onResize = () => Queue.offerUnsafe(messages, { _tag: "Resize" })
    yield* Effect.acquireRelease(
      Effect.sync(() => process.stdout.on("resize", onResize)),
      () => Effect.sync(() => process.stdout.off("resize", onResize))
    )
  }

  const lineText = (id: number, line: Flood.Line) => {
    const text = Color.sanitize(line.text)
    return `${label(id)} ${line.stream === "stderr" ? p.red(text) : text}`
  }

  const print = (id: number, items: ReadonlyArray<Flood.Print>) => {
    if (items.length === 0) return
    say(
      items.map((item) =>
        item._tag === "Line"
          ? lineText(id, item.line)
          : p.dim(
            `${label(id)} … ${item.count} line(s) not shown${
              item.ended ? "" : " so far"
            } (log ${id} shows the latest, fg ${id} everything from now on)`
          )
      ).join("\n")
    )
  }

  /** Shows the lines a task completed: all of them, or as much as a flood allows, or none while another is followed. */
  const show = (id: number, state: Printed, lines: ReadonlyArray<Flood.Line>, now: number) => {
    if (lines.length === 0) return
    if (!interactive) return print(id, Flood.all(lines))
    if (mode._tag === "Following") {
      if (mode.id === id) print(id, Flood.all(lines))
      else hidden.set(id, (hidden.get(id) ?? 0) + lines.length)
      return
    }
    print(id, Flood.take(state.flood, lines, limits(), now))
  }

  const limits = () => Flood.limitsFor(out.rows())

  const printChunks = (id: number, chunks: ReadonlyArray<OutputChunk.OutputChunk>) => {
    const state = printed.get(id)
    if (state === undefined) return
    const now = Date.now()
    const lines: Array<Flood.Line> = []
    for (const chunk of chunks) {
      if (chunk._tag !== "TaskOutput") continue
      const key = `${chunk.pid}/${chunk.stream}`
      let source = state.sources.get(key)
      if (source === undefined) {
        source = { stream: chunk.stream, buffer: Lines.make(), since: now }
        state.sources.set(key, source)
      }
      const waited = source.buffer.pending.length > 0
      const completed = Lines.push(source.buffer, chunk.text)
      for (const text of completed) lines.push({ stream: chunk.stream, text })
      if (!waited || completed.length > 0) source.since = now
    }
    show(id, state, lines, now)
  }

  /** The task's output has ended: its unfinished lines are lines now, and a flood under way is closed. */
  const endOutput = (id: number) => {
    const state = printed.get(id)
    if (state === undefined) return
    const lines: Array<Flood.Line> = []
    for (const source of state.sources.values()) {
      for (const text of Lines.flush(source.buffer)) lines.push({ stream: source.stream, text })
    }
    state.sources.clear()
    const now = Date.now()
    show(id, state, lines, now)
    if (interactive) print(id, Flood.settle(state.flood, limits(), now, true))
  }

  /** The unfinished lines that have waited a moment (a prompt), as the region shows them above the status line. */
  const partials = (): Array<string> => {
    const now = Date.now()
    const shown: Array<string> = []
    for (const [id, state] of printed) {
      if (mode._tag === "Following" && mode.id !== id) continue
      for (const source of state.sources.values()) {
        const text = Lines.pending(source.buffer)
        if (text !== undefined && now - source.since >= partialMillis) {
          shown.push(lineText(id, { stream: source.stream, text }))
        }
      }
    }
    return shown
  }

  const stdinRead = (id: number) => {
    if (stdinNoticed) return
    stdinNoticed = true
    say(p.yellow(
      `${label(id)} reads stdin: tasks take no input, so it gets end-of-file (as with < /dev/null; said once)`
    ))
  }

  /** Waits until a task's output has ended and its end has been reported. */
  const outputDone = (id: number) => {
    const state = printed.get(id)
    return state === undefined ? Effect.void : Deferred.await(state.done)
  }

  const start = (command: string) =>
    Effect.gen(function*() {
      const { cwd, env } = environment
      // Until the shell has said it once, a task gets a watched pipe as stdin, so that reading it is noticed.
      const watched = !stdinNoticed
      const body = Effect.flatMap(CurrentTask.CurrentTask, (id) =>
        Effect.andThen(
          Effect.sync(() => say(`${label(id)} started: ${command}`)),
          ShellTask.run(command, {
            cwd,
            env,
            ...(watched ? { stdin: "pipe", onStart: (handle) => Stdin.watch(handle, () => stdinRead(id)) } : {})
          })
        ))
      const scope = yield* Scope.make()
      const [task, output] = yield* tm.submitFollowed(body, { name: command, mode: "shell" }).pipe(
        Scope.provide(scope),
        Effect.onError(() => Scope.close(scope, Exit.void))
      )
      // Known at once, not only when its event arrives: a `fg` or `wait` typed right after must see it.
      if (!TaskState.isTerminal(task.state) && !reported.has(task.id) && !running.has(task.id)) {
        running.set(task.id, { id: task.id, name: task.name, startedAt: task.startedAt })
      }
      const state: Printed = {
        sources: new Map(),
        flood: Flood.make(limits(), Date.now()),
        done: Deferred.makeUnsafe()
      }
      printed.set(task.id, state)
      yield* output.pipe(
        Stream.runForEachArray((chunks) => Effect.sync(() => printChunks(task.id, chunks))),
        Effect.ensuring(Scope.close(scope, Exit.void)),
        Effect.andThen(Effect.sync(() => endOutput(task.id))),
        // Its end is said after its last line.
        Effect.andThen(Effect.option(tm.get(task.id))),
        Effect.tap((done) => Effect.sync(() => done._tag === "Some" && reportEnd(done.value))),
        Effect.andThen(Deferred.succeed(state.done, undefined)),
        Effect.andThen(Effect.sync(() => printed.delete(task.id))),
        Effect.andThen(Queue.offer(messages, { _tag: "OutputDone", id: task.id })),
        Effect.forkScoped({ startImmediately: true })
      )
      return task
    })

  const ended = (task: TrackedTask.TrackedTask) =>
    `${label(task.id)} ${Color.forState(p, task.state)(Tasks.finishedText(task))} ${
      p.dim(`(${Tasks.durationText(task)}) ${Color.oneLine(task.name)}`)
    }`

  const reportEnd = (task: TrackedTask.TrackedTask) => {
    if (reported.has(task.id)) return
    reported.add(task.id)
    const cleanup = Tasks.cleanupText(task)
    say(cleanup === undefined ? ended(task) : `${ended(task)}\n${label(task.id)} ${p.dim(cleanup)}`)
  }

  const revoke = (id: TaskId.TaskId, force: boolean) =>
    Effect.gen(function*() {
      say(
        force
          ? `${label(id)} killing (SIGKILL)`
          : `${label(id)} revoking (SIGTERM, then SIGKILL after ${graceText})`
      )
      yield* Effect.forkScoped(Effect.ignore(tm.revoke(id, { graceful: !force })), { startImmediately: true })
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

  const withTask = <R>(
    name: string,
    id: TaskId.TaskId,
    f: (task: TrackedTask.TrackedTask) => Effect.Effect<void, never, R>
  ) =>
    tm.get(id).pipe(
      Effect.matchEffect({ onFailure: () => Effect.sync(() => say(`${name}: no task ${id}`)), onSuccess: f })
    )

  const reportHidden = () => {
    if (hidden.size === 0) return
    const parts = [...hidden].map(([id, count]) => `${count} line(s) of [${id}]`)
    hidden.clear()
    say(p.dim(`not shown while following: ${parts.join(", ")} (log N shows a task's kept output)`))
  }

  const stopFollowing = Effect.sync(() => {
    mode = { _tag: "Prompt" }
    reportHidden()
  })

  /** `fg N`: from now on every line of the task is shown (it is followed losslessly from its start), the rest hidden. */
  const follow = (task: TrackedTask.TrackedTask) =>
    Effect.gen(function*() {
      const state = printed.get(task.id)
      if (TaskState.isTerminal(task.state) && state === undefined) {
        return say(`fg: ${label(task.id)} already finished (${task.state}); log ${task.id} shows its output`)
      }
      // Without a terminal every line is printed anyway, and there is no Ctrl-C: wait for it.
      if (!interactive) return yield* outputDone(task.id)
      say(p.dim(`--- following [${task.id}] ${Color.oneLine(task.name)} ---`))
      // A flood under way ends here: how much went unshown, and its last lines.
      if (state !== undefined) print(task.id, Flood.settle(state.flood, limits(), Date.now(), true))
      mode = { _tag: "Following", id: task.id, name: task.name }
      hidden.clear()
      if (state === undefined) yield* stopFollowing
    })

  const wait = (ids: ReadonlyArray<TaskId.TaskId>) =>
    Effect.gen(function*() {
      const targets = ids.length > 0 ? ids : [...running.keys()]
      if (targets.length === 0) return say("wait: nothing is running")
      // A task's end is reported once its output has been shown.
      const awaitAll = Effect.forEach(targets, (id) =>
        tm.await(id).pipe(
          Effect.tap((task) => Effect.andThen(outputDone(id), Effect.sync(() => reportEnd(task)))),
          Effect.catchTag("TaskNotFound", () => Effect.sync(() => say(`wait: no task ${id}`)))
        ), { discard: true })
      // Without a terminal there is no Ctrl-C to stop waiting: block, so later lines wait too.
      if (!interactive) return yield* awaitAll
      mode = { _tag: "Waiting", ids: targets }
      waiter = yield* awaitAll.pipe(
        Effect.andThen(Queue.offer(messages, { _tag: "WaitDone" })),
        Effect.forkScoped({ startImmediately: true })
      )
    })

  const showLog = (task: TrackedTask.TrackedTask) =>
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
          p.dim(`--- output of [${task.id}] ${Color.oneLine(task.name)}${note} ---`),
          ...shown.map((l) => `${label(task.id)} ${l}`)
        ]
          .join("\n")
      )
    })

  const runLine = (text: string) =>
    Effect.gen(function*() {
      const line = Parse.parse(text, { env: environment.env, home: Environment.home(environment) })
      switch (line._tag) {
        case "Empty":
          return
        case "Start":
          yield* Effect.catchTag(
            start(line.command),
            "TaskManagerClosed",
            () => Effect.sync(() => say("the task manager is shutting down"))
          )
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
          return yield* wait(line.ids)
        case "Follow": {
          const id = line.id ?? [...running.keys()].at(-1)
          if (id === undefined) return say("fg: nothing is running")
          return yield* withTask("fg", id, follow)
        }
        case "Log":
          return yield* withTask("log", line.id, showLog)
        case "Cd": {
          const changed = Environment.cd(environment, line.directory)
          if (changed._tag === "Refused") return say(changed.message)
          environment = changed.environment
          return say(p.dim(environment.cwd))
        }
        case "Export": {
          if (line.assignments.length > 0) {
            environment = Environment.exportAll(environment, line.assignments)
            return
          }
          const changes = Environment.describeChanges(environment)
          return say(
            changes.length > 0 ? changes.join("\n") : p.dim("no variable exported or unset in this shell yet")
          )
        }
        case "Unset":
          environment = Environment.unset(environment, line.names)
          return
        case "Clear":
          return region.clearScreen(true)
        case "Help":
          return say(Parse.help.join("\n"))
        case "Exit":
          return "exit" as const
        case "Invalid":
          return say(line.message)
      }
    })

  const submit = (next: Editor.Editor) =>
    Effect.gen(function*() {
      const [line, after] = Editor.submit(next)
      if (after.history !== next.history && after.history.at(-1) === line) {
        const problem = History.append(historyFile, line)
        if (problem !== undefined && historyProblem === undefined) {
          historyProblem = problem
          say(p.yellow(`history is not saved: ${problem}`))
        }
      }
      editor = after
      say(`${p.dim(Screen.prompt)}${line}`)
      return yield* runLine(line)
    })

  const complete = () => {
    const source = Complete.fileSystem({
      builtins: Parse.builtins,
      env: environment.env,
      cwd: environment.cwd,
      home: Environment.home(environment),
      taskIds: () => [...running.keys()]
    })
    const result = Complete.complete(editor, source)
    if (result._tag === "Insert") editor = result.editor
    else if (result._tag === "List") {
      say(`${p.dim(Screen.prompt)}${editor.text}\n${Screen.columns(result.candidates, out.columns()).join("\n")}`)
    }
  }

  /** A key at the prompt. */
  const onPromptKey = (key: Editor.Key): Handled =>
    Effect.gen(function*() {
      const ctrl = key.ctrl === true
      if (key.meta === true && !ctrl && !editorMeta.has(key.name ?? "")) {
        // Esc and a key read together: the Esc does nothing here, the key does what it does.
        for (const each of Decoder.unglue(key)) if (each.name !== "escape") yield* onPromptKey(each)
        return
      }
      if (ctrl && key.name === "c") {
        if (editor.text.length > 0) {
          say(`${p.dim(Screen.prompt)}${editor.text}${p.dim("^C")}`)
          editor = Editor.clear(editor)
          return
        }
        // Like bash on an empty line: nothing, unless there are tasks to offer for revoking.
        if (running.size > 0) mode = { _tag: "Picker", ids: [...running.keys()], digits: "" }
        return
      }
      if (ctrl && key.name === "d") {
        if (editor.text.length === 0) return "exit" as const
        editor = Editor.apply(editor, { name: "delete" })
        return
      }
      if (ctrl && key.name === "l") return region.clearScreen()
      if (ctrl && key.name === "r") {
        mode = { _tag: "Search", search: Search.start(editor) }
        return
      }
      if (key.name === "tab" && !ctrl && key.shift !== true) return complete()
      if (isEnter(key)) return yield* submit(editor)
      editor = Editor.apply(editor, key)
    })

  /** A key while the revoke list is open: a task id chooses, anything else goes back to the prompt. */
  const onPickerKey = (key: Editor.Key, picker: Extract<Screen.Mode, { _tag: "Picker" }>) =>
    Effect.gen(function*() {
      const { ids, digits } = picker
      const plain = key.ctrl !== true && key.meta !== true
      if (key.ctrl === true && key.name === "c") {
        mode = { _tag: "Prompt" }
        return yield* revokeAll(false)
      }
      const choose = (typed: string) =>
        Effect.gen(function*() {
          const matches = ids.filter((id) => String(id).startsWith(typed))
          if (matches.length === 1 && String(matches[0]) === typed) {
            mode = { _tag: "Prompt" }
            return yield* revoke(matches[0]!, false)
          }
          mode = { ...picker, digits: typed }
        })
      const sequence = key.sequence ?? ""
      if (plain && /^[0-9]$/.test(sequence) && ids.some((id) => String(id).startsWith(digits + sequence))) {
        return yield* choose(digits + sequence)
      }
      if (plain && sequence === "[" && digits.length === 0) return
      const chosen = digits.length > 0 ? ids.find((id) => String(id) === digits) : undefined
      if (plain && chosen !== undefined && (isEnter(key) || sequence === "]")) {
        mode = { _tag: "Prompt" }
        return yield* revoke(chosen, false)
      }
      if (plain && key.name === "backspace" && digits.length > 0) {
        mode = { ...picker, digits: digits.slice(0, -1) }
        return
      }
      // Not a choice: close the list; the key (Esc aside) goes to the prompt.
      mode = { _tag: "Prompt" }
      if (key.name === "escape" || isEnter(key)) return
      return yield* onPromptKey(key)
    })

  const onSearchKey = (key: Editor.Key, search: Search.Search) =>
    Effect.gen(function*() {
      const step = Search.apply(search, key)
      switch (step._tag) {
        case "Continue":
          mode = { _tag: "Search", search: step.search }
          return
        case "Cancel":
          mode = { _tag: "Prompt" }
          editor = step.editor
          return
        case "Run":
          mode = { _tag: "Prompt" }
          return yield* submit(step.editor)
        case "Accept":
          mode = { _tag: "Prompt" }
          editor = step.editor
          if (step.key !== undefined) return yield* onPromptKey(step.key)
      }
    })

  const onKey = (key: Editor.Key): Handled =>
    Effect.gen(function*() {
      const ctrlC = key.ctrl === true && key.name === "c"
      if (key.ctrl === true && key.name === "l" && mode._tag !== "Prompt") return region.clearScreen()
      switch (mode._tag) {
        case "Prompt":
          return yield* onPromptKey(key)
        case "Picker":
          return yield* onPickerKey(key, mode)
        case "Search":
          return yield* onSearchKey(key, mode.search)
        case "Waiting":
          if (ctrlC) {
            say(`stopped waiting (the task(s) keep running)`)
            mode = { _tag: "Prompt" }
            if (waiter !== undefined) yield* Fiber.interrupt(waiter)
          }
          return
        case "Following":
          if (ctrlC) {
            say(`stopped following ${label(mode.id)}; it keeps running (fg ${mode.id} follows it again)`)
            yield* stopFollowing
          }
          return
        case "Stopping":
          if (ctrlC && !mode.forced) {
            mode = { ...mode, forced: true }
            say(`Ctrl-C: killing ${running.size} task(s) at once (SIGKILL)`)
            yield* Effect.forkScoped(tm.revokeAll({ graceful: false }), { startImmediately: true })
          }
          return
      }
    })

  const onPaste = (text: string) =>
    Effect.sync(() => {
      // A paste is text, never a choice: it closes the revoke list and lands in the line.
      const pasted = Editor.pasted(text)
      if (mode._tag === "Picker") mode = { _tag: "Prompt" }
      if (mode._tag === "Prompt") editor = Editor.insert(editor, pasted)
      else if (mode._tag === "Search") {
        const search = pasted.split("\n")[0]!
        mode = { _tag: "Search", search: { ...mode.search, query: mode.search.query } }
        for (const char of search) {
          const step = Search.apply(mode.search, { name: char, sequence: char })
          if (step._tag === "Continue") mode = { _tag: "Search", search: step.search }
        }
      }
    })

  /** Rebuilds the running list from the manager after this subscriber lost events. */
  const resync = Effect.gen(function*() {
    const active = yield* tm.active
    const all = yield* tm.list
    // A task that ended is reported by its follower, once its output has been shown.
    for (const id of running.keys()) {
      if (!active.some((task) => task.id === id)) running.delete(id)
    }
    for (const task of active) {
      running.set(task.id, {
        id: task.id,
        name: task.name,
        startedAt: task.startedAt,
        revokingAt: running.get(task.id)?.revokingAt,
        graceful: task.revocation?.graceful
      })
    }
    finished = all.filter((task) => TaskState.isTerminal(task.state)).length
  })

  const onEvent = (event: TaskEvent.TaskEvent) =>
    Effect.gen(function*() {
      switch (event._tag) {
        case "TaskSubmitted":
          running.set(event.id, {
            id: event.id,
            name: event.name,
            startedAt: event.state === "RUNNING" ? event.at : undefined
          })
          return
        case "TaskStarted": {
          const task = running.get(event.id)
          if (task !== undefined) running.set(event.id, { ...task, startedAt: event.at })
          return
        }
        case "TaskRevoking": {
          const task = running.get(event.id)
          if (task !== undefined) {
            running.set(event.id, {
              ...task,
              revokingAt: task.revokingAt ?? event.at,
              graceful: event.revocation.graceful
            })
          }
          return
        }
        case "EventsDropped":
          return yield* resync
        case "TaskFinished": {
          // Its end is reported by its follower, after its last line.
          running.delete(event.id)
          finished++
          if (mode._tag === "Picker") {
            const ids = mode.ids.filter((id) => id !== event.id)
            mode = ids.length === 0 ? { _tag: "Prompt" } : { ...mode, ids }
          }
          return
        }
      }
    })

  const handle = (message: Message): Handled => {
    switch (message._tag) {
      case "Key":
        return onKey(message.key)
      case "Paste":
        return onPaste(message.text)
      case "Line":
        return runLine(message.text)
      case "End":
        return Effect.succeed("exit" as const)
      case "Event":
        return onEvent(message.event)
      case "WaitDone":
        return Effect.sync(() => {
          if (mode._tag === "Waiting") mode = { _tag: "Prompt" }
        })
      case "OutputDone":
        return mode._tag === "Following" && mode.id === message.id ? stopFollowing : Effect.void
      case "Tick":
        return Effect.sync(() => {
          const now = Date.now()
          if (mode._tag !== "Following") {
            for (const [id, state] of printed) print(id, Flood.settle(state.flood, limits(), now))
          }
        })
      case "Resize":
      case "ShutdownDone":
        return Effect.void
    }
  }

  /** Leaves: stops every task gracefully, showing which are still stopping and their grace countdown. */
  const leave = (why: string) =>
    Effect.gen(function*() {
      if (waiter !== undefined) yield* Fiber.interrupt(waiter)
      const active = yield* tm.active
      if (active.length === 0) {
        mode = { _tag: "Prompt" }
        region.clear()
        out.write(`${why}: nothing was running. bye\n`)
        return
      }
      say(
        `${why}: stopping ${active.length} task(s) gracefully (SIGTERM, then SIGKILL after ${graceText}): ${
          active.map((task) => `[${task.id}] ${Color.oneLine(task.name)}`).join(", ")
        }`
      )
      mode = { _tag: "Stopping", graceMillis, forced: false }
      yield* tm.shutdown.pipe(
        Effect.andThen(Queue.offer(messages, { _tag: "ShutdownDone" })),
        Effect.forkScoped({ startImmediately: true })
      )
      while (true) {
        draw()
        const message = yield* Queue.take(messages)
        if (message._tag === "ShutdownDone") break
        if (message._tag === "Key" || message._tag === "Event" || message._tag === "Tick") yield* handle(message)
      }
      yield* drainEvents
      // Each task's end is reported after its output, by its follower.
      yield* Effect.forEach(active, (task) => outputDone(task.id), { discard: true })
      for (const task of active) reportEnd(yield* Effect.orDie(tm.get(task.id)))
      mode = { _tag: "Prompt" }
      region.clear()
      out.write(`stopped ${active.length} task(s). bye\n`)
    })

  // Report tasks that finished while the last input was handled, before saying goodbye.
  const drainEvents = Effect.flatMap(
    Queue.clear(messages),
    (pending) =>
      Effect.forEach(pending, (message) => message._tag === "Event" ? onEvent(message.event) : Effect.void, {
        discard: true
      })
  )

  say(p.dim("tasks shell: each line runs as a background task (sh -c); help lists the built-ins and keys"))
  if (loaded._tag === "Failed") say(p.yellow(`history not loaded: ${loaded.message}`))
  if (!interactive) say(p.dim("(stdin is not a terminal: reading commands line by line)"))
  let why = "exit"
  const loop = Effect.gen(function*() {
    while (true) {
      draw()
      const message = yield* Queue.take(messages)
      if (message._tag === "Key") why = message.key.ctrl === true && message.key.name === "d" ? "Ctrl-D" : "exit"
      else if (message._tag === "End") why = "end of input"
      else if (message._tag === "Line") why = "exit"
      if ((yield* handle(message)) === "exit") return
    }
  })
  // A second stop signal while leaving kills what is left at once, as in `tasks run`.
  yield* Signals.killOnSecond(
    say,
    tm.revokeAll({ graceful: false }),
    Effect.gen(function*() {
      yield* loop.pipe(Effect.onInterrupt(() => Effect.andThen(drainEvents, leave("stopped by a signal"))))
      yield* drainEvents
      yield* leave(why)
    })
  )
})

/** The `shell` command. */
export const command = Command.make(
  "shell",
  { grace: Flags.grace, serve: Serve.flag },
  (config) =>
    session(config).pipe(
      Effect.scoped,
      Effect.provide(Serve.provide(config.serve, NodeTaskManager.layerWith({ grace: config.grace, guardian: true })))
    )
).pipe(
  Command.withDescription(
    "An interactive shell: every line runs as a background task; jobs, kill N, wait, fg N, log N, cd, export"
  )
)
