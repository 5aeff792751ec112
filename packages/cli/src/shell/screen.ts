/**
 * What the bottom of the shell's screen shows: a status line listing the running tasks (a REPL toolbar),
 * the prompt with the line being typed, and, depending on the mode, the revoke list, a search, a wait, a
 * followed task, or the live view of a shutdown. Pure: state in, lines out.
 *
 * @since 0.1.0
 */
import type { TaskId } from "@effect-tasks/core"
import * as Duration from "../duration.js"
import * as Color from "../render/color.js"
import * as Width from "../render/width.js"
import type * as Editor from "./editor.js"
import * as Search from "./search.js"

/** A task as the status line and the revoke list show it. */
export interface Running {
  readonly id: number
  readonly name: string
  /** When it started (epoch millis); undefined while QUEUED. */
  readonly startedAt?: number | undefined
  /** When a revoke landed, if one did: it is stopping. */
  readonly revokingAt?: number | undefined
  /** Whether that revoke is graceful (SIGTERM, then SIGKILL after the grace period). */
  readonly graceful?: boolean | undefined
}

/** What the shell is doing besides reading a line. */
export type Mode =
  | { readonly _tag: "Prompt" }
  /** The revoke list: `digits` typed so far of an id that more digits could still complete. */
  | { readonly _tag: "Picker"; readonly ids: ReadonlyArray<TaskId.TaskId>; readonly digits: string }
  | { readonly _tag: "Search"; readonly search: Search.Search }
  | { readonly _tag: "Waiting"; readonly ids: ReadonlyArray<TaskId.TaskId> }
  | { readonly _tag: "Following"; readonly id: TaskId.TaskId; readonly name: string }
  /** Leaving: the tasks still stopping, how long the grace period is, whether Ctrl-C already forced it. */
  | { readonly _tag: "Stopping"; readonly graceMillis: number; readonly forced: boolean }

/** Everything the bottom of the screen depends on. */
export interface Screen {
  readonly mode: Mode
  readonly editor: Editor.Editor
  /** Tasks QUEUED or RUNNING, ascending id. */
  readonly running: ReadonlyArray<Running>
  readonly finished: number
  /** Unfinished lines of tasks' output (a prompt without a newline), shown above the status line. */
  readonly partials?: ReadonlyArray<string> | undefined
}

/** The prompt. */
export const prompt = "tasks> "

/** Widest a task name gets in the status line (longer ones are cut with `…`). */
const toolbarName = 24

const age = (task: Running, now: number): string =>
  task.revokingAt !== undefined
    ? "stopping"
    : task.startedAt === undefined
    ? "queued"
    : Duration.formatCoarse(now - task.startedAt)

/**
 * The status line: the running tasks as `[3] build 12s · [5] server 1m`, then the keys; without the keys
 * when that is too wide, and as a count (`● 7 running`) when the tasks themselves do not fit in `width`.
 */
export const status = (screen: Screen, p: Color.Palette, now: number, width: number): string => {
  const finished = screen.finished > 0 ? ` · ${screen.finished} finished` : ""
  if (screen.running.length === 0) {
    return p.dim(`no tasks running${finished} · type a command, or help · Ctrl-D exits`)
  }
  const keys = " · Ctrl-C: stop tasks · Ctrl-D: exit"
  const tasks = screen.running
    .map((task) =>
      `${p.bold(`[${task.id}]`)} ${Color.truncate(Color.oneLine(task.name), toolbarName)} ${p.dim(age(task, now))}`
    )
    .join(p.dim(" · "))
  const room = width - 1
  for (
    const line of [`${p.cyan("●")} ${tasks}${p.dim(finished + keys)}`, `${p.cyan("●")} ${tasks}${p.dim(finished)}`]
  ) {
    if (Color.width(line) <= room) return line
  }
  return `${p.cyan(`● ${screen.running.length} running`)}${p.dim(finished + keys)}`
}

