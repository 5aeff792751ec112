import { describe, expect, it } from "@effect/vitest"
import * as EffectDuration from "effect/Duration"
import * as Option from "effect/Option"
import * as Duration from "../src/duration.js"

const millis = (text: string) => Option.map(Duration.parse(text), EffectDuration.toMillis)

describe("duration", () => {
  it("parses a number with a unit, and parts that add up", () => {
    expect(millis("500ms")).toEqual(Option.some(500))
    expect(millis("5s")).toEqual(Option.some(5000))
    expect(millis("1.5s")).toEqual(Option.some(1500))
    expect(millis("2m")).toEqual(Option.some(120_000))
    expect(millis("1h")).toEqual(Option.some(3_600_000))
    expect(millis("1m30s")).toEqual(Option.some(90_000))
    expect(millis(" 0s ")).toEqual(Option.some(0))
  })

  it("rejects a bare number, unknown units, signs and garbage", () => {
    for (const bad of ["", "5", "5x", "s", "-1s", "1.s", "5 s", "1m30", "ms5", "5sec", "1e3ms"]) {
      expect(Duration.parse(bad), bad).toEqual(Option.none())
    }
  })

  it("says what a duration looks like, quoting the bad input", () => {
    expect(Duration.invalidMessage("5x")).toBe(`a duration with a unit, such as 500ms, 5s or 1m30s (got "5x")`)
  })

  it("formats milliseconds for tables", () => {
    expect(Duration.format(0)).toBe("0ms")
    expect(Duration.format(85.4)).toBe("85ms")
    expect(Duration.format(999)).toBe("999ms")
    expect(Duration.format(1000)).toBe("1.0s")
    expect(Duration.format(12_345)).toBe("12.3s")
    expect(Duration.format(59_999)).toBe("60.0s")
    expect(Duration.format(125_000)).toBe("2m05s")
    expect(Duration.format(3_720_000)).toBe("1h02m")
    expect(Duration.format(-5)).toBe("0ms")
  })
})
