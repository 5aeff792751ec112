/**
 * The prompt's line editor, as a pure state machine over key presses: insert, delete, move,
 * history. The shell feeds it the keys it does not handle itself (Enter, Ctrl-C, Ctrl-D, Esc).
 *
 * @since 0.1.0
 */

/** A key press, in the shape `node:readline`'s `keypress` event gives. */
export interface Key {
  readonly name?: string | undefined
  readonly sequence?: string | undefined
  readonly ctrl?: boolean | undefined
  readonly meta?: boolean | undefined
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

/** Applies a key; keys it does not know leave the editor unchanged. */
export const apply = (editor: Editor, key: Key): Editor => {
  const { text, cursor } = editor
  if (isPrintable(key)) {
    const insert = key.sequence!
    return set(editor, text.slice(0, cursor) + insert + text.slice(cursor), cursor + insert.length)
  }
  if (key.ctrl === true) {
    switch (key.name) {
      case "a":
        return set(editor, text, 0)
      case "e":
        return set(editor, text, text.length)
      case "b":
        return set(editor, text, cursor - 1)
      case "f":
        return set(editor, text, cursor + 1)
      case "u":
        return set(editor, text.slice(cursor), 0)
      case "k":
        return set(editor, text.slice(0, cursor), cursor)
      case "h":
        return set(editor, text.slice(0, Math.max(0, cursor - 1)) + text.slice(cursor), cursor - 1)
      case "w": {
        const before = text.slice(0, cursor).replace(/\S+\s*$/, "")
        return set(editor, before + text.slice(cursor), before.length)
      }
      default:
        return editor
    }
  }
  switch (key.name) {
    case "backspace":
      return set(editor, text.slice(0, Math.max(0, cursor - 1)) + text.slice(cursor), cursor - 1)
    case "delete":
      return set(editor, text.slice(0, cursor) + text.slice(cursor + 1), cursor)
    case "left":
      return set(editor, text, cursor - 1)
    case "right":
      return set(editor, text, cursor + 1)
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

/** Takes the current line (for Enter): returns it and an empty editor that remembers it in the history. */
export const submit = (editor: Editor): readonly [string, Editor] => {
  const line = editor.text
  const keep = line.trim().length > 0 && editor.history[editor.history.length - 1] !== line
  const history = keep ? [...editor.history, line].slice(-500) : editor.history
  return [line, { text: "", cursor: 0, history, browsing: history.length, draft: "" }]
}