/** The revoke list: each running task by its id, and the digits typed so far. */
export const picker = (
  screen: Screen,
  ids: ReadonlyArray<number>,
  digits: string,
  p: Color.Palette,
  now: number
): Array<string> => {
  const entries = screen.running.filter((task) => ids.includes(task.id))
  const labels = entries.map((task) => `[${task.id}]`)
  const labelWidth = Math.max(0, ...labels.map(Color.width))
  const nameWidth = Math.max(0, ...entries.map((task) => Math.min(60, Color.width(Color.oneLine(task.name)))))
  return [
    p.bold("Revoke which task? Type its id · Ctrl-C again: all · any other key: back to the prompt"),
    ...entries.map((task, i) =>
      `  ${p.bold(Color.pad(labels[i]!, labelWidth))} ${
        Color.pad(Color.truncate(Color.oneLine(task.name), 60), nameWidth)
      }  ${p.dim(age(task, now))}`
    ),
    ...(digits.length > 0 ? [`  > [${digits}`] : [])
  ]
}

/** The live view of a shutdown: each task still stopping, and when it gets (or got) SIGKILL. */
export const stopping = (
  screen: Screen,
  mode: Extract<Mode, { _tag: "Stopping" }>,
  p: Color.Palette,
  now: number
): Array<string> => {
  const labels = screen.running.map((task) => `[${task.id}]`)
  const labelWidth = Math.max(0, ...labels.map(Color.width))
  const nameWidth = Math.max(0, ...screen.running.map((task) => Math.min(50, Color.width(Color.oneLine(task.name)))))
  const rows = screen.running.map((task, i) => {
    const since = task.revokingAt === undefined ? 0 : now - task.revokingAt
    const left = mode.graceMillis - since
    const when = task.graceful === false || mode.forced
      ? p.red("SIGKILL sent")
      : left > 0
      ? `SIGTERM sent ${Duration.format(since)} ago · ${p.yellow(`SIGKILL in ${Duration.format(left)}`)}`
      : p.red(`grace period over: SIGKILL sent ${Duration.format(-left)} ago`)
    return `  ${p.bold(Color.pad(labels[i]!, labelWidth))} ${
      Color.pad(Color.truncate(Color.oneLine(task.name), 50), nameWidth)
    }  ${when}`
  })
  const how = mode.forced ? "killing" : "stopping"
  const keys = mode.forced ? "" : " · Ctrl-C: kill them now (SIGKILL)"
  return [p.bold(`${how} ${screen.running.length} task(s)${keys}`), ...rows]
}

/** Columns of the text after a cursor (an index into `text`). */
const columnsAfter = (text: string, cursor: number): number => Color.width(text.slice(cursor))

/**
 * A line of `label` then `text`, cut to fit `width` around the cursor (an index into `text`); returns the
 * line and how many columns the cursor sits before its end. Newlines in the text show as `↵`.
 */
export const fitLine = (
  label: string,
  text: string,
  cursor: number,
  width: number
): readonly [string, number] => {
  const shown = text.replace(/\n/g, "↵")
  const room = Math.max(4, width - 1 - Color.width(label))
  if (Width.width(shown) <= room) return [label + shown, columnsAfter(shown, cursor)]
  const clusters = Width.graphemes(shown)
  const offsets: Array<number> = []
  let offset = 0
  for (const cluster of clusters) {
    offsets.push(offset)
    offset += cluster.length
  }
  // The cluster under the cursor (`clusters.length` when the cursor is after the last one).
  const found = offsets.findIndex((o) => o >= cursor)
  const at = found < 0 ? clusters.length : found
  const columns = clusters.map(Width.graphemeWidth)
  // Everything up to the cursor (and the character under it) fits: show the start, cut at the right.
  let used = 0
  let end = 0
  while (end < clusters.length && used + columns[end]! <= room) used += columns[end++]!
  if (end > at) {
    const visible = clusters.slice(0, end).join("")
    return [label + visible, Width.width(clusters.slice(at, end).join(""))]
  }
  // Otherwise a window after an ellipsis that ends with the character under the cursor, filled to the right.
  const window = room - 1
  let start = Math.min(at, clusters.length - 1)
  let last = Math.min(at + 1, clusters.length)
  used = columns.slice(start, last).reduce((sum, c) => sum + c, 0)
  while (start > 0 && used + columns[start - 1]! <= window) used += columns[--start]!
  while (last < clusters.length && used + columns[last]! <= window) used += columns[last++]!
  const visible = clusters.slice(start, last).join("")
  return [`${label}…${visible}`, Width.width(clusters.slice(at, last).join(""))]
}

