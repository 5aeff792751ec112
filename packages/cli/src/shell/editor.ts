/**
 * The prompt's line editor, as a pure state machine over key presses: insert, delete, move (by
 * character, as the eye sees one, or by word), history. The shell feeds it the keys it does not handle
 * itself (Enter, Ctrl-C, Ctrl-D, Esc, Tab, Ctrl-R).
 *
 * @since 0.1.0
 */
import * as Width from "../render/width.js"

/** A key press: its name (`a`, `return`, `up`), the characters that made it, and its modifiers. */
export interface Key {
  readonly name?: string | undefined
  readonly sequence?: string | undefined
  readonly ctrl?: boolean | undefined
  readonly meta?: boolean | undefined
  readonly shift?: boolean | undefined
}

/** The editor: the text, the cursor (an index into the text), and the history of submitted lines. */
export interface Editor {
  readonly text: string
  readonly cursor: number
  readonly history: ReadonlyArray<string>
  /** Position while browsing the history (`history.length` when not browsing). */
  readonly browsing: number
  /** The line being typed before history browsing started. */
  readonly draft: string
}

/** An empty editor. */
export const empty: Editor = { text: "", cursor: 0, history: [], browsing: 0, draft: "" }

const set = (editor: Editor, text: string, cursor: number): Editor => ({
  ...editor,
  text,
  cursor: Math.max(0, Math.min(text.length, cursor))
})

/** Whether the key is text to insert (printable, not a control sequence). */
export const isPrintable = (key: Key): boolean => {
  const sequence = key.sequence ?? ""
  // oxlint-disable-next-line no-control-regex
  return key.ctrl !== true && key.meta !== true && sequence.length > 0 && !/[\x00-\x1f\x7f]/.test(sequence)
}

/** Where the character (grapheme cluster) before the cursor starts. */
const previous = (text: string, cursor: number): number =>
  cursor <= 0 ? 0 : cursor - (Width.graphemes(text.slice(0, cursor)).at(-1)?.length ?? 1)

/** Where the character (grapheme cluster) under the cursor ends. */
const next = (text: string, cursor: number): number =>
  cursor >= text.length ? text.length : cursor + (Width.graphemes(text.slice(cursor, cursor + 32))[0]?.length ?? 1)

/** The start of the word before the cursor (readline's backward-word: letters and digits make words). */
const wordStart = (text: string, cursor: number): number => {
  const before = text.slice(0, cursor)
  const match = /[\p{L}\p{N}_]+[^\p{L}\p{N}_]*$/u.exec(before)
  return match === null ? 0 : match.index
}

/** The end of the word after the cursor (readline's forward-word). */
const wordEnd = (text: string, cursor: number): number => {
  const match = /^[^\p{L}\p{N}_]*[\p{L}\p{N}_]+/u.exec(text.slice(cursor))
  return match === null ? text.length : cursor + match[0].length
}

/**
 * Pasted text as the line can hold it: line breaks kept (a pasted script runs as one command), a tab as a
 * space, escape sequences and other control characters dropped (they would move the cursor when shown and
 * mean nothing to `sh`), and the line breaks at its end dropped (a copied line usually ends with one).
 */
export const pasted = (text: string): string =>
  text
    .replace(/\r\n?/g, "\n")
    // oxlint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b./g, "")
    .replace(/\t/g, " ")
    // oxlint-disable-next-line no-control-regex
    .replace(/[\x00-\x09\x0b-\x1f\x7f]/g, "")
    .replace(/\n+$/, "")

/** Inserts text at the cursor (a paste, a completion). */
export const insert = (editor: Editor, insertion: string): Editor =>
  set(
    editor,
    editor.text.slice(0, editor.cursor) + insertion + editor.text.slice(editor.cursor),
    editor.cursor + insertion.length
  )

/** Replaces the whole line, cursor at its end (a history entry, a search result). */
export const replace = (editor: Editor, text: string): Editor => ({ ...editor, text, cursor: text.length })

