/**
 * ANSI colours, on or off as a whole. Output is coloured only when stdout is a terminal and
 * `NO_COLOR` is not set (`FORCE_COLOR` turns it on for pipes), the rule `effect/cli` itself uses.
 *
 * @since 0.1.0
 */
import { TaskState } from "@effect-tasks/core"
import * as Width from "./width.js"

/** A style: wraps text in one SGR code, or returns it unchanged when colours are off. */
export type Style = (text: string) => string

/** The styles the CLI uses. */
export interface Palette {
  readonly enabled: boolean
  readonly bold: Style
  readonly dim: Style
  readonly red: Style
  readonly green: Style
  readonly yellow: Style
  readonly blue: Style
  readonly magenta: Style
  readonly cyan: Style
  readonly gray: Style
}

const sgr = (open: number, close: number): Style => (text) => `\x1b[${open}m${text}\x1b[${close}m`
const plain: Style = (text) => text

/** A palette with colours on (`true`) or off (`false`: every style is the identity). */
export const palette = (enabled: boolean): Palette => ({
  enabled,
  bold: enabled ? sgr(1, 22) : plain,
  dim: enabled ? sgr(2, 22) : plain,
  red: enabled ? sgr(31, 39) : plain,
  green: enabled ? sgr(32, 39) : plain,
  yellow: enabled ? sgr(33, 39) : plain,
  blue: enabled ? sgr(34, 39) : plain,
  magenta: enabled ? sgr(35, 39) : plain,
  cyan: enabled ? sgr(36, 39) : plain,
  gray: enabled ? sgr(90, 39) : plain
})

/** Whether to colour, from the environment and whether the stream is a terminal. */
export const shouldColor = (env: NodeJS.ProcessEnv, isTTY: boolean): boolean => {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false
  if (env.TERM === "dumb") return false
  const force = env.FORCE_COLOR
  if (force !== undefined && force !== "" && force !== "0" && force.toLowerCase() !== "false") return true
  return isTTY
}

/** The style of a task state: green success, red failure, yellow revoked, cyan running, gray queued. */
export const forState = (p: Palette, state: TaskState.TaskState): Style => {
  switch (state) {
    case "SUCCESS":
      return p.green
    case "FAILURE":
      return p.red
    case "REVOKED":
      return p.yellow
    case "RUNNING":
      return p.cyan
    case "QUEUED":
      return p.gray
  }
}

/** Colours for `tasks run` name prefixes, in the order commands get them (as `concurrently` does). */
export const cycle = (p: Palette): ReadonlyArray<Style> => [p.cyan, p.magenta, p.yellow, p.blue, p.green, p.red]

// oxlint-disable-next-line no-control-regex
const ansi = /\x1b\[[0-9;?]*[A-Za-z]/g

/** Removes ANSI escape sequences. */
export const strip = (text: string): string => text.replace(ansi, "")

/** Text on one line: a command of several lines (a paste) shows its line breaks as ` ↵ `. */
export const oneLine = (text: string): string => text.replace(/[ \t]*\r?\n[ \t]*/g, " ↵ ")

/** Columns the text takes on a terminal: escape sequences take none, wide characters and emoji two. */
export const width = (text: string): number => Width.width(strip(text))

/** Pads styled text with spaces to `columns` display columns, on the right (`"left"` aligned) or the left. */
export const pad = (text: string, columns: number, align: "left" | "right" = "left"): string => {
  const fill = " ".repeat(Math.max(0, columns - width(text)))
  return align === "right" ? fill + text : text + fill
}

/**
 * Cuts text to at most `max` columns, keeping escape sequences (so styles still close), never splitting a
 * character or a wide character's two columns, and marking the cut with `…`.
 */
export const truncate = (text: string, max: number): string => {
  if (width(text) <= max) return text
  if (max <= 0) return ""
  let out = ""
  let used = 0
  let full = false
  let i = 0
  while (i < text.length) {
    ansi.lastIndex = i
    const match = text.startsWith("\x1b[", i) ? ansi.exec(text) : null
    if (match !== null && match.index === i) {
      out += match[0]
      i += match[0].length
      continue
    }
    // The run of plain text up to the next escape sequence, cut into grapheme clusters.
    // (An escape that is not a whole sequence is taken as text, so the loop always moves on.)
    const next = text.indexOf("\x1b[", i + 1)
    const plainRun = text.slice(i, next < 0 ? text.length : next)
    for (const grapheme of Width.graphemes(plainRun)) {
      const columns = Width.graphemeWidth(grapheme)
      if (!full && used + columns <= max - 1) {
        out += grapheme
        used += columns
      } else {
        full = true
      }
    }
    i += plainRun.length
  }
  return `${out}…`
}

// oxlint-disable-next-line no-control-regex
const unsafe = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[^[]?|[\x00-\x08\x0b-\x1f\x7f]/g
// oxlint-disable-next-line no-control-regex
const sgrOnly = /^\x1b\[[0-9;]*m$/

/**
 * Makes a line of someone else's output safe to print above a live region: what follows the last
 * carriage return (what a terminal would show), colours kept, every other escape sequence and
 * control character dropped (they could move the cursor and tear the region).
 */
export const sanitize = (line: string): string =>
  line.slice(line.lastIndexOf("\r") + 1).replace(unsafe, (match) => sgrOnly.test(match) ? match : "")
