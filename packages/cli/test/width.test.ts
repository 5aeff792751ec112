import { describe, expect, it } from "@effect/vitest"
import * as Color from "../src/render/color.js"
import * as Table from "../src/render/table.js"
import * as Width from "../src/render/width.js"

describe("display width", () => {
  it("counts columns as a terminal draws them", () => {
    expect(Width.width("hello")).toBe(5)
    expect(Width.width("日本語")).toBe(6)
    expect(Width.width("한국어")).toBe(6)
    expect(Width.width("ｆｕｌｌ")).toBe(8)
    expect(Width.width("👍")).toBe(2)
    // A skin tone, a ZWJ family, a flag and a text pictograph with VS16: one emoji, two columns each.
    expect(Width.width("👍🏽")).toBe(2)
    expect(Width.width("👩‍👩‍👧")).toBe(2)
    expect(Width.width("🇫🇷")).toBe(2)
    expect(Width.width("❤️")).toBe(2)
    // A text pictograph alone is narrow; combining accents take no column.
    expect(Width.width("❤")).toBe(1)
    expect(Width.width("e\u0301te\u0301")).toBe(3)
    expect(Width.width("a\u200bb")).toBe(2)
  })

  it("ignores colours, and cuts and pads by columns without splitting a wide character", () => {
    const on = Color.palette(true)
    expect(Color.width(on.red("日本"))).toBe(4)
    expect(Color.truncate("日本語です", 6)).toBe("日本…")
    expect(Color.width(Color.truncate("日本語です", 6))).toBe(5)
    expect(Color.truncate("👍👍👍", 4)).toBe("👍…")
    expect(Color.truncate(on.bold("日本語です"), 6)).toBe("\x1b[1m日本\x1b[22m…")
    expect(Color.pad("日本", 6)).toBe("日本  ")
    expect(Color.pad("👍", 4, "right")).toBe("  👍")
  })

  it("aligns table columns by display width, CJK and emoji included", () => {
    const lines = Table.render(
      [{ header: "NAME" }, { header: "STATE" }],
      [["ビルド", "RUNNING"], ["build 🚀", "SUCCESS"], ["tests", "FAILURE"]]
    )
    const stateColumn = lines.map((line) => Width.width(line.slice(0, line.search(/RUNNING|SUCCESS|FAILURE|STATE/))))
    expect(new Set(stateColumn).size).toBe(1)
  })
})
