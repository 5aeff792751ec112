import { describe, expect, it } from "@effect/vitest"
import * as Decoder from "../src/shell/decoder.js"
import type { Key } from "../src/shell/editor.js"

/** Feeds reads one after the other; `null` stands for the escape timeout passing. */
const decode = (...reads: ReadonlyArray<string | null>) => {
  let decoder = Decoder.empty
  const inputs: Array<Decoder.Input> = []
  let waiting = false
  for (const read of reads) {
    const decoded = read === null ? Decoder.flush(decoder) : Decoder.feed(decoder, read)
    decoder = decoded.decoder
    waiting = decoded.waiting
    inputs.push(...decoded.inputs)
  }
  return { inputs, waiting, decoder }
}

const names = (inputs: ReadonlyArray<Decoder.Input>) =>
  inputs.map((input) => {
    if (input._tag === "Paste") return `paste:${JSON.stringify(input.text)}`
    const key: Key = input.key
    return `${key.ctrl === true ? "C-" : ""}${key.meta === true ? "M-" : ""}${
      key.shift === true ? "S-" : ""
    }${key.name}`
  })

describe("input decoder", () => {
  it("printable characters, multi-byte ones included, are one key each", () => {
    expect(names(decode("ls -l").inputs)).toEqual(["l", "s", "space", "-", "l"])
    const { inputs } = decode("é日👍")
    expect(inputs.map((input) => input._tag === "Key" ? input.key.sequence : "")).toEqual(["é", "日", "👍"])
    expect(names(decode("A").inputs)).toEqual(["S-a"])
  })

  it("control characters are named keys", () => {
    expect(names(decode("\x03\x04\x0c\x12\r\n\t\x7f\x08\x17").inputs)).toEqual([
      "C-c",
      "C-d",
      "C-l",
      "C-r",
      "return",
      "enter",
      "tab",
      "backspace",
      "backspace",
      "C-w"
    ])
  })

  it("CSI and SS3 sequences, with xterm modifiers", () => {
    expect(names(decode("\x1b[A\x1b[B\x1b[C\x1b[D\x1bOH\x1bOF\x1b[3~\x1b[1;5C\x1b[1;3D\x1b[Z").inputs)).toEqual([
      "up",
      "down",
      "right",
      "left",
      "home",
      "end",
      "delete",
      "C-right",
      "M-left",
      "S-tab"
    ])
  })

  it("an Esc alone waits for the timeout and is then the Esc key", () => {
    const pending = decode("\x1b")
    expect(pending.inputs).toEqual([])
    expect(pending.waiting).toBe(true)
    expect(names(decode("\x1b", null).inputs)).toEqual(["escape"])
  })

  it("an Esc that ended a read is never glued to the keys read after it", () => {
    // The trap of Node's parser: Esc, then a fast `echo 2`, read as Alt-e and "cho 2".
    expect(names(decode("\x1b", "echo 2").inputs)).toEqual(["escape", "e", "c", "h", "o", "space", "2"])
    expect(names(decode("\x1b", "2").inputs)).toEqual(["escape", "2"])
  })

  it("a sequence split between reads is put back together", () => {
    expect(names(decode("\x1b", "[A").inputs)).toEqual(["up"])
    expect(names(decode("\x1b[", "1;5", "C").inputs)).toEqual(["C-right"])
    // ...unless the timeout passed first: then it was typed.
    expect(names(decode("\x1b[", null).inputs)).toEqual(["escape", "["])
  })

  it("Esc and a character in the same read are Alt and that character; unglue splits them back", () => {
    const { inputs } = decode("\x1bb\x1be")
    expect(names(inputs)).toEqual(["M-b", "M-e"])
    const alt = inputs[1]!
    if (alt._tag !== "Key") throw new Error("not a key")
    expect(Decoder.unglue(alt.key).map((key) => key.name)).toEqual(["escape", "e"])
    expect(Decoder.unglue({ name: "up", sequence: "\x1b[A" }).map((key) => key.name)).toEqual(["up"])
  })

  it("a bracketed paste is one Paste, never keys, even across reads and with its markers split", () => {
    expect(names(decode("\x1b[200~2\x1b[201~").inputs)).toEqual([`paste:"2"`])
    expect(names(decode("a\x1b[200~echo 1\r", "echo 2\x1b[2", "01~b").inputs)).toEqual([
      "a",
      `paste:"echo 1\\necho 2"`,
      "b"
    ])
    // Escapes inside a paste are text, and the timeout does not end a paste.
    const inside = decode("\x1b[200~x\x1b[Ay", null, "\x1b[201~")
    expect(names(inside.inputs)).toEqual([`paste:"x\\u001b[Ay"`])
  })

  it("an unknown sequence is a key named unknown, not text", () => {
    expect(names(decode("\x1b[99q").inputs)).toEqual(["unknown"])
  })
})