/** Applies a key; keys it does not know leave the editor unchanged. */
export const apply = (editor: Editor, key: Key): Editor => {
  const { text, cursor } = editor
  if (isPrintable(key)) return insert(editor, key.sequence!)
  if (key.meta === true && key.ctrl !== true) {
    switch (key.name) {
      case "b":
      case "left":
        return set(editor, text, wordStart(text, cursor))
      case "f":
      case "right":
        return set(editor, text, wordEnd(text, cursor))
      case "d":
        return set(editor, text.slice(0, cursor) + text.slice(wordEnd(text, cursor)), cursor)
      case "backspace": {
        const start = wordStart(text, cursor)
        return set(editor, text.slice(0, start) + text.slice(cursor), start)
      }
      default:
        return editor
    }
  }
  if (key.ctrl === true) {
    switch (key.name) {
      case "a":
        return set(editor, text, 0)
      case "e":
        return set(editor, text, text.length)
      case "b":
        return set(editor, text, previous(text, cursor))
      case "f":
        return set(editor, text, next(text, cursor))
      case "left":
        return set(editor, text, wordStart(text, cursor))
      case "right":
        return set(editor, text, wordEnd(text, cursor))
      case "u":
        return set(editor, text.slice(cursor), 0)
      case "k":
        return set(editor, text.slice(0, cursor), cursor)
      case "h":
        return apply(editor, { name: "backspace" })
      case "w": {
        const before = text.slice(0, cursor).replace(/\S+\s*$/, "")
        return set(editor, before + text.slice(cursor), before.length)
      }
      default:
        return editor
    }
  }
  switch (key.name) {
    case "backspace": {
      const start = previous(text, cursor)
      return set(editor, text.slice(0, start) + text.slice(cursor), start)
    }
    case "delete":
      return set(editor, text.slice(0, cursor) + text.slice(next(text, cursor)), cursor)
    case "left":
      return set(editor, text, previous(text, cursor))
    case "right":
      return set(editor, text, next(text, cursor))
    case "home":
      return set(editor, text, 0)
    case "end":
      return set(editor, text, text.length)
    case "up": {
      if (editor.browsing === 0) return editor
      const browsing = editor.browsing - 1
      const draft = editor.browsing === editor.history.length ? text : editor.draft
      const line = editor.history[browsing]!
      return { ...editor, text: line, cursor: line.length, browsing, draft }
    }
    case "down": {
      if (editor.browsing >= editor.history.length) return editor
      const browsing = editor.browsing + 1
      const line = browsing === editor.history.length ? editor.draft : editor.history[browsing]!
      return { ...editor, text: line, cursor: line.length, browsing }
    }
    default:
      return editor
  }
}

/** How many lines the history keeps. */
export const historySize = 1000

/**
 * Whether a submitted line goes into the history: not a blank one, not the same as the last one, and (as
 * with bash's `HISTCONTROL=ignorespace`) not one that starts with a space, which is how to keep a line
 * holding a secret out of it.
 */
export const remembers = (history: ReadonlyArray<string>, line: string): boolean =>
  line.trim().length > 0 && !line.startsWith(" ") && history[history.length - 1] !== line

/** An empty editor whose history holds `lines` (oldest first). */
export const withHistory = (lines: ReadonlyArray<string>): Editor => {
  const history = lines.slice(-historySize)
  return { ...empty, history, browsing: history.length }
}

/** Takes the current line (for Enter): returns it and an empty editor that remembers it in the history. */
export const submit = (editor: Editor): readonly [string, Editor] => {
  const line = editor.text
  const history = remembers(editor.history, line) ? [...editor.history, line].slice(-historySize) : editor.history
  return [line, { text: "", cursor: 0, history, browsing: history.length, draft: "" }]
}

/** Empties the line (Ctrl-C) and stops browsing the history, which it keeps. */
export const clear = (editor: Editor): Editor => ({
  ...editor,
  text: "",
  cursor: 0,
  browsing: editor.history.length,
  draft: ""
})
