/**
 * Tab completion, as bash does it: the first word of a command completes to built-ins and commands on
 * `PATH`, `cd`'s argument to directories, the argument of `kill`, `fg`, `wait` and `log` to task ids, any
 * other word to file names (relative to the shell's directory, `~/` for home). One match is inserted whole
 * (a directory with `/`, anything else with a space); several insert what they have in common, and when
 * that adds nothing they are listed. Names are escaped (or quoted, inside a quote) as `sh` needs them.
 *
 * @since 0.1.0
 */
import { accessSync, constants, readdirSync, statSync } from "node:fs"
import { isAbsolute, join } from "node:path"
import type * as Editor from "./editor.js"

/** A directory entry. */
export interface Entry {
  readonly name: string
  readonly directory: boolean
}

/** Where candidates come from. */
export interface Source {
  readonly builtins: ReadonlyArray<string>
  /** Executable names on PATH that start with `prefix`. */
  readonly commands: (prefix: string) => ReadonlyArray<string>
  /** The entries of a directory (empty when it cannot be read). */
  readonly entries: (directory: string) => ReadonlyArray<Entry>
  /** The ids of the tasks still running. */
  readonly taskIds: () => ReadonlyArray<number>
  readonly cwd: string
  readonly home: string
}

/** What Tab does. */
export type Completion =
  | { readonly _tag: "None" }
  | { readonly _tag: "Insert"; readonly editor: Editor.Editor }
  | { readonly _tag: "List"; readonly candidates: ReadonlyArray<string> }

/** The word the cursor ends, as typed and as meant (quotes and escapes removed). */
interface Word {
  readonly start: number
  readonly value: string
  readonly quote: "'" | "\"" | undefined
  /** Whether it is the first word of a command (after `;`, `|`, `&&`, `(` or at the start). */
  readonly command: boolean
  /** The first word of the line, when this word is an argument. */
  readonly head: string | undefined
}

const wordAt = (text: string, cursor: number): Word => {
  let start = 0
  let value = ""
  let inWord = false
  let quote: "'" | "\"" | undefined
  // The words before this one in the same command (a `;`, `|`, `&` or `(` starts a new command).
  let before: Array<string> = []
  for (let i = 0; i < cursor; i++) {
    const char = text[i]!
    if (quote !== undefined) {
      if (char === quote) quote = undefined
      else if (char === "\\" && quote === "\"" && i + 1 < cursor && "\"\\$`".includes(text[i + 1]!)) value += text[++i]
      else value += char
      continue
    }
    if (char === "\\" && i + 1 < cursor) {
      value += text[++i]
      inWord = true
      continue
    }
    if (char === "'" || char === "\"") {
      quote = char
      inWord = true
      continue
    }
    const separator = ";|&(\n".includes(char)
    if (separator || /\s/.test(char)) {
      if (inWord) before.push(value)
      if (separator) before = []
      start = i + 1
      value = ""
      inWord = false
      continue
    }
    value += char
    inWord = true
  }
  return {
    start,
    value,
    quote,
    command: before.length === 0,
    head: before[0]
  }
}

