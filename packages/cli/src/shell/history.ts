/**
 * The shell's history on disk: one line a command in `shell-history` in the state directory (the one
 * `tasks reap` reads, `$XDG_STATE_HOME/effect-tasks` by default), so Up and Ctrl-R find the commands of
 * earlier sessions. Each command is appended as it is run (several shells at once interleave, as bash's
 * `histappend` does); a command of several lines (a paste) is kept on one, with `\n` and `\\` escaped.
 *
 * @since 0.1.0
 */
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"

/** The history file in `stateDirectory`. */
export const fileIn = (stateDirectory: string): string => join(stateDirectory, "shell-history")

/** One entry as a line of the file. */
export const encode = (entry: string): string => entry.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** A line of the file as an entry. */
export const decode = (line: string): string => line.replace(/\\(\\|n)/g, (_, c: string) => c === "n" ? "\n" : "\\")

/** What `load` found: the entries (oldest first), or why there are none. */
export type Loaded =
  | { readonly _tag: "Loaded"; readonly entries: ReadonlyArray<string> }
  | { readonly _tag: "Failed"; readonly message: string }

/**
 * Reads the last `keep` entries of `file` (a missing file is an empty history). A file grown past twice
 * that is rewritten with only those, so it never grows without bound.
 */
export const load = (file: string, keep: number): Loaded => {
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { _tag: "Loaded", entries: [] }
    return { _tag: "Failed", message: `cannot read ${file}: ${(error as Error).message}` }
  }
  const lines = text.split("\n").filter((line) => line.length > 0)
  const kept = lines.slice(-keep)
  if (lines.length > 2 * keep) {
    try {
      const temporary = `${file}.${process.pid}.tmp`
      writeFileSync(temporary, kept.map((line) => `${line}\n`).join(""))
      renameSync(temporary, file)
    } catch {
      // Trimming is housekeeping: a read-only file still gives its history.
    }
  }
  return { _tag: "Loaded", entries: kept.map(decode) }
}

/** Appends one entry to `file` (creating its directory); the error's message if that failed. */
export const append = (file: string, entry: string): string | undefined => {
  try {
    mkdirSync(dirname(file), { recursive: true })
    appendFileSync(file, `${encode(entry)}\n`)
    return undefined
  } catch (error) {
    return `cannot write ${file}: ${(error as Error).message}`
  }
}
