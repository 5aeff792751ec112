/**
 * What a line typed into `tasks shell` means: a built-in (`jobs`, `kill 3`, `kill -9 3`,
 * `killall`, `wait 3`, `log 3`, `help`, `exit`) or a shell command to start as a task.
 *
 * @since 0.1.0
 */

/** A parsed line. */
export type Line =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Start"; readonly command: string }
  | { readonly _tag: "Jobs" }
  | { readonly _tag: "Kill"; readonly id: number; readonly force: boolean }
  | { readonly _tag: "KillAll"; readonly force: boolean }
  | { readonly _tag: "Wait"; readonly id: number }
  | { readonly _tag: "Log"; readonly id: number }
  | { readonly _tag: "Help" }
  | { readonly _tag: "Exit" }
  | { readonly _tag: "Invalid"; readonly message: string }

const taskId = (word: string | undefined): number | undefined => {
  const text = word?.replace(/^%/, "")
  return text !== undefined && /^[1-9]\d*$/.test(text) ? Number(text) : undefined
}

const withId = (
  name: string,
  args: ReadonlyArray<string>,
  make: (id: number) => Line
): Line => {
  const id = args.length === 1 ? taskId(args[0]) : undefined
  return id === undefined ? { _tag: "Invalid", message: `usage: ${name} N (N is a task id, as in [3])` } : make(id)
}

/** Parses one line. Built-in names win only as the first word; anything else is a command. */
export const parse = (input: string): Line => {
  const line = input.trim()
  if (line.length === 0) return { _tag: "Empty" }
  const [name, ...args] = line.split(/\s+/)
  switch (name) {
    case "jobs":
      return args.length === 0 ? { _tag: "Jobs" } : { _tag: "Invalid", message: "usage: jobs" }
    case "kill": {
      const force = args[0] === "-9" || args[0] === "-KILL" || args[0] === "-SIGKILL"
      const rest = force ? args.slice(1) : args
      return withId("kill [-9]", rest, (id) => ({ _tag: "Kill", id, force }))
    }
    case "killall":
      if (args.length === 0) return { _tag: "KillAll", force: false }
      if (args.length === 1 && args[0] === "-9") return { _tag: "KillAll", force: true }
      return { _tag: "Invalid", message: "usage: killall [-9]" }
    case "wait":
      return withId("wait", args, (id) => ({ _tag: "Wait", id }))
    case "log":
      return withId("log", args, (id) => ({ _tag: "Log", id }))
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
  "Type a shell command to start it as a background task (run with sh -c; it never reads the terminal).",
  "Its output appears above the prompt, prefixed with its id: [3] ...",
  "",
  "  jobs           table of all tasks",
  "  kill N         revoke task N gracefully: SIGTERM, then SIGKILL after the grace period",
  "  kill -9 N      revoke task N at once (SIGKILL)",
  "  killall [-9]   revoke every running task",
  "  wait N         wait for task N to finish (Ctrl-C stops waiting)",
  "  log N          show the kept tail of task N's output",
  "  help           this text",
  "  exit           stop every task gracefully and leave (also Ctrl-D)",
  "",
  "Ctrl-C with tasks running lists them: press a number to revoke one, Ctrl-C again to revoke all, Esc to close.",
  "Ctrl-C with nothing running leaves."
]
