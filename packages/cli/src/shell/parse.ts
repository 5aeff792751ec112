/**
 * What a line typed into `tasks shell` means: a built-in (`jobs`, `kill 3`, `kill -9 3`, `killall`,
 * `wait [N...]`, `fg N`, `log N`, `cd`, `export`, `unset`, `clear`, `help`, `exit`) or a shell command to
 * start as a task.
 *
 * @since 0.1.0
 */
import { TaskId } from "@effect-tasks/core"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Words from "./words.js"

/** A parsed line. */
export type Line =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Start"; readonly command: string }
  | { readonly _tag: "Jobs" }
  | { readonly _tag: "Kill"; readonly id: TaskId.TaskId; readonly force: boolean }
  | { readonly _tag: "KillAll"; readonly force: boolean }
  /** `ids` empty: every task still running. */
  | { readonly _tag: "Wait"; readonly ids: ReadonlyArray<TaskId.TaskId> }
  /** `id` undefined: the newest task still running. */
  | { readonly _tag: "Follow"; readonly id: TaskId.TaskId | undefined }
  | { readonly _tag: "Log"; readonly id: TaskId.TaskId }
  /** `directory` undefined: home; `"-"`: the previous directory. */
  | { readonly _tag: "Cd"; readonly directory: string | undefined }
  /** No assignments: list what this shell exported and unset. */
  | { readonly _tag: "Export"; readonly assignments: ReadonlyArray<readonly [string, string]> }
  | { readonly _tag: "Unset"; readonly names: ReadonlyArray<string> }
  | { readonly _tag: "Clear" }
  | { readonly _tag: "Help" }
  | { readonly _tag: "Exit" }
  | { readonly _tag: "Invalid"; readonly message: string }

/** The built-in names, for `help` and Tab completion. */
export const builtins: ReadonlyArray<string> = [
  "cd",
  "clear",
  "exit",
  "export",
  "fg",
  "follow",
  "help",
  "jobs",
  "kill",
  "killall",
  "log",
  "unset",
  "wait"
]

const decodeTaskId = Schema.decodeUnknownOption(TaskId.FromString)

const taskId = (word: string | undefined): TaskId.TaskId | undefined =>
  word === undefined ? undefined : Option.getOrUndefined(decodeTaskId(word.replace(/^%/, "")))

const invalid = (message: string): Line => ({ _tag: "Invalid", message })

const withId = (name: string, args: ReadonlyArray<string>, make: (id: TaskId.TaskId) => Line): Line => {
  const id = args.length === 1 ? taskId(args[0]) : undefined
  return id === undefined ? invalid(`usage: ${name} N (N is a task id, as in [3])`) : make(id)
}

/** `cd`, `export` and `unset`: words split as `sh` would, expanded from the shell's environment. */
const environmentBuiltin = (name: string, rest: string, scope: Words.Scope): Line => {
  const split = Words.split(rest, scope)
  if (split._tag === "Invalid") return invalid(`${name}: ${split.message}`)
  const args = split.words
  switch (name) {
    case "cd":
      return args.length > 1 ? invalid("usage: cd [directory | -]") : { _tag: "Cd", directory: args[0] }
    case "export": {
      const assignments: Array<readonly [string, string]> = []
      for (const arg of args) {
        const equals = arg.indexOf("=")
        const variable = equals < 0 ? arg : arg.slice(0, equals)
        if (!Words.isName(variable)) return invalid(`export: '${arg}': not a valid name`)
        // `export NAME` alone marks a variable for export; every variable here already is one.
        if (equals >= 0) assignments.push([variable, arg.slice(equals + 1)])
        else if (scope.env[variable] === undefined) {
          return invalid(`export: ${variable} is not set (export ${variable}=value)`)
        }
      }
      return { _tag: "Export", assignments }
    }
    default: {
      if (args.length === 0) return invalid("usage: unset NAME...")
      const bad = args.find((arg) => !Words.isName(arg))
      return bad === undefined ? { _tag: "Unset", names: args } : invalid(`unset: '${bad}': not a valid name`)
    }
  }
}

const noScope: Words.Scope = { env: {}, home: "~" }

/**
 * Parses one line. Built-in names win only as the first word; anything else is a command. A `cd`,
 * `export` or `unset` combined with more shell syntax (`cd src && make`) is a command too: `sh` runs it, and
 * it changes only that task's directory or environment.
 */
export const parse = (input: string, scope: Words.Scope = noScope): Line => {
  const line = input.trim()
  if (line.length === 0) return { _tag: "Empty" }
  const [name = "", ...args] = line.split(/\s+/)
  const rest = line.slice(name.length)
  switch (name) {
    case "jobs":
      return args.length === 0 ? { _tag: "Jobs" } : invalid("usage: jobs")
    case "kill": {
      const force = args[0] === "-9" || args[0] === "-KILL" || args[0] === "-SIGKILL"
      const ids = force ? args.slice(1) : args
      return withId("kill [-9]", ids, (id) => ({ _tag: "Kill", id, force }))
    }
    case "killall":
      if (args.length === 0) return { _tag: "KillAll", force: false }
      if (args.length === 1 && args[0] === "-9") return { _tag: "KillAll", force: true }
      return invalid("usage: killall [-9]")
    case "wait": {
      const ids = args.map(taskId)
      return ids.every((id) => id !== undefined)
        ? { _tag: "Wait", ids }
        : invalid("usage: wait [N...] (task ids, as in [3]; none: every running task)")
    }
    case "fg":
    case "follow":
      if (args.length === 0) return { _tag: "Follow", id: undefined }
      return withId(`${name} [N]`, args, (id) => ({ _tag: "Follow", id }))
    case "log":
      return withId("log", args, (id) => ({ _tag: "Log", id }))
    case "cd":
    case "export":
    case "unset":
      return Words.isCompound(rest) ? { _tag: "Start", command: line } : environmentBuiltin(name, rest, scope)
    case "clear":
      return args.length === 0 ? { _tag: "Clear" } : invalid("usage: clear")
    case "help":
    case "?":
      return { _tag: "Help" }
    case "exit":
    case "quit":
      return { _tag: "Exit" }
    default:
      return { _tag: "Start", command: line }
  }
}

/** The text `help` prints. */
export const help: ReadonlyArray<string> = [
  "Type a shell command to start it as a background task (run with sh -c; its stdin is empty).",
  "Its output appears above the prompt, prefixed with its id: [3] ...",
  "",
  "  jobs             table of all tasks",
  "  kill N           revoke task N gracefully: SIGTERM, then SIGKILL after the grace period",
  "  kill -9 N        revoke task N at once (SIGKILL)",
  "  killall [-9]     revoke every running task",
  "  wait [N...]      wait for tasks N... (none: every running task); Ctrl-C stops waiting",
  "  fg [N]           follow task N's output alone (none: the newest); Ctrl-C goes back, the task runs on",
  "  follow [N]       the same as fg",
  "  log N            show the kept tail of task N's output",
  "  cd [dir | -]     change the directory later commands start in",
  "  export NAME=v    set a variable for later commands (export alone lists what this shell changed)",
  "  unset NAME...    remove variables for later commands",
  "  clear            clear the screen (also Ctrl-L)",
  "  help             this text",
  "  exit             stop every task gracefully and leave (also Ctrl-D)",
  "",
  "Keys: Ctrl-C clears the line; on an empty line with tasks running it lists them to revoke one",
  "(type its id; Ctrl-C again revokes all; any other key goes back). Up/Down and Ctrl-R search the",
  "history, Tab completes commands and file names, Ctrl-A/E/W/U/K and Alt-B/F edit the line."
]
