/**
 * The terminal's input bytes (already decoded as UTF-8) turned into keys and pastes, as a pure state machine.
 *
 * Why not `readline.emitKeypressEvents`: it waits up to 500 ms after an Esc for more bytes and glues
 * whatever comes to it (Esc, then a fast `echo 2`, reads as Alt-e, "cho 2"), and it knows nothing of
 * bracketed paste, so a pasted `2` is a key press like any other. Here:
 *
 * - An Esc followed by more input in the same read is a sequence (an arrow key, Alt-x: terminals send
 *   those in one write). An Esc at the end of a read waits `escapeTimeout` for the rest of a sequence
 *   split between reads (`[` or `O` must come next); anything else, or nothing, makes it a plain Esc.
 * - Text between `ESC [200~` and `ESC [201~` (bracketed paste, which the shell turns on) is one `Paste`,
 *   never keys.
 *
 * @since 0.1.0
 */
import type { Key } from "./editor.js"

/** A decoded unit of terminal input. */
export type Input =
  | { readonly _tag: "Key"; readonly key: Key }
  | { readonly _tag: "Paste"; readonly text: string }

/** What the decoder holds between reads. */
export interface Decoder {
  /** The start of an escape sequence that has not ended yet. */
  readonly pending: string
  /** The text of a paste under way (between its start and end markers), if one is. */
  readonly paste: string | undefined
}

/** A decoder with nothing pending. */
export const empty: Decoder = { pending: "", paste: undefined }

/** How long an Esc at the end of a read waits for the rest of a sequence before it counts as the Esc key. */
export const escapeTimeout = 25

/** The result of a read: inputs, the new state, and whether a lone Esc waits for the timeout (`flush`). */
export interface Decoded {
  readonly inputs: ReadonlyArray<Input>
  readonly decoder: Decoder
  readonly waiting: boolean
}

const PASTE_START = "\x1b[200~"
const PASTE_END = "\x1b[201~"

const key = (k: Key): Input => ({ _tag: "Key", key: k })

const normalizePaste = (text: string): string => text.replace(/\r\n?/g, "\n")

/** The key of one character outside an escape sequence. */
const plainKey = (char: string, meta: boolean): Key => {
  const prefix = meta ? "\x1b" : ""
  const code = char.codePointAt(0)!
  switch (char) {
    case "\r":
      return { name: "return", sequence: prefix + char, meta }
    case "\n":
      return { name: "enter", sequence: prefix + char, meta }
    case "\t":
      return { name: "tab", sequence: prefix + char, meta }
    case "\x7f":
    case "\b":
      return { name: "backspace", sequence: prefix + char, meta }
    case "\x00":
      return { name: "space", ctrl: true, sequence: prefix + char, meta }
    case " ":
      return { name: "space", sequence: prefix + char, meta }
  }
  if (code >= 1 && code <= 26) {
    return { name: String.fromCharCode(code + 96), ctrl: true, sequence: prefix + char, meta }
  }
  if (code < 32) return { name: "unknown", ctrl: true, sequence: prefix + char, meta }
  const lower = char.toLowerCase()
  return { name: lower, sequence: prefix + char, meta, shift: lower !== char }
}

const tildeKeys: Record<string, string> = {
  "1": "home",
  "2": "insert",
  "3": "delete",
  "4": "end",
  "5": "pageup",
  "6": "pagedown",
  "7": "home",
  "8": "end"
}

const finalKeys: Record<string, string> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
  Z: "tab",
  P: "f1",
  Q: "f2",
  R: "f3",
  S: "f4"
}

/** The key of a complete CSI (`ESC [ params final`) or SS3 (`ESC O final`) sequence. */
const sequenceKey = (sequence: string, params: string, final: string): Key => {
  const [first = "", modifier = ""] = params.split(";")
  // xterm modifiers: 1 + (shift 1, alt 2, ctrl 4).
  const bits = Math.max(0, Number(modifier || "1") - 1)
  const mods = { shift: (bits & 1) !== 0, meta: (bits & 2) !== 0, ctrl: (bits & 4) !== 0 }
  const name = final === "~" ? tildeKeys[first] : finalKeys[final]
  if (name === undefined) return { name: "unknown", sequence }
  return { name, sequence, ...mods, ...(final === "Z" ? { shift: true } : {}) }
}

