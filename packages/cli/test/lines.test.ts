import { describe, expect, it } from "@effect/vitest"
import * as Lines from "../src/lines.js"

describe("lines", () => {
  it("keeps an unfinished line until its newline arrives", () => {
    const buffer = Lines.make()
    expect(Lines.push(buffer, "hel")).toEqual([])
    expect(Lines.push(buffer, "lo\nwor")).toEqual(["hello"])
    expect(Lines.push(buffer, "ld\n\nlast")).toEqual(["world", ""])
    expect(Lines.flush(buffer)).toEqual(["last"])
    expect(Lines.flush(buffer)).toEqual([])
  })

  it("drops the \\r of \\r\\n line ends, even split across chunks", () => {
    const buffer = Lines.make()
    expect(Lines.push(buffer, "a\r")).toEqual([])
    expect(Lines.push(buffer, "\nb\r\n")).toEqual(["a", "b"])
  })

  it("keeps one buffer per key and flushes by prefix", () => {
    const keyed = Lines.keyed()
    expect(keyed.push("1/out", "x")).toEqual([])
    expect(keyed.push("1/err", "y")).toEqual([])
    expect(keyed.push("2/out", "z")).toEqual([])
    expect(keyed.push("1/out", "1\n")).toEqual(["x1"])
    expect(keyed.flush("1/")).toEqual(["y"])
    expect(keyed.flush("2/")).toEqual(["z"])
    expect(keyed.flush("1/")).toEqual([])
  })

  it("pushPrefixed gives what push gives, prefixed, however the output is cut; $ in a prefix is literal", () => {
    const text = "one\ntwo\r\n10%\r50%\r100%\n\nlong line with \u00e9 and \u2713\nlast"
    for (const prefix of ["[0] ", "[$&] ", "[$1$$$'$`] "]) {
      for (let size = 1; size <= text.length; size++) {
        const plain = Lines.make()
        const prefixed = Lines.make()
        let expected = ""
        let actual = ""
        for (let at = 0; at < text.length; at += size) {
          const chunk = text.slice(at, at + size)
          expected += Lines.push(plain, chunk).map((line) => `${prefix}${line}\n`).join("")
          actual += Lines.pushPrefixed(prefixed, chunk, prefix)
        }
        expect(actual, `prefix ${prefix}, chunks of ${size}`).toBe(expected)
        expect(Lines.flush(prefixed)).toEqual(["last"])
      }
      const buffer = Lines.make()
      expect(Lines.pushPrefixed(buffer, "a\nb\nc\n", prefix)).toBe(`${prefix}a\n${prefix}b\n${prefix}c\n`)
    }
  })
})
