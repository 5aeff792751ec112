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
})