const unquotedSpecial = /[\s"'\\$&;|<>()*?!#`{}[\]]/g

/** A name as it must be typed in the word's quoting. */
const escape = (name: string, quote: Word["quote"]): string =>
  quote === "'"
    ? name
    : quote === "\""
    ? name.replace(/["\\$`]/g, "\\$&")
    : name.replace(unquotedSpecial, "\\$&")

const commonPrefix = (names: ReadonlyArray<string>): string => {
  let prefix = names[0] ?? ""
  for (const name of names) while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1)
  return prefix
}

const idTakers = new Set(["kill", "fg", "follow", "wait", "log"])

/** Completes the word before the cursor. */
export const complete = (editor: Editor.Editor, source: Source): Completion => {
  const word = wordAt(editor.text, editor.cursor)
  const slash = word.value.lastIndexOf("/")
  const directoryPart = word.value.slice(0, slash + 1)
  const base = word.value.slice(slash + 1)

  let candidates: Array<Entry>
  if (word.command && slash < 0) {
    const names = new Set([...source.builtins.filter((name) => name.startsWith(base)), ...source.commands(base)])
    candidates = [...names].map((name) => ({ name, directory: false }))
  } else if (word.head !== undefined && idTakers.has(word.head) && /^%?\d*$/.test(word.value)) {
    const digits = word.value.replace("%", "")
    candidates = source.taskIds().map(String).filter((id) => id.startsWith(digits)).map((name) => ({
      name: word.value.startsWith("%") ? `%${name}` : name,
      directory: false
    }))
    return finish(editor, word, "", candidates, word.value)
  } else {
    const expanded = directoryPart.startsWith("~/") || directoryPart === "~"
      ? join(source.home, directoryPart.slice(1))
      : directoryPart
    const directory = expanded === "" ? source.cwd : isAbsolute(expanded) ? expanded : join(source.cwd, expanded)
    candidates = source.entries(directory).filter((entry) =>
      entry.name.startsWith(base) && (base.startsWith(".") || !entry.name.startsWith(".")) &&
      entry.name !== "." && entry.name !== ".." && (word.head !== "cd" || entry.directory)
    )
  }
  return finish(editor, word, directoryPart, candidates, base)
}

const finish = (
  editor: Editor.Editor,
  word: Word,
  directoryPart: string,
  candidates: ReadonlyArray<Entry>,
  base: string
): Completion => {
  if (candidates.length === 0) return { _tag: "None" }
  const sorted = candidates.toSorted((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  const only = sorted.length === 1 ? sorted[0] : undefined
  const completed = only !== undefined ? only.name : commonPrefix(sorted.map((entry) => entry.name))
  if (only === undefined && completed.length <= base.length) {
    return { _tag: "List", candidates: sorted.map((entry) => entry.directory ? `${entry.name}/` : entry.name) }
  }
  const ending = only === undefined ? "" : only.directory ? "/" : `${word.quote ?? ""} `
  const replacement = `${word.quote ?? ""}${escape(directoryPart + completed, word.quote)}${ending}`
  const text = editor.text.slice(0, word.start) + replacement + editor.text.slice(editor.cursor)
  return {
    _tag: "Insert",
    editor: { ...editor, text, cursor: word.start + replacement.length }
  }
}

/** The entries of a directory, a link to a directory counting as one; none when it cannot be read. */
const entries = (directory: string): ReadonlyArray<Entry> => {
  try {
    return readdirSync(directory, { withFileTypes: true }).map((entry) => {
      let isDirectory = entry.isDirectory()
      if (entry.isSymbolicLink()) {
        try {
          isDirectory = statSync(join(directory, entry.name)).isDirectory()
        } catch {
          // a dangling link is a file name like any other
        }
      }
      return { name: entry.name, directory: isDirectory }
    })
  } catch {
    return []
  }
}

/** Candidates from the file system and `PATH` (read at each Tab, so they are always current). */
export const fileSystem = (options: {
  readonly builtins: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly home: string
  readonly taskIds: () => ReadonlyArray<number>
}): Source => {
  const commands = (prefix: string): ReadonlyArray<string> => {
    if (prefix.length === 0) return []
    const found = new Set<string>()
    for (const directory of (options.env.PATH ?? "").split(":")) {
      if (directory === "") continue
      for (const entry of entries(directory)) {
        if (entry.directory || !entry.name.startsWith(prefix) || found.has(entry.name)) continue
        try {
          accessSync(join(directory, entry.name), constants.X_OK)
          found.add(entry.name)
        } catch {
          // not executable
        }
      }
    }
    return [...found]
  }
  return {
    builtins: options.builtins,
    commands,
    entries,
    taskIds: options.taskIds,
    cwd: options.cwd,
    home: options.home
  }
}