// CSI: parameter bytes 0x30-0x3f, intermediate bytes 0x20-0x2f, a final byte 0x40-0x7e.
// oxlint-disable-next-line no-control-regex
const csi = /^\x1b\[([0-?]*)[ -/]*([@-~])/
// oxlint-disable-next-line no-control-regex
const ss3 = /^\x1bO([@-~])/

/** Feeds one read of terminal input. */
export const feed = (decoder: Decoder, chunk: string): Decoded => {
  const inputs: Array<Input> = []
  let text = decoder.pending + chunk
  if (decoder.pending === "\x1b" && chunk.length > 0 && chunk[0] !== "[" && chunk[0] !== "O") {
    // An Esc that ended the last read, then other input: the Esc key, never glued to what follows.
    inputs.push(key({ name: "escape", sequence: "\x1b" }))
    text = chunk
  }
  let paste = decoder.paste
  let i = 0
  while (i < text.length) {
    if (paste !== undefined) {
      const end = text.indexOf(PASTE_END, i)
      if (end < 0) {
        // Keep a possible beginning of the end marker for the next read.
        let keep = 0
        for (let n = Math.min(PASTE_END.length - 1, text.length - i); n > 0; n--) {
          if (PASTE_END.startsWith(text.slice(text.length - n))) {
            keep = n
            break
          }
        }
        paste += text.slice(i, text.length - keep)
        return { inputs, decoder: { pending: text.slice(text.length - keep), paste }, waiting: false }
      }
      inputs.push({ _tag: "Paste", text: normalizePaste(paste + text.slice(i, end)) })
      paste = undefined
      i = end + PASTE_END.length
      continue
    }
    const char = String.fromCodePoint(text.codePointAt(i)!)
    if (char !== "\x1b") {
      inputs.push(key(plainKey(char, false)))
      i += char.length
      continue
    }
    const rest = text.slice(i)
    if (rest.length === 1) {
      // A lone Esc at the end of the read: the key itself, or the start of a sequence split between reads.
      return { inputs, decoder: { pending: rest, paste: undefined }, waiting: true }
    }
    const next = rest[1]!
    if (next === "[" || next === "O") {
      if (rest.startsWith(PASTE_START)) {
        paste = ""
        i += PASTE_START.length
        continue
      }
      const match = next === "[" ? csi.exec(rest) : ss3.exec(rest)
      if (match === null) {
        // oxlint-disable-next-line no-control-regex
        const incomplete = next === "[" ? /^\x1b\[[0-?]*[ -/]*$/.test(rest) : rest.length === 2
        if (incomplete) return { inputs, decoder: { pending: rest, paste: undefined }, waiting: true }
        // Not a sequence after all: Esc, then the characters as typed.
        inputs.push(key({ name: "escape", sequence: "\x1b" }))
        i += 1
        continue
      }
      const [sequence, params, final] = next === "[" ? [match[0], match[1]!, match[2]!] : [match[0], "", match[1]!]
      if (sequence !== PASTE_END) inputs.push(key(sequenceKey(sequence, params, final)))
      i += sequence.length
      continue
    }
    if (next === "\x1b") {
      inputs.push(key({ name: "escape", sequence: "\x1b" }))
      i += 1
      continue
    }
    // Esc and a character in one read: Alt (meta) and that character.
    const meta = String.fromCodePoint(rest.codePointAt(1)!)
    inputs.push(key(plainKey(meta, true)))
    i += 1 + meta.length
  }
  return { inputs, decoder: { pending: "", paste }, waiting: false }
}

/**
 * Ends what is pending once `escapeTimeout` has passed without more input: a lone Esc is the Esc key, and
 * an unfinished sequence is Esc followed by its characters as typed.
 */
export const flush = (decoder: Decoder): Decoded => {
  if (decoder.paste !== undefined || decoder.pending.length === 0) return { inputs: [], decoder, waiting: false }
  const typed = feed(empty, decoder.pending.slice(1))
  return {
    inputs: [key({ name: "escape", sequence: "\x1b" }), ...typed.inputs],
    decoder: typed.decoder,
    waiting: typed.waiting
  }
}

/**
 * The keys an Alt key stands for when read as Esc followed by a key (`ESC e` is Alt-e, or an Esc with an
 * `e` typed right after it): the Esc key, then that key. Other keys stand for themselves.
 */
export const unglue = (key: Key): ReadonlyArray<Key> => {
  const sequence = key.sequence ?? ""
  if (key.meta !== true || !sequence.startsWith("\x1b") || sequence.length < 2 || sequence[1] === "[") return [key]
  const rest = feed(empty, sequence.slice(1))
  return [
    { name: "escape", sequence: "\x1b" },
    ...rest.inputs.flatMap((input) => input._tag === "Key" ? [input.key] : [])
  ]
}