/** The prompt line, cut from the left to fit `width`, and how far the cursor sits before its end. */
export const promptLine = (editor: Editor.Editor, p: Color.Palette, width: number): readonly [string, number] =>
  fitLine(p.bold(prompt), editor.text, editor.cursor, width)

/** The reverse search line: `(reverse-i-search)'query': match`, the cursor where the match begins. */
export const searchLine = (search: Search.Search, p: Color.Palette, width: number): readonly [string, number] => {
  const label = `${Search.failed(search) ? "(failed reverse-i-search)" : "(reverse-i-search)"}'${search.query}': `
  const text = Search.shown(search)
  const at = search.query.length === 0 ? text.length : Math.max(0, text.indexOf(search.query))
  return fitLine(p.bold(label), text, search.match === undefined ? text.length : at, width)
}

/** The region's lines and the cursor offset from the end of the last one. */
export const render = (
  screen: Screen,
  p: Color.Palette,
  now: number,
  width: number
): readonly [Array<string>, number] => {
  const [lines, back] = renderMode(screen, p, now, width)
  const partials = screen.partials ?? []
  return partials.length === 0 ? [lines, back] : [[...partials, ...lines], back]
}

const renderMode = (
  screen: Screen,
  p: Color.Palette,
  now: number,
  width: number
): readonly [Array<string>, number] => {
  const { mode } = screen
  switch (mode._tag) {
    case "Stopping":
      return [stopping(screen, mode, p, now), 0]
    case "Waiting": {
      const what = mode.ids.length === 1 ? `[${mode.ids[0]}]` : `${mode.ids.length} tasks`
      const line = p.yellow(`waiting for ${what} … (Ctrl-C stops waiting)`)
      return [[status(screen, p, now, width), line], 0]
    }
    case "Following": {
      const line = p.yellow(
        `following [${mode.id}] ${Color.oneLine(mode.name)} … (Ctrl-C: back to the prompt; the task keeps running)`
      )
      return [[status(screen, p, now, width), line], 0]
    }
    case "Search": {
      const [line, back] = searchLine(mode.search, p, width)
      return [[status(screen, p, now, width), line], back]
    }
    case "Picker": {
      const [line, back] = promptLine(screen.editor, p, width)
      return [[...picker(screen, mode.ids, mode.digits, p, now), status(screen, p, now, width), line], back]
    }
    case "Prompt": {
      const [line, back] = promptLine(screen.editor, p, width)
      return [[status(screen, p, now, width), line], back]
    }
  }
}

/** Names laid out in columns down then across, as `ls` does, to fit `width`; at most `limit` of them. */
export const columns = (names: ReadonlyArray<string>, width: number, limit = 200): Array<string> => {
  const shown = names.slice(0, limit)
  const cell = Math.max(1, ...shown.map(Color.width)) + 2
  const perRow = Math.max(1, Math.floor((width - 1) / cell))
  const rows = Math.ceil(shown.length / perRow)
  const lines: Array<string> = []
  for (let row = 0; row < rows; row++) {
    const cells: Array<string> = []
    for (let column = 0; column < perRow; column++) {
      const name = shown[column * rows + row]
      if (name !== undefined) cells.push(Color.pad(name, cell))
    }
    lines.push(cells.join("").trimEnd())
  }
  if (names.length > shown.length) lines.push(`… and ${names.length - shown.length} more`)
  return lines
}
