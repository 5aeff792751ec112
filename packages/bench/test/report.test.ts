import { describe, expect, it } from "@effect/vitest"
import { stats } from "../src/harness.js"
import {
  type BenchResult,
  formatNumber,
  formatRatio,
  type Machine,
  mergeResults,
  ratioText,
  renderMarkdown,
  table,
  verdictOf
} from "../src/report.js"

const machine: Machine = {
  cpus: 2,
  cpuModel: "Test CPU",
  memoryGiB: 4,
  os: "Linux test",
  node: "v24.0.0",
  packages: { effect: "4.1.0" },
  commit: "abc1234"
}

const result = (id: string, verdict: "met" | "missed" | "n/a", value = 1): BenchResult => ({
  id,
  title: `bench ${id}`,
  about: `About ${id}.`,
  checks: [{ target: "within 1.5x", result: `${value}x`, verdict }],
  rows: [{ label: "subject", unit: "ms", samples: [value, value * 2], stats: stats([value, value * 2]) }],
  notes: [],
  seconds: 1.5,
  loadAverage: [0.5, 1.25],
  date: "2026-01-01T00:00:00.000Z",
  command: "pnpm bench"
})

describe("report", () => {
  it("formats numbers to about three significant digits", () => {
    expect(formatNumber(1234.4)).toBe("1234")
    expect(formatNumber(123.44)).toBe("123")
    expect(formatNumber(12.345)).toBe("12.3")
    expect(formatNumber(1.2345)).toBe("1.23")
    expect(formatNumber(0.012345)).toBe("0.012")
    expect(formatNumber(0)).toBe("0")
    expect(formatNumber(Number.NaN)).toBe("n/a")
    expect(formatRatio(1.234)).toBe("1.23x")
  })

  it("uses dprint's minimum column widths", () => {
    expect(table(["n", "x"], [["7", "y"]], ["right", "left"]).split("\n")).toEqual([
      "|  n | x |",
      "| -: | - |",
      "|  7 | y |"
    ])
  })

  it("lays tables out with padded columns, right-aligned numbers and escaped pipes", () => {
    const text = table(["Name", "Value"], [["a|b", "1"], ["long name", "12345"]], ["left", "right"])
    const lines = text.split("\n")
    expect(lines).toEqual([
      "| Name      | Value |",
      "| --------- | ----: |",
      "| a\\|b      |     1 |",
      "| long name | 12345 |"
    ])
  })

  it("describes a ratio with its per-round spread", () => {
    expect(ratioText(undefined)).toBe("")
    expect(ratioText({ against: "FiberSet", value: 1.5 })).toBe("1.50x FiberSet")
    expect(ratioText({ against: "FiberSet", value: 1.5, perRound: stats([1.25, 1.75]) })).toBe(
      "1.50x FiberSet (rounds 1.25-1.75x)"
    )
  })

  it("a benchmark missed if any check missed, n/a if any is n/a, else met", () => {
    expect(verdictOf({ checks: [{ target: "", result: "", verdict: "met" }] })).toBe("met")
    expect(
      verdictOf({ checks: [{ target: "", result: "", verdict: "met" }, { target: "", result: "", verdict: "n/a" }] })
    ).toBe("n/a")
    expect(
      verdictOf({ checks: [{ target: "", result: "", verdict: "n/a" }, { target: "", result: "", verdict: "missed" }] })
    ).toBe("missed")
  })

  it("merges a partial run into an earlier one by id, in numeric id order", () => {
    const merged = mergeResults([result("B1", "met"), result("B10", "met"), result("B5", "met", 1)], [
      result("B5", "missed", 2),
      result("B2", "met")
    ])
    expect(merged.map((r) => r.id)).toEqual(["B1", "B2", "B5", "B10"])
    expect(merged.find((r) => r.id === "B5")!.checks[0]!.verdict).toBe("missed")
  })

  it("renders the document: machine, a summary line per check, a section per benchmark", () => {
    const text = renderMarkdown({
      date: "2026-01-01T00:00:00.000Z",
      command: "pnpm bench",
      machine,
      benchmarks: [result("B1", "met", 1.2), result("B2", "missed", 3)]
    })
    expect(text).toContain("- CPU: 2 x Test CPU")
    expect(text).toContain("| B1 bench B1 | within 1.5x | 1.2x   | met     |")
    expect(text).toContain("| B2 bench B2 | within 1.5x | 3x     | MISSED  |")
    expect(text).toContain("## B2: bench B2")
    expect(text).toContain("`pnpm bench B2`")
    expect(text).toContain("load average 0.50 at the start and 1.25 at the end")
    expect(text.endsWith("\n")).toBe(true)
    // Every table line of a table has the same width (what dprint expects).
    const summary = text.slice(text.indexOf("| Benchmark"), text.indexOf("## B1"))
    const widths = new Set(summary.trim().split("\n").map((line) => line.length))
    expect(widths.size).toBe(1)
  })
})
