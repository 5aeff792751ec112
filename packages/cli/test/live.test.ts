import { describe, expect, it } from "@effect/vitest"
import * as Live from "../src/render/live.js"

const sink = (isTTY: boolean, columns = 80, rows = 24) => {
  const written: Array<string> = []
  const size = { columns }
  return {
    written,
    size,
    sink: { write: (text: string) => void written.push(text), isTTY, columns: () => size.columns, rows: () => rows }
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

  it("drawing the same lines again writes nothing", () => {
    const { sink: s, written } = sink(true)
    const region = Live.make(s)
    region.update(["status", "tasks> ls"], 1)
    const count = written.length
    region.update(["status", "tasks> ls"], 1)
    expect(written.length).toBe(count)
    region.update(["status", "tasks> ls"], 0)
    expect(written.length).toBe(count + 1)
  })

  it("after the terminal narrows, the erase counts the rows it re-wrapped the region onto", () => {
    const { sink: s, written, size } = sink(true, 80)
    const region = Live.make(s)
    region.update(["s".repeat(70), "p".repeat(30)])
    // At 30 columns a reflowing terminal holds the 70-column line on three rows; the 30-column prompt still
    // fits on one: up 3 rows (not 1) to reach the region's top, or a fragment of the old region stays.
    size.columns = 30
    region.update(["s".repeat(70), "p".repeat(30)])
    expect(written.at(-1)!.startsWith("\r\x1b[3A\x1b[J")).toBe(true)
    // Drawn again at the new width (cut to 29 columns): from now on one row a line.
    expect(written.at(-1)).toBe(`\r\x1b[3A\x1b[J${"s".repeat(28)}…\n${"p".repeat(28)}…`)
    region.print("out")
    expect(written.at(-1)!.startsWith("\r\x1b[1A\x1b[Jout\n")).toBe(true)
  })

  it("clears the screen and draws the region at the top", () => {
    const { sink: s, written } = sink(true)
    const region = Live.make(s)
    region.update(["a", "b"])
    region.clearScreen()
    expect(written.at(-1)).toBe("\x1b[H\x1b[2Ja\nb")
    region.clearScreen(true)
    expect(written.at(-1)).toBe("\x1b[H\x1b[2J\x1b[3Ja\nb")
  })
})
