import { describe, expect, it } from "@effect/vitest"
import * as Live from "../src/render/live.js"

const sink = (isTTY: boolean, columns = 80, rows = 24) => {
  const written: Array<string> = []
  return {
    written,
    sink: { write: (text: string) => void written.push(text), isTTY, columns: () => columns, rows: () => rows }
  }
}

describe("live region", () => {
  it("off a terminal: print is a plain line, the region is never drawn", () => {
    const { sink: s, written } = sink(false)
    const region = Live.make(s)
    expect(region.live).toBe(false)
    region.update(["table"])
    region.print("event")
    region.print("done\n")
    region.clear()
    expect(written.join("")).toBe("event\ndone\n")
  })

  it("on a terminal: redraws in place (back to the first row, erase down) and prints above", () => {
    const { sink: s, written } = sink(true)
    const region = Live.make(s)
    region.update(["a", "b", "c"])
    expect(written.at(-1)).toBe("a\nb\nc")
    region.update(["a", "B"])
    // Cursor is on the 3rd row: carriage return, up 2, erase to the end of the screen.
    expect(written.at(-1)).toBe("\r\x1b[2A\x1b[Ja\nB")
    region.print("log line")
    expect(written.at(-1)).toBe("\r\x1b[1A\x1b[Jlog line\na\nB")
    region.clear()
    expect(written.at(-1)).toBe("\r\x1b[1A\x1b[J")
    region.print("after")
    expect(written.at(-1)).toBe("after\n")
  })

  it("cuts lines to the width and the region to the height, and places the cursor `back` columns in", () => {
    const { sink: s, written } = sink(true, 11, 3)
    const region = Live.make(s)
    region.update(["1", "2", "3", "a long line here"], 2)
    expect(written.at(-1)).toBe("3\na long li…\x1b[2D")
  })
})
