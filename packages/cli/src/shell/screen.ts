/**
 * What the bottom of the shell's screen shows: the task list while picking one to revoke, a status
 * line (how many tasks run), and the prompt with the line being typed. Pure: state in, lines out.
 *
 * @since 0.1.0
 */
import * as Duration from "../duration.js"
import * as Color from "../render/color.js"
import type * as Editor from "./editor.js"

/** A task as the picker lists it. */
export interface PickerEntry {
  readonly id: number
  readonly name: string
  readonly startedAt?: number | undefined
}

/** What the shell is doing: reading a line, offering the task list, or waiting for a task. */
export type Mode =
  | { readonly _tag: "Prompt" }
  | { readonly _tag: "Picker"; readonly entries: ReadonlyArray<PickerEntry>; readonly digits: string }
  | { readonly _tag: "Waiting"; readonly id: number; readonly name: string }

/** Everything the bottom of the screen depends on. */
export interface Screen {
  readonly mode: Mode
  readonly editor: Editor.Editor
  readonly running: number
  readonly finished: number
}

/** The prompt. */
export const prompt = "tasks> "

/** The status line: how many tasks run and what the keys do. */
export const status = (screen: Screen, p: Color.Palette): string => {
  const finished = screen.finished > 0 ? ` · ${screen.finished} finished` : ""
  if (screen.running === 0) return p.dim(`no tasks running${finished} · type a command, or help · Ctrl-D exits`)
  const keys = "Ctrl-C: stop tasks · Ctrl-D: exit"
  return `${p.cyan(`● ${screen.running} running`)}${p.dim(`${finished} · ${keys}`)}`
}

/** The lines of the task picker. */
export const picker = (
  entries: ReadonlyArray<PickerEntry>,
  digits: string,
  p: Color.Palette,
  now: number
): Array<string> => {
  const how = entries.length > 9 ? "type a number and Enter" : "press a number"
  return [
    p.bold(`Running tasks: ${how} to revoke one, Ctrl-C again to revoke all, Esc to close`),
    ...entries.map((entry, i) => {
      const took = entry.startedAt === undefined ? "queued" : Duration.format(now - entry.startedAt)
      return `  ${p.bold(`${i + 1})`)} [${entry.id}] ${entry.name}  ${p.dim(took)}`
    }),
    ...(digits.length > 0 ? [`  > ${digits}`] : [])
  ]
}

/** The prompt line, cut from the left to fit `width`, and how far the cursor sits before its end. */
export const promptLine = (editor: Editor.Editor, p: Color.Palette, width: number): readonly [string, number] => {
  const room = Math.max(4, width - 1 - prompt.length)
  const { text, cursor } = editor
  if (text.length <= room) return [p.bold(prompt) + text, text.length - cursor]
  // After an ellipsis, a window of `room - 1` characters that holds the cursor (and the character under it).
  const window = room - 1
  const start = Math.max(0, Math.min(cursor - window + 1, text.length - window))
  if (start === 0) return [p.bold(prompt) + text.slice(0, room), room - cursor]
  const visible = text.slice(start, start + window)
  return [`${p.bold(prompt)}…${visible}`, start + visible.length - cursor]
}

/** The region's lines and the cursor offset from the end of the last one. */
export const render = (
  screen: Screen,
  p: Color.Palette,
  now: number,
  width: number
): readonly [Array<string>, number] => {
  const top = screen.mode._tag === "Picker" ? picker(screen.mode.entries, screen.mode.digits, p, now) : []
  if (screen.mode._tag === "Waiting") {
    const line = p.yellow(`waiting for [${screen.mode.id}] ${screen.mode.name} … (Ctrl-C stops waiting)`)
    return [[...top, status(screen, p), line], 0]
  }
  const [line, back] = promptLine(screen.editor, p, width)
  return [[...top, status(screen, p), line], back]
}
